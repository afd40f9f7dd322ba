/**
 * The worker role: one BullMQ Worker on `runs` and one on `batches`, with graceful shutdown.
 */
import { Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createBatchProcessor } from './batch-processor.js';
import type { AdmitBatch } from '../rotation/batch-admission.js';
import type { PlanRun, RotateBatch } from '../rotation/rotation-service.js';
import type { JobFailureOptions } from './job-failure.js';
import { BATCH_QUEUE, RUN_QUEUE } from './rotation-queues.js';
import type { RotationQueues } from './rotation-queues.js';
import { createRunProcessor } from './run-processor.js';

/** Options of {@link startRotationWorkers}. */
export interface RotationWorkersOptions extends JobFailureOptions {
  queues: RotationQueues;
  /**
   * A client built with `maxRetriesPerRequest: null` (BullMQ throws otherwise); BullMQ duplicates it
   * for its blocking connections. It stays owned by the caller.
   */
  connection: Redis;
  planRun: PlanRun;
  rotateBatch: RotateBatch;
  /** The worker-side check of every batch job against its run and target (src/rotation/batch-admission.ts). */
  admitBatch: AdmitBatch;
  logger: Logger;
  /** Batches processed at once by this process (config `limits.workerConcurrency`, `auto` resolved by src/config/worker-concurrency.ts). @defaultValue 8 */
  concurrency?: number;
  /** Runs planned at once by this process. @defaultValue 2 */
  runConcurrency?: number;
  /**
   * BullMQ job lock; a job whose worker died is handed to another after this (stalled-job recovery).
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /**
   * How often BullMQ looks for jobs whose worker died (their lock expired) and queues them again.
   * Recovery of a killed worker's batch takes about `lockDurationMs` + `stalledIntervalMs`.
   * @defaultValue 30000
   */
  stalledIntervalMs?: number;
  /**
   * How many times one job may be recovered from a dead worker before it fails for good (BullMQ's
   * guard against a job that crashes every worker). A batch is safe to resume any number of times;
   * the bound only stops a crash loop. @defaultValue 1 (BullMQ's)
   */
  maxStalledCount?: number;
}

export interface RotationWorkers {
  readonly runWorker: Worker;
  readonly batchWorker: Worker;
  /** Resolves when both workers are connected and listening. */
  waitUntilReady(): Promise<void>;
  /**
   * Stops taking jobs and lets in-flight ones finish within `graceMs`; then cancels them (the batch
   * processor hands each back to the queue without spending an attempt) and closes. A job that
   * does not even react to cancellation is left to BullMQ's stalled-job recovery.
   */
  close(graceMs: number): Promise<void>;
}

export function startRotationWorkers(options: RotationWorkersOptions): RotationWorkers {
  const { queues, connection, logger } = options;
  let shuttingDown = false;
  const common = {
    connection,
    prefix: queues.prefix,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 1,
  };
  const batchProcessor = createBatchProcessor({
    rotateBatch: options.rotateBatch,
    admitBatch: options.admitBatch,
    // The queue-level limit lives in Redis: every worker of the deployment holds back, not only ours.
    pauseQueue: (ms) => queues.batches.rateLimit(ms),
    rateLimitError: () => Worker.RateLimitError(),
    isShuttingDown: () => shuttingDown,
    logger,
    throttleFallbackMs: options.throttleFallbackMs,
    maxThrottleMs: options.maxThrottleMs,
  });
  const runProcessor = createRunProcessor({ queues, planRun: options.planRun, logger });

  const batchWorker = new Worker(
    BATCH_QUEUE,
    (job: Job, token?: string, signal?: AbortSignal) => batchProcessor(job, token, signal),
    { ...common, concurrency: options.concurrency ?? 8 },
  );
  const runWorker = new Worker(
    RUN_QUEUE,
    (job: Job, token?: string, signal?: AbortSignal) => runProcessor(job, token, signal),
    { ...common, concurrency: options.runConcurrency ?? 2 },
  );
  for (const [role, worker] of [
    ['runs', runWorker],
    ['batches', batchWorker],
  ] as const) {
    // An 'error' without a listener would crash the process; log it (no job data in it).
    worker.on('error', (error) => logger.error({ queue: role, err: { message: error.message } }, 'worker error'));
    worker.on('failed', (job, error) => {
      if (job) logger.warn({ queue: role, jobId: job.id, attemptsMade: job.attemptsMade, reason: error.message }, 'job failed');
    });
  }

  return {
    runWorker,
    batchWorker,
    async waitUntilReady() {
      await Promise.all([runWorker.waitUntilReady(), batchWorker.waitUntilReady()]);
    },
    async close(graceMs: number) {
      shuttingDown = true;
      const closing = Promise.all([runWorker.close(), batchWorker.close()]);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), graceMs);
      });
      const first = await Promise.race([closing.then(() => 'closed' as const), expired]);
      clearTimeout(timer);
      if (first === 'expired') {
        logger.warn({ graceMs }, 'shutdown: grace period over; handing in-flight batches back to the queue');
        runWorker.cancelAllJobs('shutdown');
        batchWorker.cancelAllJobs('shutdown');
        const handedBack = await Promise.race([
          closing.then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), Math.min(5000, graceMs));
          }),
        ]);
        clearTimeout(timer);
        if (!handedBack) {
          // Their locks expire and another worker takes them over (stalled-job recovery).
          logger.warn('shutdown: some jobs ignored cancellation; leaving them to stalled-job recovery');
          await Promise.all([runWorker.close(true), batchWorker.close(true)]);
        }
      }
    },
  };
}
