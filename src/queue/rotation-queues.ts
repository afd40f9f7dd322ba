/**
 * The two BullMQ queues of a deployment, under the configured key prefix (`<prefix>:runs:*`,
 * `<prefix>:batches:*`):
 * - `runs`: one job per run of a target. Its processor resolves the servers and adds one child job
 *   per batch to `batches`, then waits for its children; its return value is the run's summary.
 * - `batches`: one job per batch, each retried on its own and visible on the dashboard.
 * Two queues rather than one so that a throttling pause (`rateLimit`, per queue) holds back only
 * the calls to Huawei, not the planning of other runs.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { batchJobId, manualRunId, scheduledRunId } from '../domain/job-ids.js';
import { RunJobPayloadSchema, describeIssues } from './job-schemas.js';
import type { BatchJobData, RunJobPayload } from './job-schemas.js';
import type { RunSummary } from './run-summary.js';

export const RUN_QUEUE = 'runs';
export const BATCH_QUEUE = 'batches';
export const RUN_JOB_NAME = 'run';
export const BATCH_JOB_NAME = 'batch';

/** How many finished jobs Redis keeps (config `limits.keepCompletedJobs` / `keepFailedJobs`). */
export interface JobRetention {
  count: number;
  ageSeconds: number;
}

/** Options of {@link RotationQueues}. */
export interface RotationQueuesOptions {
  /** A client for commands (not blocking); it stays owned by the caller, who closes it. */
  connection: Redis;
  /** BullMQ key prefix (config `redis.keyPrefix`). */
  prefix: string;
  keepCompleted: JobRetention;
  keepFailed: JobRetention;
  /**
   * Attempts of a batch job. Each attempt lets the ECS client retry a transient failure up to its
   * own `maxAttempts` (config `accounts[].maxAttempts`, default 5) with the same password, so one
   * batch sends at most `batchAttempts × maxAttempts` reset calls (3 × 5 = 15 by default): bounded,
   * and each retry re-sends the password already stored as AWSPENDING, never a new one.
   * Throttling pauses do not count (they return the job without spending an attempt).
   * @defaultValue 3
   */
  batchAttempts?: number;
  /** First backoff of a failed batch attempt; doubles each time, with jitter. @defaultValue 10000 */
  batchBackoffMs?: number;
  /** Attempts of a run job (planning: listing servers, adding batches). @defaultValue 3 */
  runAttempts?: number;
  /** First backoff of a failed run attempt. @defaultValue 10000 */
  runBackoffMs?: number;
  /**
   * Called with each connection error of either queue (e.g. while Redis is down). Without it, BullMQ
   * finds no 'error' listener and prints the raw error with `console.error`, past the service's
   * logger and its redaction. @defaultValue none (BullMQ's console output)
   */
  onError?: (queue: typeof RUN_QUEUE | typeof BATCH_QUEUE, error: Error) => void;
}

export interface EnqueuedRun {
  runId: string;
  /** False when a job with this id already existed (another scheduler replica was first). */
  created: boolean;
}

export class RotationQueues {
  readonly runs: Queue<RunJobPayload, RunSummary>;
  readonly batches: Queue<BatchJobData>;
  readonly prefix: string;
  private readonly options: RotationQueuesOptions;

  constructor(options: RotationQueuesOptions) {
    this.options = options;
    this.prefix = options.prefix;
    this.runs = new Queue<RunJobPayload, RunSummary>(RUN_QUEUE, {
      connection: options.connection,
      prefix: options.prefix,
    });
    this.batches = new Queue<BatchJobData>(BATCH_QUEUE, { connection: options.connection, prefix: options.prefix });
    const onError = options.onError;
    if (onError) {
      this.runs.on('error', (error) => onError(RUN_QUEUE, error));
      this.batches.on('error', (error) => onError(BATCH_QUEUE, error));
    }
  }

  /** Job options of a run job (retention from config, attempts, exponential backoff). */
  runJobOptions(runId: string): JobsOptions {
    return {
      jobId: runId,
      attempts: this.options.runAttempts ?? 3,
      backoff: { type: 'exponential', delay: this.options.runBackoffMs ?? 10_000, jitter: 0.5 },
      removeOnComplete: { count: this.options.keepCompleted.count, age: this.options.keepCompleted.ageSeconds },
      removeOnFail: { count: this.options.keepFailed.count, age: this.options.keepFailed.ageSeconds },
    };
  }

  /** Job options of batch `batchIndex` of the run job `parentId`. */
  batchJobOptions(parentId: string, batchIndex: number): JobsOptions {
    return {
      jobId: batchJobId(parentId, batchIndex),
      parent: { id: parentId, queue: this.runs.qualifiedName },
      // A batch that fails for good must not leave its run waiting for ever: the run completes
      // and reports it in `failedBatches` (getIgnoredChildrenFailures).
      ignoreDependencyOnFailure: true,
      attempts: this.options.batchAttempts ?? 3,
      backoff: { type: 'exponential', delay: this.options.batchBackoffMs ?? 10_000, jitter: 0.5 },
      removeOnComplete: { count: this.options.keepCompleted.count, age: this.options.keepCompleted.ageSeconds },
      removeOnFail: { count: this.options.keepFailed.count, age: this.options.keepFailed.ageSeconds },
    };
  }

  /**
   * Adds a run job with a deterministic id. BullMQ ignores an id that still exists, so concurrent
   * callers with the same id add one job between them.
   */
  async enqueueRun(runId: string, payload: RunJobPayload): Promise<EnqueuedRun> {
    const parsed = RunJobPayloadSchema.safeParse(payload);
    if (!parsed.success) throw new Error(`run payload: ${describeIssues(parsed.error)}`);
    // `created` is informative only (logs, CLI); the id is what guarantees one job.
    const existed = (await this.runs.getJob(runId)) !== undefined;
    await this.runs.add(RUN_JOB_NAME, parsed.data, this.runJobOptions(runId));
    return { runId, created: !existed };
  }

  /** Enqueues the run of `target` for schedule slot `slot` (`run|<target>|<slot>`). */
  async enqueueScheduledRun(target: string, slot: string): Promise<EnqueuedRun> {
    return this.enqueueRun(scheduledRunId(target, slot), { target, trigger: 'schedule', slot, dryRun: false });
  }

  /** Enqueues an operator's run (`run|<target>|manual-<uuid>`). */
  async enqueueManualRun(
    target: string,
    options: {
      serverIds?: string[] | undefined;
      dryRun?: boolean;
      uuid?: string;
      /** Overrides the target's restart policy for this run only. */
      restartPolicy?: 'none' | 'soft' | 'hard' | undefined;
    } = {},
  ): Promise<EnqueuedRun> {
    const runId = manualRunId(target, options.uuid ?? randomUUID());
    const payload: RunJobPayload = { target, trigger: 'manual', dryRun: options.dryRun ?? false };
    if (options.serverIds !== undefined) payload.serverIds = options.serverIds;
    if (options.restartPolicy !== undefined) payload.restartPolicy = options.restartPolicy;
    return this.enqueueRun(runId, payload);
  }

  async close(): Promise<void> {
    await Promise.all([this.runs.close(), this.batches.close()]);
  }
}
