/**
 * The queue layer against real Redis, with stand-in use cases (planner and batch rotation are
 * passed in as functions; the real ones are exercised by the service e2e tests).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { compactBatchResult } from '../../src/queue/batch-processor.js';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import type { RotationQueuesOptions } from '../../src/queue/rotation-queues.js';
import { startRotationWorkers } from '../../src/queue/rotation-workers.js';
import type { RotationWorkers } from '../../src/queue/rotation-workers.js';
import type { BatchRequest as RotateBatchRequest, PlanRun, RotateBatch } from '../../src/rotation/rotation-service.js';
import type { RunSummary } from '../../src/queue/run-summary.js';
import type { BatchSummary } from '../../src/rotation/batch-input.js';
import { capturedLogger, deferred, deleteUnder, redisClient, runOutcomes, uniquePrefix } from './queue-helpers.js';

interface Harness {
  prefix: string;
  queues: RotationQueues;
  workers: RotationWorkers;
  runEvents: QueueEvents;
  batchEvents: QueueEvents;
  redis: Redis;
  logs(): string;
  runToEnd(runId: string): Promise<RunSummary>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rotated(batch: { runId: string; batchIndex: number; serverIds: string[] }): BatchSummary {
  return {
    runId: batch.runId,
    batchIndex: batch.batchIndex,
    outcomes: batch.serverIds.map((serverId) => ({ serverId, outcome: 'rotated-unverified' as const })),
    counts: { verified: 0, 'rotated-unverified': batch.serverIds.length, 'pending-restart': 0, failed: 0, unknown: 0, skipped: 0, busy: 0 },
  };
}

const fleet = (n: number): string[] => Array.from({ length: n }, (_, i) => `srv-${String(i).padStart(3, '0')}`);

async function harness(options: {
  planRun?: PlanRun;
  rotateBatch?: RotateBatch;
  queue?: Partial<RotationQueuesOptions>;
  concurrency?: number;
}): Promise<Harness> {
  const prefix = uniquePrefix('queue');
  const redis = redisClient();
  const { logger, text } = capturedLogger();
  const queues = new RotationQueues({
    connection: redis,
    prefix,
    keepCompleted: { count: 100, ageSeconds: 3600 },
    keepFailed: { count: 100, ageSeconds: 3600 },
    batchBackoffMs: 20,
    runBackoffMs: 20,
    ...options.queue,
  });
  const workers = startRotationWorkers({
    queues,
    connection: redis,
    logger,
    planRun: options.planRun ?? (async () => ({ serverIds: fleet(5), batchSize: 2 })),
    rotateBatch: options.rotateBatch ?? (async (b) => rotated(b)),
    // Queue mechanics only: the admission check has its own tests (batch-admission*.test.ts).
    admitBatch: async () => undefined,
    concurrency: options.concurrency ?? 2,
    throttleFallbackMs: 50,
  });
  const eventsConnection = redisClient();
  const runEvents = new QueueEvents('runs', { connection: eventsConnection, prefix });
  const batchEvents = new QueueEvents('batches', { connection: redisClient(), prefix });
  await Promise.all([workers.waitUntilReady(), runEvents.waitUntilReady(), batchEvents.waitUntilReady()]);
  cleanups.push(async () => {
    await workers.close(1000);
    await runEvents.close();
    await batchEvents.close();
    await queues.close();
    await deleteUnder(redis, prefix);
    redis.disconnect();
    eventsConnection.disconnect();
  });
  return {
    prefix,
    queues,
    workers,
    runEvents,
    batchEvents,
    redis,
    logs: text,
    async runToEnd(runId) {
      const job = await queues.runs.getJob(runId);
      if (!job) throw new Error(`no job ${runId}`);
      return (await job.waitUntilFinished(runEvents, 30_000)) as RunSummary;
    },
  };
}

describe('run jobs fan out batch jobs', () => {
  it('uses deterministic ids, one child per batch, and returns the aggregated summary', async () => {
    const h = await harness({});
    const { runId, created } = await h.queues.enqueueManualRun('web', { uuid: '0b7c6c1e-5d2f-4c43-9d2e-8b0f8f8a4d11' });
    expect(runId).toBe('run|web|manual-0b7c6c1e-5d2f-4c43-9d2e-8b0f8f8a4d11');
    expect(created).toBe(true);
    const summary = await h.runToEnd(runId);
    expect(summary.servers).toBe(5);
    expect(summary.batches).toBe(3);
    expect(summary.counts['rotated-unverified']).toBe(5);
    expect(summary.failedBatches).toEqual([]);
    expect(summary.outcomes).toEqual([]); // every server accepted: counted, none listed
    expect((await runOutcomes(h.queues, summary)).map((o) => o.serverId)).toEqual(fleet(5));
    const children = await h.queues.batches.getJobs(['completed']);
    expect(children.map((j) => j.id).sort()).toEqual([`${runId}|b0`, `${runId}|b1`, `${runId}|b2`]);
    const b2 = children.find((j) => j.id === `${runId}|b2`)!;
    expect(b2.data).toEqual({ runId, target: 'web', batchIndex: 2, serverIds: ['srv-004'], dryRun: false });
  });

  it('enqueues one job for one scheduled slot however often it is added', async () => {
    const h = await harness({});
    const results = await Promise.all([
      h.queues.enqueueScheduledRun('web', '20261127T1200Z'),
      h.queues.enqueueScheduledRun('web', '20261127T1200Z'),
      h.queues.enqueueScheduledRun('web', '20261127T1200Z'),
    ]);
    expect(new Set(results.map((r) => r.runId))).toEqual(new Set(['run|web|20261127T1200Z']));
    await h.runToEnd('run|web|20261127T1200Z');
    // Added again after completion: still the same (completed) job, not a second run.
    await h.queues.enqueueScheduledRun('web', '20261127T1200Z');
    expect(await h.queues.runs.getJobCounts('completed', 'waiting', 'active', 'waiting-children')).toEqual({
      completed: 1,
      waiting: 0,
      active: 0,
      'waiting-children': 0,
    });
  });

  it('passes an operator’s server ids to the planner and marks dry runs', async () => {
    let seen: unknown;
    const h = await harness({
      planRun: async (input) => {
        seen = input;
        return { serverIds: input.serverIds ?? [], batchSize: 10 };
      },
      rotateBatch: async (b) => {
        expect(b.dryRun).toBe(true);
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web', { serverIds: ['srv-a', 'srv-b', 'srv-a'], dryRun: true });
    const summary = await h.runToEnd(runId);
    expect(seen).toEqual({ target: 'web', runId, serverIds: ['srv-a', 'srv-b', 'srv-a'], dryRun: true });
    expect(summary.servers).toBe(2); // duplicates dropped
    expect(summary.dryRun).toBe(true);
  });

  it('asks the planner’s run preflight once per group of batches and hands each batch its share', async () => {
    const asked: string[][] = [];
    const received = new Map<number, RotateBatchRequest>();
    const ids = fleet(25);
    const h = await harness({
      planRun: async () => ({
        serverIds: ids,
        batchSize: 4,
        preflight: {
          batchesPerCall: 3, // 12 servers a call: 25 servers are 7 batches, in groups of 3, 3 and 1
          check: async (serverIds) => {
            asked.push([...serverIds]);
            if (asked.length === 2) return undefined; // a failed call: those batches ask on their own
            return { checkedAt: 1_700_000_000_000, requestId: `req-${asked.length}`, refused: new Map([['srv-005', { code: 'Ecs.0605', message: 'locked' }], ['srv-024', { code: 'Ecs.0613', message: 'no plug-in' }]]) };
          },
        },
      }),
      rotateBatch: async (b) => {
        received.set(b.batchIndex, b);
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web', {});
    const summary = await h.runToEnd(runId);
    expect(summary.batches).toBe(7);
    expect(asked).toEqual([ids.slice(0, 12), ids.slice(12, 24), ids.slice(24)]);
    // Batch 1 (srv-004..007) holds the refused srv-005, at position 1.
    expect(received.get(1)?.preflight).toEqual({ checkedAt: 1_700_000_000_000, requestId: 'req-1', refused: new Map([['srv-005', { code: 'Ecs.0605', message: 'locked' }]]) });
    expect(received.get(0)?.preflight).toEqual({ checkedAt: 1_700_000_000_000, requestId: 'req-1', refused: new Map() });
    for (const i of [3, 4, 5]) expect(received.get(i)?.preflight).toBeUndefined();
    expect(received.get(6)?.preflight?.refused).toEqual(new Map([['srv-024', { code: 'Ecs.0613', message: 'no plug-in' }]]));
    const b1 = await h.queues.batches.getJob(`${runId}|b1`);
    expect(b1?.data.preflight).toEqual({ at: 1_700_000_000_000, requestId: 'req-1', refused: [[1, 'Ecs.0605', 'locked']] });
  });

  // The listing pauses after its first batches until one of them has been rotated (or 5 s have
  // passed): only a fan-out that queues its first batches while the listing goes on lets them run.
  for (const withPreflight of [false, true]) {
    it(`queues the first batches while the listing still streams (${withPreflight ? 'with' : 'without'} a run preflight)`, async () => {
      const firstRotated = deferred<string>();
      let pauseEnded: string | undefined;
      const ids = fleet(300);
      const h = await harness({
        planRun: async () => ({
          serverIds: (async function* () {
            yield* ids.slice(0, 4); // batches 0 and 1
            await new Promise((resolve) => setTimeout(resolve, 20)); // the next page's latency: the preflight answers meanwhile
            yield ids[4]!;
            pauseEnded = await Promise.race([firstRotated.promise, new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 5_000))]);
            yield* ids.slice(5);
          })(),
          batchSize: 2,
          ...(withPreflight ? { preflight: { batchesPerCall: 2, check: async () => ({ checkedAt: Date.now(), requestId: 'req', refused: new Map() }) } } : {}),
        }),
        rotateBatch: async (b) => {
          firstRotated.resolve(`batch ${b.batchIndex}`);
          return rotated(b);
        },
      });
      const { runId } = await h.queues.enqueueManualRun('web', {});
      const summary = await h.runToEnd(runId);
      expect(pauseEnded).toBe('batch 0');
      expect(summary).toMatchObject({ servers: 300, batches: 150, failedBatches: [] });
      expect(summary.counts['rotated-unverified']).toBe(300);
      // Later batches still go in chunks (addChunk 100): the first 100 one group at a time, then the rest together.
      const b149 = await h.queues.batches.getJob(`${runId}|b149`);
      expect(b149?.data.serverIds).toEqual(ids.slice(298));
    });
  }

  it('completes a run with no servers without adding batches', async () => {
    const h = await harness({ planRun: async () => ({ serverIds: [], batchSize: 10 }) });
    const { runId } = await h.queues.enqueueManualRun('web');
    const summary = await h.runToEnd(runId);
    expect(summary).toMatchObject({ servers: 0, batches: 0, failedBatches: [] });
    expect(await h.queues.batches.count()).toBe(0);
  });
});

describe('payload validation', () => {
  it('fails a run job with a bad payload once, naming every bad field', async () => {
    const h = await harness({});
    const raw = new Queue('runs', { connection: h.redis, prefix: h.prefix });
    cleanups.push(() => raw.close());
    const job = await raw.add(
      'run',
      { target: 'Web!', trigger: 'cron', serverIds: [42], dryRun: 'yes' },
      { jobId: 'run|bad|manual-1234abcd', attempts: 3 },
    );
    await expect(job.waitUntilFinished(h.runEvents, 30_000)).rejects.toThrow(/invalid run job payload/);
    const failed = (await h.queues.runs.getJob('run|bad|manual-1234abcd'))!;
    expect(failed.attemptsMade).toBe(1); // UnrecoverableError: no retry of a payload that cannot improve
    for (const field of ['target', 'trigger', 'serverIds.0', 'dryRun']) expect(failed.failedReason).toContain(`${field}:`);
  });

  it('fails a batch job with a bad payload once, naming the field', async () => {
    const h = await harness({});
    const raw = new Queue('batches', { connection: h.redis, prefix: h.prefix });
    cleanups.push(() => raw.close());
    const job = await raw.add(
      'batch',
      { runId: 'run|web|manual-1234abcd', target: 'web', batchIndex: 0, serverIds: [], dryRun: false },
      { jobId: 'x|b0', attempts: 3 },
    );
    await expect(job.waitUntilFinished(h.batchEvents, 30_000)).rejects.toThrow(/serverIds: /);
    expect((await h.queues.batches.getJob('x|b0'))!.attemptsMade).toBe(1);
  });

  it('refuses to enqueue an invalid run payload', async () => {
    const h = await harness({});
    await expect(h.queues.enqueueManualRun('web', { serverIds: [] })).rejects.toThrow(/serverIds/);
    await expect(h.queues.enqueueManualRun('Bad Name')).rejects.toThrow(/target name/);
  });
});

describe('failures and retries', () => {
  it('pauses the batch queue on throttling without spending an attempt', async () => {
    let calls = 0;
    const h = await harness({
      queue: { batchAttempts: 1 }, // a spent attempt would fail the batch for good
      planRun: async () => ({ serverIds: fleet(1), batchSize: 1 }),
      rotateBatch: async (b) => {
        calls += 1;
        if (calls <= 2) {
          throw new RotatorError({ code: 'APIGW.0308', message: 'throttled', retryable: true, retryAfterMs: 100, httpStatus: 429 });
        }
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    const summary = await h.runToEnd(runId);
    expect(calls).toBe(3);
    expect(summary.counts['rotated-unverified']).toBe(1);
    const batch = (await h.queues.batches.getJob(`${runId}|b0`))!;
    // BullMQ counts the successful attempt too: 1 means neither throttled try spent one.
    expect(batch.attemptsMade).toBe(1);
    expect(h.logs()).toContain('pausing the batch queue');
  });

  it('fails a batch for good on a non-retryable error; the run still completes and reports it', async () => {
    let calls = 0;
    const h = await harness({
      queue: { batchAttempts: 5 },
      planRun: async () => ({ serverIds: fleet(3), batchSize: 2 }),
      rotateBatch: async (b) => {
        if (b.batchIndex === 1) {
          calls += 1;
          throw new RotatorError({ code: 'APIGW.0301', message: 'signature rejected', retryable: false, httpStatus: 401 });
        }
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    const summary = await h.runToEnd(runId);
    expect(calls).toBe(1);
    expect(summary.counts['rotated-unverified']).toBe(2);
    expect(summary.servers).toBe(3);
    expect(summary.failedBatches).toEqual([{ batchIndex: 1, reason: 'APIGW.0301: signature rejected', servers: 1 }]);
  });

  it('retries a transient failure with backoff, spending attempts', async () => {
    let calls = 0;
    const h = await harness({
      queue: { batchAttempts: 3 },
      planRun: async () => ({ serverIds: fleet(1), batchSize: 1 }),
      rotateBatch: async (b) => {
        calls += 1;
        if (calls < 3) throw new RotatorError({ code: 'VAULT_UNAVAILABLE', message: 'vault timeout', retryable: true });
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    await h.runToEnd(runId);
    // Two failed attempts and the successful one.
    expect((await h.queues.batches.getJob(`${runId}|b0`))!.attemptsMade).toBe(3);
  });

  it('gives up after the configured attempts', async () => {
    const h = await harness({
      queue: { batchAttempts: 2 },
      planRun: async () => ({ serverIds: fleet(1), batchSize: 1 }),
      rotateBatch: async () => {
        throw new RotatorError({ code: 'VAULT_UNAVAILABLE', message: 'vault timeout', retryable: true });
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    const summary = await h.runToEnd(runId);
    expect(summary.failedBatches).toHaveLength(1);
    expect(summary.counts['rotated-unverified']).toBe(0);
    expect((await h.queues.batches.getJob(`${runId}|b0`))!.attemptsMade).toBe(2);
  });

  it('fails the run for good when planning hits a non-retryable error', async () => {
    let calls = 0;
    const h = await harness({
      planRun: async () => {
        calls += 1;
        throw new RotatorError({ code: 'UNKNOWN_TARGET', message: 'target "web" is not configured', retryable: false });
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    await expect(h.runToEnd(runId)).rejects.toThrow(/UNKNOWN_TARGET/);
    expect(calls).toBe(1);
  });
});

describe('retention', () => {
  it('keeps at most keepCompletedJobs.count finished runs and batches', async () => {
    const h = await harness({ queue: { keepCompleted: { count: 2, ageSeconds: 3600 } } });
    for (let i = 0; i < 4; i++) {
      const { runId } = await h.queues.enqueueManualRun('web');
      await h.runToEnd(runId);
    }
    expect(await h.queues.runs.getCompletedCount()).toBe(2);
    expect(await h.queues.batches.getCompletedCount()).toBe(2);
    const job = (await h.queues.runs.getJobs(['completed']))[0]!;
    expect(job.opts.removeOnComplete).toEqual({ count: 2, age: 3600 });
    expect(job.opts.removeOnFail).toEqual({ count: 100, age: 3600 });
  });

  it('keeps at most keepFailedJobs.count failed jobs', async () => {
    const h = await harness({
      queue: { keepFailed: { count: 1, ageSeconds: 3600 } },
      planRun: async () => {
        throw new RotatorError({ code: 'UNKNOWN_TARGET', message: 'no such target', retryable: false });
      },
    });
    for (let i = 0; i < 3; i++) {
      const { runId } = await h.queues.enqueueManualRun('web');
      await expect(h.runToEnd(runId)).rejects.toThrow();
    }
    expect(await h.queues.runs.getFailedCount()).toBe(1);
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight batch finish within the grace period', async () => {
    const started = deferred();
    const gate = deferred();
    const h = await harness({
      planRun: async () => ({ serverIds: fleet(1), batchSize: 1 }),
      rotateBatch: async (b) => {
        started.resolve();
        await gate.promise;
        return rotated(b);
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    await started.promise;
    const closing = h.workers.close(30_000);
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false); // close waits for the batch
    gate.resolve();
    await closing;
    const batch = (await h.queues.batches.getJob(`${runId}|b0`))!;
    expect(await batch.getState()).toBe('completed');
    expect(batch.returnvalue).toEqual(compactBatchResult(rotated(batch.data), batch.data.serverIds));
  });

  it('hands a batch that outlives the grace period back to the queue without spending an attempt', async () => {
    const started = deferred();
    const h = await harness({
      planRun: async () => ({ serverIds: fleet(1), batchSize: 1 }),
      rotateBatch: (_b, { signal }) => {
        started.resolve();
        // A use case that honours cancellation (runBatch stops at a safe point).
        return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      },
    });
    const { runId } = await h.queues.enqueueManualRun('web');
    await started.promise;
    await h.workers.close(50);
    const batch = (await h.queues.batches.getJob(`${runId}|b0`))!;
    expect(await batch.getState()).toBe('waiting');
    expect(batch.attemptsMade).toBe(0);
    expect(h.logs()).toContain('handed back to the queue at shutdown');
  });
});
