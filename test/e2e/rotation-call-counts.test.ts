/**
 * What a rotation costs in calls, counted where they land: the ECS simulator's per-API counters and
 * the Secrets Manager emulator's request log (real AWS SDK, real signed ECS client, real Redis).
 * These counts are what the rate limits divide (Huawei's ~200 requests/s per API, AWS's 50 writes/s
 * per account), so they are part of the behaviour, not an implementation detail.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsSecretsManagerVault } from '../../src/adapters/aws-secrets-manager/aws-secrets-manager-vault.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import type { EcsServer } from '../../src/domain/server.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { Vault } from '../../src/ports/vault.js';
import type { BatchDeps, BatchTarget } from '../../src/rotation/batch-input.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';

const SERVERS = 40;
const WRITES = ['CreateSecret', 'PutSecretValue', 'UpdateSecretVersionStage', 'UpdateSecret', 'TagResource'];

const redis = createRedis();
const prefix = uniquePrefix('call-counts');
let sim: RunningSimulator;
let emulator: SecretsManagerEmulator;
let vault: Vault;
let listed: EcsServer[];

beforeAll(async () => {
  sim = await startSimulator({
    rebootDurationMs: 10,
    faults: { throttle: null },
    fleet: { kind: 'generated', count: SERVERS, seed: 3, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 },
  });
  emulator = await startSecretsManagerEmulator();
  vault = createAwsSecretsManagerVault(
    { region: 'eu-west-1', endpoint: emulator.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' }, writesPerSecond: 10_000 },
    { clock: systemClock },
  );
  listed = [];
  for await (const server of ecs().listServers({ name: 'ecs-' }, { pageSize: 1000 })) listed.push(server);
  expect(listed).toHaveLength(SERVERS);
});

afterAll(async () => {
  await vault.close();
  await emulator.close();
  await sim.close();
  await deleteUnder(redis, prefix);
  await redis.quit();
});

function ecs() {
  return createEcsClient(
    { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5_000, requestsPerSecond: 1_000, maxAttempts: 3 },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    { clock: systemClock, random: cryptoRandom, logger: pino({ level: 'silent' }) },
  );
}

function deps(): BatchDeps {
  return {
    ecs: ecs(),
    vault,
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
    audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
    clock: systemClock,
    random: cryptoRandom,
    logger: pino({ level: 'silent' }),
  };
}

const target: BatchTarget = {
  name: 'web',
  region: 'sim-local-1',
  projectId: '',
  passwordPolicy: DEFAULT_PASSWORD_POLICY,
  uniquePerServer: false,
  restartPolicy: 'none',
  dryRunPreflight: true,
};

/** One run of one batch over the whole fleet; the calls it made, per API / operation. */
async function rotateOnce(): Promise<{ ecs: Record<string, number>; aws: Record<string, number> }> {
  const ecsBefore = sim.counters().requests;
  const awsMark = emulator.requests().length;
  const summary = await runBatch(deps(), {
    runId: `run|web|${randomUUID()}`,
    target: { ...target, region: sim.region, projectId: sim.projectId },
    batchIndex: 0,
    serverIds: listed.map((s) => s.id),
    servers: listed,
    dryRun: false,
  });
  expect(summary.counts['pending-restart']).toBe(SERVERS);
  const ecsCalls: Record<string, number> = {};
  for (const [api, byStatus] of Object.entries(sim.counters().requests)) {
    const before = Object.values(ecsBefore[api] ?? {}).reduce((a, b) => a + b, 0);
    const now = Object.values(byStatus).reduce((a, b) => a + b, 0);
    if (now > before) ecsCalls[api] = now - before;
  }
  const awsCalls: Record<string, number> = {};
  for (const r of emulator.requests().slice(awsMark)) awsCalls[r.operation] = (awsCalls[r.operation] ?? 0) + 1;
  return { ecs: ecsCalls, aws: awsCalls };
}

const writesOf = (aws: Record<string, number>): number => WRITES.reduce((n, op) => n + (aws[op] ?? 0), 0);

describe('calls per rotation (AWS vault, shared mode, restart policy none, dry-run preflight)', () => {
  it('a batch makes one dry_run and one reset call to ECS and no per-server GET', async () => {
    const first = await rotateOnce();
    expect(first.ecs).toEqual({ batchResetPasswords: 2 });
  });

  it('a first rotation writes CreateSecret, then 2 times per server', async () => {
    // The first test rotated a fresh fleet; the counts of a first rotation, on fresh secrets:
    const fresh = emulator.requests().filter((r) => r.operation === 'CreateSecret').length;
    expect(fresh).toBe(SERVERS);
  });

  it('a rotation of existing secrets creates none, and writes 2 times per server (each justified in labels.ts)', async () => {
    const second = await rotateOnce();
    expect(second.ecs).toEqual({ batchResetPasswords: 2 });
    expect(second.aws.CreateSecret ?? 0).toBe(0);
    // PutSecretValue with AWSPENDING and the unconfirmed slot (before the reset), then for an
    // accepted server the AWSCURRENT compare-and-swap; AWSPENDING stays, settled (src/rotation/labels.ts).
    expect(second.aws.PutSecretValue).toBe(SERVERS);
    expect(second.aws.UpdateSecretVersionStage).toBe(SERVERS);
    expect(writesOf(second.aws) / SERVERS).toBe(2);
    // Reads: one DescribeSecret and one ListSecretVersionIds per server (the plan's); each write's
    // answer tells the rest.
    expect(second.aws.DescribeSecret).toBe(SERVERS);
    expect(second.aws.ListSecretVersionIds).toBe(SERVERS);
    expect(second.aws.GetSecretValue ?? 0).toBe(0);
  });

  it('a third rotation costs the same (AWSPENDING moves off the settled version in the store write)', async () => {
    const third = await rotateOnce();
    expect(writesOf(third.aws) / SERVERS).toBe(2);
  });
});

describe('log lines per batch', () => {
  /** One batch over the whole fleet with a logger at info that keeps its lines. */
  async function linesOfOneBatch(uniquePerServer: boolean): Promise<{ msg: string; level: number; calls?: number; servers?: number }[]> {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    // A vault of its own: the fleet's secrets in the shared one hold candidates from the tests above.
    const dir = await mkdtemp(join(tmpdir(), 'rotator-log-lines-'));
    const own = await openFileVault({ path: join(dir, 'vault.json.enc'), key: randomBytes(32), clock: systemClock, logger: pino({ level: 'silent' }) });
    const summary = await runBatch(
      { ...deps(), vault: own, logger },
      {
        runId: `run|web|${randomUUID()}`,
        target: { ...target, uniquePerServer, region: sim.region, projectId: sim.projectId },
        batchIndex: 0,
        serverIds: listed.map((s) => s.id),
        servers: listed,
        dryRun: false,
      },
    );
    await own.close();
    await rm(dir, { recursive: true, force: true });
    expect(summary.counts['pending-restart']).toBe(SERVERS);
    return lines.map((l) => JSON.parse(l) as { msg: string; level: number });
  }

  it('uniquePerServer: one info line for the batch’s reset calls, not one per server', async () => {
    const lines = await linesOfOneBatch(true);
    expect(lines.filter((l) => l.msg === 'batch reset call answered')).toEqual([]);
    const answered = lines.filter((l) => l.msg === 'batch reset calls answered');
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatchObject({ level: 30, calls: SERVERS, servers: SERVERS });
    expect(lines.filter((l) => l.msg === 'batch finished')).toHaveLength(1);
  });

  it('shared password: the batch’s one reset call has its info line, with its request id', async () => {
    const lines = await linesOfOneBatch(false);
    const answered = lines.filter((l) => l.msg === 'batch reset call answered');
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatchObject({ level: 30, servers: SERVERS, requestId: expect.any(String) });
    expect(lines.filter((l) => l.msg === 'batch reset calls answered')).toEqual([]);
  });
});
