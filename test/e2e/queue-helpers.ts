/**
 * Shared by the queue/scheduler/service e2e tests: a unique key prefix per test on the real Redis
 * (REDIS_URL or 127.0.0.1:6379), removed afterwards, and a logger whose output is captured.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../../src/ports/clock.js';
import { batchJobId } from '../../src/domain/job-ids.js';
import type { ServerOutcome } from '../../src/domain/outcome.js';
import type { RotationQueues } from '../../src/queue/rotation-queues.js';
import { outcomesOfBatch, type BatchResult, type RunSummary } from '../../src/queue/run-summary.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

/** A BullMQ-ready client (maxRetriesPerRequest: null). */
export function redisClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

// Key scans, clean-up and the leak-scan dump are the shared ones (prefixes here are unique per test).
export { deleteUnder, dumpUnder } from '../helpers/redis.js';

export interface CapturedLogger {
  logger: Logger;
  text(): string;
}

export function capturedLogger(level: pino.Level = 'debug'): CapturedLogger {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: pino({ level }, stream), text: () => chunks.join('') };
}

/** A clock at a fixed instant (scheduler catch-up reads `now` once). */
export function fixedClock(nowMs: number): Clock {
  return {
    now: () => nowMs,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          reject(signal.reason);
        });
      }),
  };
}

/** A promise with its resolver, for gating stand-in use cases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(e: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Every server's outcome in a run, from its batch jobs' return values (problems one by one, accepted
 * servers by position in the job's `serverIds`): the run's summary lists only the problems.
 */
export async function runOutcomes(queues: RotationQueues, summary: Pick<RunSummary, 'runId' | 'batches'>): Promise<ServerOutcome[]> {
  const out: ServerOutcome[] = [];
  for (let i = 0; i < summary.batches; i++) {
    const job = await queues.batches.getJob(batchJobId(summary.runId, i));
    if (!job) throw new Error(`batch ${i} of ${summary.runId} is gone (retention?)`);
    if (job.returnvalue) out.push(...outcomesOfBatch(job.returnvalue as BatchResult, job.data.serverIds));
  }
  return out;
}
