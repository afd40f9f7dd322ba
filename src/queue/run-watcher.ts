/**
 * Follows one run to its end from outside the workers (`rotator rotate --wait`, the demo): progress
 * from the run's and its batches' events, and the run's summary when it completes. Subscribe
 * BEFORE enqueueing, so that no event is missed.
 */
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { BatchResultSchema } from './job-schemas.js';
import { BATCH_QUEUE, RUN_QUEUE } from './rotation-queues.js';
import type { RotationQueues } from './rotation-queues.js';
import type { RunProgress } from './run-processor.js';
import { serversOfBatch, type RunSummary } from './run-summary.js';

export interface RunWatcherOptions {
  queues: RotationQueues;
  /** A factory of blocking connections (`maxRetriesPerRequest: null`); one per queue followed is opened and closed here. */
  connect(): Redis;
  /**
   * Called with servers done so far and the total (undefined until the run has fanned out). Without
   * it the batches' events are not followed at all (one connection instead of two).
   */
  onProgress?(done: number, total: number | undefined): void;
}

export interface RunWatcher {
  /** Resolves with the run's summary; rejects with the run's failure reason. */
  wait(runId: string, timeoutMs?: number): Promise<RunSummary>;
  close(): Promise<void>;
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export async function startRunWatcher(options: RunWatcherOptions): Promise<RunWatcher> {
  const { queues } = options;
  // The batches' events are read only for progress: every batch's completion carries its result
  // (about 60 bytes per server), which this process would read from Redis and parse for nothing
  // (in the bench's 20k run, CPU taken from the service on a 2-core host).
  const connections = options.onProgress === undefined ? [options.connect()] : [options.connect(), options.connect()];
  const runEvents = new QueueEvents(RUN_QUEUE, { connection: connections[0]!, prefix: queues.prefix });
  const batchEvents = connections[1] === undefined ? undefined : new QueueEvents(BATCH_QUEUE, { connection: connections[1], prefix: queues.prefix });
  await Promise.all([runEvents.waitUntilReady(), batchEvents?.waitUntilReady()]);
  let watched: string | undefined;
  let total: number | undefined;
  let done = 0;
  const counted = new Set<string>();
  const report = (): void => options.onProgress?.(done, total);

  runEvents.on('progress', ({ jobId, data }) => {
    if (jobId !== watched) return;
    const progress = parseMaybeJson(data) as RunProgress | undefined;
    if (progress?.phase === 'rotating' && typeof progress.servers === 'number') {
      total = progress.servers;
      report();
    }
  });
  batchEvents?.on('completed', ({ jobId, returnvalue }) => {
    if (watched === undefined || !jobId.startsWith(`${watched}|b`) || counted.has(jobId)) return;
    counted.add(jobId);
    const parsed = BatchResultSchema.safeParse(parseMaybeJson(returnvalue));
    if (parsed.success) {
      done += serversOfBatch(parsed.data);
      report();
    }
  });

  return {
    async wait(runId, timeoutMs) {
      watched = runId;
      const job = await queues.runs.getJob(runId);
      if (!job) throw new Error(`run ${runId}: no such job (removed by retention, or never enqueued)`);
      return (await job.waitUntilFinished(runEvents, timeoutMs)) as RunSummary;
    },
    async close() {
      await Promise.all([runEvents.close(), batchEvents?.close()]);
      for (const c of connections) c.disconnect();
    },
  };
}
