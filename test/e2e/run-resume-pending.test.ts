/**
 * A run job resumed already fanned out (its fan-out marker written) while batches are still pending:
 * what a worker killed between the fan-out and moveToWaitingChildren leaves to BullMQ's stalled-job
 * recovery. The run must wait for its batches, not try to finish (BullMQ refuses a job with pending
 * dependencies, and the run would fail). Real Redis and BullMQ; the run is fanned out by hand.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Queue, Worker } from 'bullmq';
import pino from 'pino';
import { createRunProcessor } from '../../src/queue/run-processor.js';
import type { RotationQueues } from '../../src/queue/rotation-queues.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';

const redis = createRedis();
const prefix = uniquePrefix('run-resume');

afterAll(async () => {
  await deleteUnder(redis, prefix);
  redis.disconnect();
});

describe('run processor: resumed after the fan-out', () => {
  it('waits for batches still pending instead of finishing, then finishes once they are done', async () => {
    const runs = new Queue('runs', { connection: redis, prefix });
    const batches = new Queue('batches', { connection: redis, prefix });
    const runId = 'run|web|manual-resume';
    await runs.add('run', { target: 'web', trigger: 'manual', dryRun: false, fanOut: { batches: 1, servers: 1 } }, { jobId: runId });
    // The batch its first pass added, still waiting for a worker.
    await batches.add('batch', { runId, batchIndex: 0, serverIds: ['s1'] }, { jobId: `${runId}|b0`, parent: { id: runId, queue: `${prefix}:runs` } });
    const process = createRunProcessor({
      queues: { batches } as unknown as RotationQueues,
      planRun: () => {
        throw new Error('a fanned-out run must not plan again');
      },
      logger: pino({ level: 'silent' }),
    });
    const failures: string[] = [];
    const worker = new Worker('runs', (job, token) => process(job, token), { connection: createRedis(), prefix });
    worker.on('failed', (_job, error) => failures.push(error.message));
    try {
      const stateOf = async (): Promise<string> => (await runs.getJobState(runId)) as string;
      const deadline = Date.now() + 10_000;
      while ((await stateOf()) !== 'waiting-children' && failures.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(failures).toEqual([]);
      expect(await stateOf()).toBe('waiting-children');
      // The batch ends: BullMQ brings the run back, and it finishes with the batch's result.
      const batchWorker = new Worker('batches', async () => ({ runId, batchIndex: 0, outcomes: [], accepted: [{ outcome: 'pending-restart', servers: '0' }] }), {
        connection: createRedis(),
        prefix,
      });
      try {
        const end = Date.now() + 10_000;
        while ((await stateOf()) !== 'completed' && failures.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await batchWorker.close();
      }
      expect(failures).toEqual([]);
      const done = await runs.getJob(runId);
      expect(done?.returnvalue).toMatchObject({ runId, servers: 1, counts: { 'pending-restart': 1 } });
    } finally {
      await worker.close();
      await runs.close();
      await batches.close();
    }
  }, 30_000);
});
