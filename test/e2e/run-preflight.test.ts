/**
 * The run's `dry_run` preflight (src/rotation/run-preflight.ts): one call for up to 1000 servers
 * when the run is planned, each batch then using its share of the answer instead of calling again.
 * Real parts: the ECS simulator over HTTP through the signed client, the file vault on disk, locks,
 * outcomes and audit in real Redis, all through the production factory `createRotationService`.
 * Calls are counted where they land (the simulator's per-API counters): a batch makes one reset
 * call per password, so a second call from a shared-mode batch is its own dry run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault, type FileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import type { EcsServer } from '../../src/domain/server.js';
import type { Clock } from '../../src/ports/clock.js';
import { createRotationService, type RotationService, type RotationTarget } from '../../src/rotation/rotation-service.js';
import { RUN_PREFLIGHT_MAX_AGE_MS, type RunPreflight } from '../../src/rotation/run-preflight.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';
import { simRotationTarget } from '../helpers/rotation-target.js';

const SERVERS = 30;
const redis = createRedis();
const prefix = uniquePrefix('run-preflight');
let sim: RunningSimulator;
let dir: string;
let vault: FileVault;
let service: RotationService;
let listed: EcsServer[];
/** The service's clock: the real one, moved forward by a test to age a preflight. */
let skewMs = 0;
const clock: Clock = { now: () => Date.now() + skewMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };

const target: RotationTarget = simRotationTarget({ batchSize: 10 });

beforeAll(async () => {
  sim = await startSimulator({
    faults: { throttle: null },
    fleet: { kind: 'generated', count: SERVERS, seed: 11, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0, windowsRatio: 0 },
  });
  dir = await mkdtemp(join(tmpdir(), 'rotator-run-preflight-'));
  const logger = pino({ level: 'silent' });
  vault = await openFileVault({ path: join(dir, 'vault'), key: randomBytes(32), clock, logger });
  const ecs = createEcsClient(
    { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5_000, requestsPerSecond: 1_000, maxAttempts: 3 },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    { clock: systemClock, random: cryptoRandom, logger },
  );
  service = createRotationService({
    target: (name) => (name === target.name ? target : undefined),
    account: () => ({ region: sim.region, projectId: sim.projectId }),
    ecsFor: () => ecs,
    vault,
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
    audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
    clock,
    random: cryptoRandom,
    logger,
  });
});

afterAll(async () => {
  await vault.close();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
  await deleteUnder(redis, prefix);
  await redis.quit();
});

/** Reset-API calls (dry runs and real ones) the simulator has answered so far. */
const resetCalls = (): number => Object.values(sim.counters().requests.batchResetPasswords ?? {}).reduce((a, b) => a + b, 0);

async function planned(): Promise<{ ids: string[]; check: (ids: readonly string[]) => Promise<RunPreflight | undefined> }> {
  const plan = await service.planRun({ target: 'web', serverIds: undefined, dryRun: false }, undefined);
  listed = [];
  for await (const item of plan.serverIds) listed.push(item as EcsServer);
  expect(plan.preflight?.batchesPerCall).toBe(100); // batches of 10: 100 share one call of 1000
  return { ids: listed.map((s) => s.id), check: (ids) => plan.preflight!.check(ids, undefined) };
}

describe('the run preflight', () => {
  it('is one dry_run for all the planned servers; a batch with a fresh share makes none, and settles the refused as its own preflight would', async () => {
    const { ids, check } = await planned();
    const [locked, noPlugin] = [ids[1]!, ids[2]!];
    // After the listing: the listing still shows both as eligible, only Huawei's dry run knows.
    sim.updateServer(locked, { locked: true });
    sim.updateServer(noPlugin, { plugin: false });
    try {
      await freshShare(ids, check, locked, noPlugin);
    } finally {
      sim.updateServer(locked, { locked: false });
      sim.updateServer(noPlugin, { plugin: true });
    }
  });

  async function freshShare(ids: string[], check: (ids: readonly string[]) => Promise<RunPreflight | undefined>, locked: string, noPlugin: string): Promise<void> {
    let mark = resetCalls();
    const preflight = await check(ids);
    expect(resetCalls() - mark).toBe(1);
    expect([...preflight!.refused.keys()].sort()).toEqual([locked, noPlugin].sort());

    // The lock is lifted before the batch runs: a fresh verdict is used as it was given (the reset
    // would have had the last word had the server been let through).
    sim.updateServer(locked, { locked: false });
    mark = resetCalls();
    const batch = ids.slice(0, 10);
    const summary = await service.rotateBatch(
      { runId: 'run|web|fresh', target: 'web', batchIndex: 0, serverIds: batch, servers: listed.slice(0, 10), preflight, dryRun: false },
      { signal: undefined },
    );
    expect(resetCalls() - mark).toBe(1); // the reset only: no dry run of its own
    const outcome = (id: string) => summary.outcomes.find((o) => o.serverId === id);
    expect(outcome(locked)).toMatchObject({ outcome: 'failed', code: 'Ecs.0605', reason: expect.stringContaining("run's dry-run preflight refused") });
    expect(outcome(noPlugin)).toMatchObject({ outcome: 'skipped', code: 'no-reset-plugin' });
    expect(summary.counts['pending-restart']).toBe(8);
    // Nothing was stored for the refused servers: the preflight came before any secret.
    expect(await vault.describe({ region: sim.region, projectId: sim.projectId, serverId: locked })).toBeUndefined();
  }

  it('is not used once stale: the batch asks Huawei again', async () => {
    const { ids, check } = await planned();
    const preflight = await check(ids);
    expect(preflight?.refused.size).toBe(0);
    const late = ids[11]!;
    sim.updateServer(late, { locked: true }); // locked after the run's preflight
    skewMs = RUN_PREFLIGHT_MAX_AGE_MS + 1_000; // the batch waited in the queue for longer than that
    try {
      const mark = resetCalls();
      const summary = await service.rotateBatch(
        { runId: 'run|web|stale', target: 'web', batchIndex: 1, serverIds: ids.slice(10, 20), servers: listed.slice(10, 20), preflight, dryRun: false },
        { signal: undefined },
      );
      expect(resetCalls() - mark).toBe(2); // its own dry run, then the reset
      expect(summary.outcomes.find((o) => o.serverId === late)).toMatchObject({ outcome: 'failed', code: 'Ecs.0605', reason: expect.stringMatching(/^dry-run preflight refused/) });
    } finally {
      skewMs = 0;
      sim.updateServer(late, { locked: false });
    }
  });

  it('is not offered where batches cannot share a call, or the target does not preflight', async () => {
    const saved = { ...target };
    try {
      Object.assign(target, { batchSize: 600 });
      expect((await service.planRun({ target: 'web', serverIds: undefined, dryRun: false }, undefined)).preflight).toBeUndefined();
      Object.assign(target, { batchSize: 10, dryRunPreflight: false });
      expect((await service.planRun({ target: 'web', serverIds: undefined, dryRun: false }, undefined)).preflight).toBeUndefined();
      // A dry run of the rotator always preflights (steps/plan.ts), so it is offered then.
      expect((await service.planRun({ target: 'web', serverIds: undefined, dryRun: true }, undefined)).preflight?.batchesPerCall).toBe(100);
    } finally {
      Object.assign(target, saved);
    }
  });
});
