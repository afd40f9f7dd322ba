/**
 * A run's fan-out cut short (the listing failed, or the worker stopped mid-listing) after it had
 * queued a batch that then failed for good: the retried fan-out must leave that batch alone. Added
 * again, BullMQ made the failed batch a pending child once more while it also stayed in the run's
 * ignored failures, and the run waited in waiting-children for ever (found in review, 2026-12-02).
 * Real Redis and BullMQ, the real RotationQueues; the planner is a stub that fails once mid-listing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { UnrecoverableError, Worker } from 'bullmq';
import pino from 'pino';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import { createRunProcessor } from '../../src/queue/run-processor.js';
import type { PlanRun } from '../../src/rotation/rotation-service.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';

const redis = createRedis();
const prefix = uniquePrefix('fanout-replay');

afterAll(async () => {
  await deleteUnder(redis, prefix);
  redis.disconnect();
});

describe('run processor: a replayed fan-out', () => {
  it('leaves a batch that already failed for good as it is, and the run finishes reporting it', async () => {
    const queues = new RotationQueues({
      connection: redis,
      prefix,
      keepCompleted: { count: 100, ageSeconds: 3600 },
      keepFailed: { count: 100, ageSeconds: 3600 },
      runAttempts: 3,
      runBackoffMs: 10,
      batchAttempts: 1,
    });
    let plans = 0;
    let b0Failed!: () => void;
    const b0HasFailed = new Promise<void>((resolve) => (b0Failed = resolve));
    const planRun: PlanRun = async () => {
      plans += 1;
      const first = plans === 1;
      return {
        batchSize: 1,
        serverIds: (async function* () {
          yield 's1';
          if (first) {
            // The first batch is queued (a run's first batches go out while the listing goes on);
            // it fails for good before the listing does.
            await b0HasFailed;
            throw new Error('listing: connection reset by the ECS endpoint');
          }
          yield 's2';
        })(),
      };
    };
    const processRun = createRunProcessor({ queues, planRun, logger: pino({ level: 'silent' }) });
    const runWorker = new Worker('runs', (job, token, signal) => processRun(job, token, signal), { connection: createRedis(), prefix });
    const batchWorker = new Worker(
      'batches',
      async (job) => {
        if (job.data.batchIndex === 0) throw new UnrecoverableError('ECS_AUTH: not admitted');
        return { runId: job.data.runId, batchIndex: job.data.batchIndex, outcomes: [], accepted: [{ outcome: 'pending-restart', servers: '0' }] };
      },
      { connection: createRedis(), prefix },
    );
    batchWorker.on('failed', (job) => {
      if (job?.data.batchIndex === 0) b0Failed();
    });
    try {
      const { runId } = await queues.enqueueManualRun('web', { serverIds: undefined, dryRun: false, uuid: '00000000-0000-4000-8000-00000000f00d', restartPolicy: undefined });
      const deadline = Date.now() + 20_000;
      let state = '';
      while ((state = (await queues.runs.getJobState(runId)) as string) !== 'completed' && state !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(plans).toBe(2);
      expect(state).toBe('completed');
      const summary = (await queues.runs.getJob(runId))?.returnvalue;
      expect(summary).toMatchObject({ runId, servers: 2, counts: { 'pending-restart': 1 } });
      expect(summary?.failedBatches).toEqual([expect.objectContaining({ batchIndex: 0, servers: 1 })]);
      expect(await queues.batches.getJobState(`${runId}|b0`)).toBe('failed');
    } finally {
      await runWorker.close();
      await batchWorker.close();
      await queues.close();
    }
  }, 40_000);
});
