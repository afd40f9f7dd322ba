/**
 * runBatch against the real pieces: the Huawei ECS simulator over HTTP (signed client), the
 * encrypted file vault on disk, and Redis (locks, outcome store, audit stream) under a unique prefix.
 * Two conditions the real simulator cannot produce are injected by thin wrappers around the real
 * ports, each saying so: a definite `Ecs.0011` for a valid password, and a crash at a given step.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault, type FileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING, LABEL_PREVIOUS, type SecretKey, type Vault } from '../../src/ports/vault.js';
import { batchToken } from '../../src/rotation/batch-token.js';
import { UNCONFIRMED_LABELS } from '../../src/rotation/labels.js';
import type { VerifySettings } from '../../src/rotation/verify-server.js';
import { RedisHostKeyStore } from '../../src/adapters/redis/redis-host-key-store.js';
import { SshPasswordVerifier } from '../../src/adapters/ssh/ssh-password-verifier.js';
import type { BatchDeps, BatchInput, BatchSummary, BatchTarget } from '../../src/rotation/batch-input.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { wrapPort } from '../helpers/wrap-port.js';
import { createRedis, deleteUnder, dumpUnder, uniquePrefix } from '../helpers/redis.js';

const LINUX_A = '11111111-1111-4111-8111-111111111111';
const LINUX_B = '22222222-2222-4222-8222-222222222222';
const WINDOWS_C = '33333333-3333-4333-8333-333333333333';
const ALL = [LINUX_A, LINUX_B, WINDOWS_C];

const redis = createRedis();
let sim: RunningSimulator;
let dir: string;
let prefix: string;
let vault: FileVault;
let logLines: string[];
let logger: Logger;
/** Every password the vault ever held in these tests, for the leak scan. */
const seenPasswords = new Set<string>();
const summaries: BatchSummary[] = [];

async function freshSimulator(): Promise<RunningSimulator> {
  return startSimulator({
    rebootDurationMs: 30,
    ssh: { port: 0 },
    fleet: {
      kind: 'servers',
      servers: [
        { id: LINUX_A, name: 'web-1', osType: 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' },
        { id: LINUX_B, name: 'web-2', osType: 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' },
        { id: WINDOWS_C, name: 'win-1', osType: 'Windows', status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' },
      ],
    },
  });
}

afterAll(async () => {
  await redis.quit();
  // The leak scan above compared against real passwords, not an empty set.
  expect(seenPasswords.size).toBeGreaterThan(10);
});

beforeEach(async () => {
  // A fresh simulator per test: the servers' password histories start empty.
  sim = await freshSimulator();
  prefix = uniquePrefix('rotation');
  dir = await mkdtemp(join(tmpdir(), 'rotation-'));
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  logger = pino({ level: 'debug' }, sink);
  vault = await openFileVault({ path: join(dir, 'vault.json.enc'), key: randomBytes(32), clock: systemClock, logger });
});

afterEach(async () => {
  // The leak scan: no password the vault held may appear in Redis, in the logs or in a summary.
  const redisText = await dumpUnder(redis, prefix);
  const logText = logLines.join('');
  const summaryText = JSON.stringify(summaries);
  for (const password of seenPasswords) {
    expect(redisText.includes(password), 'a password is in Redis').toBe(false);
    expect(logText.includes(password), 'a password is in the logs').toBe(false);
    expect(summaryText.includes(password), 'a password is in a batch summary').toBe(false);
  }
  await vault.close();
  await sim.close();
  await deleteUnder(redis, prefix);
  await rm(dir, { recursive: true, force: true });
  summaries.length = 0;
});

function ecsClient(overrides: { maxAttempts?: number; secretKey?: string } = {}): EcsApi {
  return createEcsClient(
    {
      name: 'sim',
      region: sim.region,
      projectId: sim.projectId,
      endpoint: sim.url,
      requestTimeoutMs: 5_000,
      requestsPerSecond: 1_000,
      maxAttempts: overrides.maxAttempts ?? 3,
    },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: overrides.secretKey ?? DEMO_CREDENTIALS.secretKey },
    { clock: systemClock, random: cryptoRandom, logger },
  );
}

function deps(overrides: Partial<BatchDeps> = {}): BatchDeps {
  return {
    ecs: ecsClient(),
    vault,
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
    audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
    clock: systemClock,
    random: cryptoRandom,
    logger,
    rebootDeadlineMs: 10_000,
    rebootPollIntervalMs: 20,
    verifier: new SshPasswordVerifier({ hostKeys: new RedisHostKeyStore({ redis, keyPrefix: prefix }), clock: systemClock, timeoutMs: 4_000 }),
    verifyRetryDelayMs: 50,
    ...overrides,
  };
}

function target(overrides: Partial<BatchTarget> = {}): BatchTarget {
  return {
    name: 'web',
    region: sim.region,
    projectId: sim.projectId,
    passwordPolicy: DEFAULT_PASSWORD_POLICY,
    uniquePerServer: false,
    restartPolicy: 'none',
    dryRunPreflight: false,
    ...overrides,
  };
}

/** Verification by login through the simulator's SSH endpoints (Windows servers are unverifiable). */
function sshVerify(): VerifySettings {
  return { method: 'ssh', user: 'root', port: sim.ssh!.port, address: 'private', timeoutMs: 4_000, concurrency: 4 };
}

/**
 * The ECS client, but its first real reset is answered with a definite Ecs.0011 for every server,
 * without being sent (`before` runs first): the simulator accepts every password our generator
 * makes, so the refusal is injected here.
 */
function refusingFirstResetWith0011(before?: () => Promise<void>): EcsApi {
  const real = ecsClient();
  let refused = 0;
  return wrapPort<EcsApi>(real, {
    batchResetPasswords: async (args: Parameters<EcsApi['batchResetPasswords']>[0], options?: Parameters<EcsApi['batchResetPasswords']>[1]) => {
      if (!args.dryRun && refused === 0) {
        refused += 1;
        await before?.();
        return { requestId: 'injected', results: args.serverIds.map((serverId) => ({ serverId, kind: 'rejected' as const, code: 'Ecs.0011', message: 'password invalid' })) };
      }
      return real.batchResetPasswords(args, options);
    },
  });
}

function input(runId: string, t: BatchTarget, serverIds = ALL): BatchInput {
  return { runId, target: t, batchIndex: 0, serverIds, dryRun: false };
}

async function run(d: BatchDeps, i: BatchInput): Promise<BatchSummary> {
  try {
    const summary = await runBatch(d, i);
    summaries.push(summary);
    return summary;
  } finally {
    await collectPasswords();
  }
}

const keyOf = (serverId: string): SecretKey => ({ region: sim.region, projectId: sim.projectId, serverId });

/** Reads every labelled version of every test server (the only place passwords are read). */
async function collectPasswords(): Promise<void> {
  for (const id of ALL) {
    const d = await vault.describe(keyOf(id));
    for (const v of d?.versions ?? []) {
      const full = await vault.getVersion(keyOf(id), { versionId: v.versionId });
      if (full) seenPasswords.add(full.value.password);
    }
  }
}

async function passwordWithLabel(serverId: string, label: string): Promise<string | undefined> {
  return (await vault.getVersion(keyOf(serverId), { label }))?.value.password;
}

async function labelsOf(serverId: string): Promise<Record<string, string>> {
  const d = await vault.describe(keyOf(serverId));
  const out: Record<string, string> = {};
  for (const v of d?.versions ?? []) for (const l of v.labels) out[l] = v.versionId;
  return out;
}

function outcomeOf(summary: BatchSummary, serverId: string) {
  return summary.outcomes.find((o) => o.serverId === serverId);
}

describe('runBatch', () => {
  it('shared mode, restart none: one password for the batch, stored and labelled before it could be in effect', async () => {
    const summary = await run(deps(), input('run-shared-1', target()));
    expect(summary.counts['pending-restart']).toBe(3);
    const passwords = await Promise.all(ALL.map((id) => passwordWithLabel(id, LABEL_CURRENT)));
    expect(new Set(passwords).size).toBe(1);
    const password = passwords[0] as string;
    for (const id of ALL) {
      expect(sim.login(id, password)).toEqual({ now: false, afterRestart: true });
      const labels = await labelsOf(id);
      expect(labels[LABEL_CURRENT]).toBe(labels[UNCONFIRMED_LABELS[0] as string]);
      // AWSPENDING stays on the accepted version, where it reads as settled (labels.ts).
      expect(labels[LABEL_PENDING]).toBe(labels[LABEL_CURRENT]);
      expect(outcomeOf(summary, id)?.reason).toMatch(/the vault never held it/);
    }
    const windows = await vault.getVersion(keyOf(WINDOWS_C), { label: LABEL_CURRENT });
    expect(windows?.value).toMatchObject({ username: 'Administrator', osType: 'Windows', activation: 'next-restart', runId: 'run-shared-1' });
    const state = await new RedisOutcomeStore({ redis, keyPrefix: prefix }).getServer(LINUX_A);
    expect(state).toMatchObject({ status: 'pending-restart', target: 'web', runId: 'run-shared-1', consecutiveFailures: 0 });
    const history = await new RedisAuditLog({ redis, keyPrefix: prefix }).readServerHistory(LINUX_A, 20);
    // One event per step that changed something (plan and restart changed nothing for it), codes not prose.
    expect(history.map((e) => `${e.step} ${e.outcome}`).reverse()).toEqual(['createSecret stored', 'setSecret accepted', 'finishSecret promoted', 'record pending-restart']);
    expect(history.every((e) => e.detail === undefined)).toBe(true);
    // Accepted servers keep no prose in their state either (the fixed reason is not stored once per server).
    expect(state?.reason).toBeUndefined();
    // The batch's last line says where its time went, step by step (milliseconds, nothing redacted).
    const finished = logLines.map((l) => JSON.parse(l) as { msg: string; runId?: string; ms?: Record<string, unknown> }).find((l) => l.msg === 'batch finished' && l.runId === 'run-shared-1');
    expect(Object.keys(finished?.ms ?? {})).toEqual(['locks', 'plan', 'store', 'reset', 'finish', 'restart', 'record']);
    expect(Object.values(finished?.ms ?? {}).every((v) => typeof v === 'number' && v >= 0)).toBe(true);
  });

  it('uniquePerServer with soft restart and verification: a password per server, in effect now, proven by login', async () => {
    const summary = await run(deps(), input('run-unique-1', target({ uniquePerServer: true, restartPolicy: 'soft', verify: sshVerify() })));
    // Linux servers are verified by an SSH login; the Windows one cannot be (rotated-unverified, its candidate kept).
    expect(summary.counts.verified).toBe(2);
    expect(outcomeOf(summary, WINDOWS_C)).toMatchObject({ outcome: 'rotated-unverified', code: 'WINDOWS' });
    const passwords = await Promise.all(ALL.map((id) => passwordWithLabel(id, LABEL_CURRENT)));
    expect(new Set(passwords).size).toBe(3);
    for (const [i, id] of ALL.entries()) {
      expect(sim.login(id, passwords[i] as string)).toEqual({ now: true, afterRestart: true });
      const labels = await labelsOf(id);
      if (id === WINDOWS_C) {
        expect(labels[LABEL_ACTIVE]).toBeUndefined();
        expect(labels[UNCONFIRMED_LABELS[0] as string]).toBe(labels[LABEL_CURRENT]);
        continue;
      }
      expect(labels[LABEL_ACTIVE]).toBe(labels[LABEL_CURRENT]);
      for (const slot of UNCONFIRMED_LABELS) expect(labels[slot]).toBeUndefined();
    }
  });

  it('soft restart without verification: rotated-unverified, and a reboot job moves no label but the replay marker', async () => {
    const summary = await run(deps(), input('run-unverified-1', target({ restartPolicy: 'soft' }), [LINUX_A]));
    expect(outcomeOf(summary, LINUX_A)).toMatchObject({ outcome: 'rotated-unverified' });
    expect(outcomeOf(summary, LINUX_A)?.reason).toMatch(/not verified by login/);
    const labels = await labelsOf(LINUX_A);
    expect(labels[LABEL_ACTIVE]).toBeUndefined();
    expect(labels['ROTATOR_RESTARTED']).toBe(labels[LABEL_CURRENT]);
    expect(labels[UNCONFIRMED_LABELS[0] as string]).toBe(labels[LABEL_CURRENT]);
    // A replay of the finished batch does not reboot again.
    const reboots = (): number => Object.values(sim.counters().requests['batchReboot'] ?? {}).reduce((a, b) => a + b, 0);
    expect(reboots()).toBe(1);
    await run(deps(), input('run-unverified-1', target({ restartPolicy: 'soft' }), [LINUX_A]));
    expect(reboots()).toBe(1);
  });

  it('restart none keeps the password that logs in now labelled across further rotations, and stops at the slot limit', async () => {
    await run(deps(), input('run-keep-1', target({ restartPolicy: 'soft', verify: sshVerify() }), [LINUX_A]));
    const active = (await passwordWithLabel(LINUX_A, LABEL_ACTIVE)) as string;
    expect(sim.login(LINUX_A, active)?.now).toBe(true);

    const versions: string[] = [];
    for (const runId of ['run-keep-2', 'run-keep-3', 'run-keep-4']) {
      const s = await run(deps(), input(runId, target(), [LINUX_A]));
      expect(outcomeOf(s, LINUX_A)?.outcome).toBe('pending-restart');
      versions.push(outcomeOf(s, LINUX_A)?.versionId as string);
      // The old password still logs in now, and the vault still hands it out under ROTATOR_ACTIVE.
      expect(sim.login(LINUX_A, active)?.now).toBe(true);
      expect(await passwordWithLabel(LINUX_A, LABEL_ACTIVE)).toBe(active);
    }
    const labels = await labelsOf(LINUX_A);
    expect(labels[LABEL_CURRENT]).toBe(versions[2]);
    expect(labels[LABEL_PREVIOUS]).toBe(versions[1]);
    expect(UNCONFIRMED_LABELS.slice(0, 3).map((l) => labels[l])).toEqual(versions);
    const newest = (await passwordWithLabel(LINUX_A, LABEL_CURRENT)) as string;
    expect(sim.login(LINUX_A, newest)).toEqual({ now: false, afterRestart: true });

    const full = await run(deps(), input('run-keep-5', target(), [LINUX_A]));
    expect(outcomeOf(full, LINUX_A)).toMatchObject({ outcome: 'skipped', code: 'awaiting-restart' });
    expect(full.outcomes[0]?.reason).toMatch(/restart policy soft or hard/);
    expect(sim.receivedSequence(LINUX_A)).toHaveLength(4);

    // An out-of-band restart makes the newest accepted password the one in effect; it is labelled.
    sim.restart(LINUX_A);
    expect(sim.login(LINUX_A, newest)?.now).toBe(true);
  });

  it('a soft run on a server whose unconfirmed slots are full confirms the last password instead of adding one, then rotates normally', async () => {
    await run(deps(), input('run-fill-0', target({ restartPolicy: 'soft', verify: sshVerify() }), [LINUX_A]));
    for (const runId of ['run-fill-1', 'run-fill-2', 'run-fill-3']) await run(deps(), input(runId, target(), [LINUX_A]));
    const newest = await vault.getVersion(keyOf(LINUX_A), { label: LABEL_CURRENT });
    expect(sim.login(LINUX_A, newest!.value.password)).toEqual({ now: false, afterRestart: true });
    const received = sim.receivedSequence(LINUX_A).length;

    const confirm = await run(deps(), input('run-confirm', target({ restartPolicy: 'soft', verify: sshVerify() }), [LINUX_A]));
    expect(outcomeOf(confirm, LINUX_A)).toMatchObject({ outcome: 'verified', versionId: newest!.versionId });
    expect(outcomeOf(confirm, LINUX_A)?.reason).toMatch(/a login proved it in effect/);
    // The same password was sent again (no new one), and it logs in now.
    const sequence = sim.receivedSequence(LINUX_A);
    expect(sequence).toHaveLength(received + 1);
    expect(sequence.at(-1)?.password).toBe(sequence.at(-2)?.password);
    expect(sim.login(LINUX_A, newest!.value.password)?.now).toBe(true);
    const labels = await labelsOf(LINUX_A);
    expect(labels[LABEL_ACTIVE]).toBe(newest!.versionId);
    expect(labels[LABEL_CURRENT]).toBe(newest!.versionId);
    // Settled: AWSPENDING on AWSCURRENT's version, as the last accepted rotation left it.
    expect(labels[LABEL_PENDING]).toBe(newest!.versionId);
    expect(UNCONFIRMED_LABELS.map((l) => labels[l]).filter((v) => v !== undefined)).toEqual([]);

    const next = await run(deps(), input('run-after-confirm', target(), [LINUX_A]));
    expect(outcomeOf(next, LINUX_A)?.outcome).toBe('pending-restart');
    expect(outcomeOf(next, LINUX_A)?.versionId).not.toBe(newest!.versionId);
  });

  it('a confirmation reboots even when the password it resends still carries ROTATOR_RESTARTED from the run that first sent it (found in review, 2026-12-02)', async () => {
    // After a verified run, three soft runs whose logins cannot be made (SSH unreachable) fill the
    // candidate slots, and the third one's in-guest reset fails silently: its password, AWSCURRENT,
    // was rebooted (labelled ROTATOR_RESTARTED) but is not in effect. The fourth run, SSH still
    // unreachable, confirms it: resend, reboot. Taking the old label for "rebooted by this batch",
    // it skipped the reboot and reported the resend as "accepted and restarted".
    const unreachable: VerifySettings = { ...sshVerify(), port: 1, timeoutMs: 500 };
    await run(deps(), input('run-verified-0', target({ restartPolicy: 'soft', verify: sshVerify() }), [LINUX_A]));
    for (const runId of ['run-unverified-1', 'run-unverified-2', 'run-unverified-3']) {
      if (runId === 'run-unverified-3') sim.setFaults({ acceptedNotAppliedServers: [LINUX_A] });
      const s = await run(deps({ verifyRetryDelayMs: 10 }), input(runId, target({ restartPolicy: 'soft', verify: unreachable }), [LINUX_A]));
      expect(outcomeOf(s, LINUX_A)?.outcome).toBe('rotated-unverified');
    }
    sim.setFaults({ acceptedNotAppliedServers: [] });
    const current = await vault.getVersion(keyOf(LINUX_A), { label: LABEL_CURRENT });
    expect(sim.login(LINUX_A, current!.value.password)?.now).toBe(false);
    const received = sim.receivedSequence(LINUX_A).length;

    const real = ecsClient();
    const rebooted: string[] = [];
    const ecs: EcsApi = wrapPort<EcsApi>(real, {
      batchReboot: (ids: readonly string[], type: Parameters<EcsApi['batchReboot']>[1], options?: Parameters<EcsApi['batchReboot']>[2]) => {
        rebooted.push(...ids);
        return real.batchReboot(ids, type, options);
      },
    });
    const confirm = await run(deps({ ecs, verifyRetryDelayMs: 10 }), input('run-confirm-after-restarted', target({ restartPolicy: 'soft', verify: unreachable }), [LINUX_A]));
    // The same password again (a confirmation), then a reboot: now it is in effect.
    expect(sim.receivedSequence(LINUX_A)).toHaveLength(received + 1);
    expect(sim.receivedSequence(LINUX_A).at(-1)?.password).toBe(sim.receivedSequence(LINUX_A).at(-2)?.password);
    expect(rebooted).toEqual([LINUX_A]);
    expect(sim.login(LINUX_A, current!.value.password)?.now).toBe(true);
    expect(outcomeOf(confirm, LINUX_A)).toMatchObject({ outcome: 'rotated-unverified', versionId: current!.versionId });
  });

  // One test per partial-failure mode, each on a fresh simulator and vault (beforeEach): the three
  // servers share one reset call, and LINUX_B loses its plug-in between plan and the call.
  for (const mode of ['400-internal-error', '200-subset'] as const) {
    it(`partial failure (${mode}): a refused server in internalError fails with Huawei's code; one missing from a 200 is unknown`, async () => {
      const real = ecsClient();
      const ecs: EcsApi = wrapPort<EcsApi>(real, {
        batchResetPasswords: (args: Parameters<EcsApi['batchResetPasswords']>[0], options?: Parameters<EcsApi['batchResetPasswords']>[1]) => {
          if (!args.dryRun) sim.updateServer(LINUX_B, { plugin: false });
          return real.batchResetPasswords(args, options);
        },
      });
      sim.setPartialFailureMode(mode);
      const s = await run(deps({ ecs }), input(`run-partial-${mode}`, target()));
      if (mode === '400-internal-error') {
        expect(outcomeOf(s, LINUX_B)).toMatchObject({ outcome: 'failed', code: 'Ecs.0613' });
        // Never set: AWSPENDING and the slot it reserved both leave it.
        expect(await labelsOf(LINUX_B)).toEqual({});
        for (const id of [LINUX_A, WINDOWS_C]) {
          // A 400 with internalError says nothing definite about the servers it does not list:
          // the client calls them unknown, and their password stays pending for the resend.
          expect(outcomeOf(s, id)?.outcome).toBe('unknown');
          expect((await labelsOf(id))[LABEL_PENDING]).toBe(outcomeOf(s, id)?.versionId);
        }
      } else {
        // A 200 that does not list a server says nothing definite about it (Huawei documents no
        // per-server refusal in a 200): unknown, its password kept pending for the resend.
        expect(outcomeOf(s, LINUX_B)).toMatchObject({ outcome: 'unknown', code: 'NOT_IN_RESPONSE' });
        expect((await labelsOf(LINUX_B))[LABEL_PENDING]).toBe(outcomeOf(s, LINUX_B)?.versionId);
        for (const id of [LINUX_A, WINDOWS_C]) expect(outcomeOf(s, id)?.outcome).toBe('pending-restart');
      }
    });
  }

  it('unknown outcome: the password stays pending and the next run resends exactly it', async () => {
    sim.setFaults({ error500Probability: 1, faultTiming: 'after-processing', apis: ['batchResetPasswords'] });
    let first: BatchSummary;
    try {
      first = await run(deps({ ecs: ecsClient({ maxAttempts: 1 }) }), input('run-unknown-1', target(), [LINUX_A]));
    } finally {
      sim.setFaults({ error500Probability: 0 });
    }
    expect(outcomeOf(first, LINUX_A)).toMatchObject({ outcome: 'unknown' });
    const pending = await vault.getVersion(keyOf(LINUX_A), { label: LABEL_PENDING });
    expect(pending?.versionId).toBe(outcomeOf(first, LINUX_A)?.versionId);

    const second = await run(deps(), input('run-unknown-2', target(), [LINUX_A]));
    expect(outcomeOf(second, LINUX_A)).toMatchObject({ outcome: 'pending-restart', versionId: pending?.versionId });
    expect(await passwordWithLabel(LINUX_A, LABEL_CURRENT)).toBe(pending?.value.password);
    // Two resets reached the server, both with the same password.
    expect(sim.receivedSequence(LINUX_A).map((r) => r.password)).toEqual([1, 1]);
    const state = await new RedisOutcomeStore({ redis, keyPrefix: prefix }).getServer(LINUX_A);
    expect(state?.consecutiveFailures).toBe(0);
  });

  it('Ecs.0011 regenerates once, with a new token', async () => {
    const ecs = refusingFirstResetWith0011();
    const s = await run(deps({ ecs }), input('run-0011', target()));
    expect(s.counts['pending-restart']).toBe(3);
    const gen1 = batchToken({ runId: 'run-0011', batchIndex: 0, generation: 1 });
    for (const id of ALL) {
      expect(outcomeOf(s, id)?.versionId).toBe(gen1);
      expect(sim.receivedSequence(id)).toHaveLength(1);
    }
  });

  it('a second 0011 fails the servers and drops the pending password', async () => {
    const real = ecsClient();
    const ecs: EcsApi = wrapPort<EcsApi>(real, {
      // Injected refusal (see above), for every call this time.
      batchResetPasswords: async (args: Parameters<EcsApi['batchResetPasswords']>[0]) => ({
        requestId: 'injected',
        results: args.serverIds.map((serverId) => ({ serverId, kind: 'rejected' as const, code: 'Ecs.0011', message: 'password invalid' })),
      }),
    });
    const s = await run(deps({ ecs }), input('run-0011-twice', target(), [LINUX_A]));
    expect(outcomeOf(s, LINUX_A)).toMatchObject({ outcome: 'failed', code: 'Ecs.0011' });
    expect(await labelsOf(LINUX_A)).toEqual({});
  });

  it('a replay after a completed batch is a no-op: no second reset, promote or reboot', async () => {
    const t = target({ restartPolicy: 'soft' });
    const first = await run(deps(), input('run-replay', t));
    const before = sim.counters().requests;
    const labelsBefore = await Promise.all(ALL.map(labelsOf));
    const again = await run(deps(), input('run-replay', t));
    const after = sim.counters().requests;
    const essentials = (s: BatchSummary) => s.outcomes.map((o) => ({ serverId: o.serverId, outcome: o.outcome, versionId: o.versionId }));
    expect(essentials(again)).toEqual(essentials(first));
    expect(again.counts['rotated-unverified']).toBe(3);
    expect(after.batchResetPasswords).toEqual(before.batchResetPasswords);
    expect(after.batchReboot).toEqual(before.batchReboot);
    expect(await Promise.all(ALL.map(labelsOf))).toEqual(labelsBefore);
    for (const id of ALL) expect(sim.receivedSequence(id)).toHaveLength(1);
  });

  it('resumes after a crash between the reset and the promotion without sending another password', async () => {
    // Acceptance is recorded by the promotion itself (one write, labels.ts): a promotion that never
    // happened leaves the outcome unsettled, so the re-run resends the same password (never another).
    const t = target();
    // A vault that fails promote once (a crash at that line, as far as the batch can tell).
    let failures = 0;
    const crashing: Vault = wrapPort<Vault>(vault, {
      promote: (...args: Parameters<Vault['promote']>) => {
        if (failures === 0) {
          failures += 1;
          return Promise.reject(new RotatorError({ code: 'SIMULATED_CRASH', message: 'crash before promote', retryable: false }));
        }
        return vault.promote(...args);
      },
    });
    // Every server still gets an outcome: the one whose promotion failed is unknown, its password pending.
    const first = await run(deps({ vault: crashing }), input('run-crash', t));
    expect(first.outcomes.filter((o) => o.outcome === 'unknown')).toEqual([expect.objectContaining({ code: 'SIMULATED_CRASH' })]);
    expect(first.counts['pending-restart']).toBe(2);
    // Locks were released on the way out.
    expect(await new RedisServerLocks({ redis, keyPrefix: prefix }).holder(LINUX_A)).toBeUndefined();
    const resumed = await run(deps(), input('run-crash', t));
    expect(resumed.counts['pending-restart']).toBe(3);
    for (const id of ALL) {
      const received = sim.receivedSequence(id);
      expect(received.length).toBeLessThanOrEqual(2);
      expect(new Set(received.map((r) => r.password))).toEqual(new Set([1]));
    }
    expect(ALL.map((id) => sim.receivedSequence(id).length).sort()).toEqual([1, 1, 2]);
    expect(new Set(await Promise.all(ALL.map((id) => passwordWithLabel(id, LABEL_CURRENT)))).size).toBe(1);
  });

  it('a server held by another run is busy; missing and ineligible servers are skipped with a reason', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await locks.acquireMany([LINUX_B], 'other-run|b0', 60_000);
    sim.updateServer(WINDOWS_C, { status: 'SHUTOFF' });
    try {
      const s = await run(deps(), input('run-mixed', target({ dryRunPreflight: true }), [LINUX_A, LINUX_B, WINDOWS_C, '99999999-9999-4999-8999-999999999999']));
      expect(outcomeOf(s, LINUX_A)?.outcome).toBe('pending-restart');
      expect(outcomeOf(s, LINUX_B)).toMatchObject({ outcome: 'busy' });
      expect(outcomeOf(s, WINDOWS_C)).toMatchObject({ outcome: 'skipped', code: 'status' });
      expect(outcomeOf(s, '99999999-9999-4999-8999-999999999999')).toMatchObject({ outcome: 'skipped', code: 'not-found' });
      expect(await vault.describe(keyOf(LINUX_B))).toBeUndefined();
      expect(await locks.holder(LINUX_B)).toBe('other-run|b0');
      expect(await locks.holder(LINUX_A)).toBeUndefined();
    } finally {
      sim.updateServer(WINDOWS_C, { status: 'ACTIVE' });
    }
  });

  it('with the dry-run preflight, the plug-in flag is not asked server by server: the preflight tells a missing plug-in', async () => {
    sim.updateServer(LINUX_B, { plugin: false });
    try {
      const s = await run(deps(), input('run-preflight-plugin', target({ dryRunPreflight: true })));
      expect(outcomeOf(s, LINUX_B)).toMatchObject({ outcome: 'skipped', code: 'no-reset-plugin' });
      expect(outcomeOf(s, LINUX_B)?.reason).toMatch(/Ecs\.0613/);
      expect(outcomeOf(s, LINUX_A)?.outcome).toBe('pending-restart');
      expect(await vault.describe(keyOf(LINUX_B))).toBeUndefined(); // nothing written for it
      expect(sim.receivedSequence(LINUX_B)).toHaveLength(0);
      expect(sim.counters().requests.getResetPasswordFlag).toBeUndefined();
      // Without the preflight, the flag is what keeps it from being sent a password.
      const again = await run(deps(), input('run-no-preflight-plugin', target({ dryRunPreflight: false })));
      expect(outcomeOf(again, LINUX_B)).toMatchObject({ outcome: 'skipped', code: 'no-reset-plugin' });
      expect(sim.counters().requests.getResetPasswordFlag).toBeDefined();
    } finally {
      sim.updateServer(LINUX_B, { plugin: true });
    }
  });

  describe('a lock lost after the reset call (found in review, 2026-12-02)', () => {
    // The lock of LINUX_A expires during the reset call and another run takes it (injected: the
    // key is overwritten with the other run's owner as the call returns). This batch must no longer
    // act on LINUX_A: no second password, no reboot.
    const stealA = async (): Promise<void> => {
      await redis.set(`${prefix}:lock:${LINUX_A}`, 'other-run|b7#x', 'PX', 60_000);
    };

    it('no reboot of a server whose lock was lost: pending-restart (lock-lost), the others restarted', async () => {
      const real = ecsClient();
      const rebooted: string[] = [];
      const ecs: EcsApi = wrapPort<EcsApi>(real, {
        batchResetPasswords: async (args: Parameters<EcsApi['batchResetPasswords']>[0], options?: Parameters<EcsApi['batchResetPasswords']>[1]) => {
          const answer = await real.batchResetPasswords(args, options);
          if (!args.dryRun) await stealA();
          return answer;
        },
        batchReboot: (ids: readonly string[], type: Parameters<EcsApi['batchReboot']>[1], options?: Parameters<EcsApi['batchReboot']>[2]) => {
          rebooted.push(...ids);
          return real.batchReboot(ids, type, options);
        },
      });
      const s = await run(deps({ ecs }), input('run-lost-before-restart', target({ restartPolicy: 'soft' })));
      expect(outcomeOf(s, LINUX_A)).toMatchObject({ outcome: 'pending-restart', code: 'lock-lost' });
      expect(rebooted).not.toContain(LINUX_A);
      expect(rebooted.length).toBeGreaterThan(0);
      // The other run's lock is left alone.
      expect(await new RedisServerLocks({ redis, keyPrefix: prefix }).holder(LINUX_A)).toBe('other-run|b7#x');
      await redis.del(`${prefix}:lock:${LINUX_A}`);
    });

    it('no second password after an Ecs.0011 for a server whose lock was lost: failed with the code', async () => {
      const ecs = refusingFirstResetWith0011(stealA);
      const s = await run(deps({ ecs }), input('run-lost-before-regenerate', target()));
      expect(outcomeOf(s, LINUX_A)).toMatchObject({ outcome: 'failed', code: 'Ecs.0011' });
      expect(sim.receivedSequence(LINUX_A)).toHaveLength(0);
      for (const id of ALL.filter((i) => i !== LINUX_A)) expect(outcomeOf(s, id)?.outcome).toBe('pending-restart');
      expect(await new RedisServerLocks({ redis, keyPrefix: prefix }).holder(LINUX_A)).toBe('other-run|b7#x');
      await redis.del(`${prefix}:lock:${LINUX_A}`);
    });
  });

  it('with the dry-run preflight answered as a 200 listing only the servers that pass, a server it is silent about has its plug-in flag read (found in review, 2026-12-02)', async () => {
    // In Huawei's "200-subset" form of a partial failure, a server without the reset plug-in is
    // simply not listed: no definite answer, so no refusal, and the flag (not asked when a preflight
    // runs) was never read. It was stored a password and sent a reset it cannot apply, unknown for ever.
    sim.setPartialFailureMode('200-subset');
    sim.updateServer(LINUX_B, { plugin: false });
    try {
      const s = await run(deps(), input('run-preflight-subset', target({ dryRunPreflight: true })));
      expect(outcomeOf(s, LINUX_B)).toMatchObject({ outcome: 'skipped', code: 'no-reset-plugin' });
      expect(await vault.describe(keyOf(LINUX_B))).toBeUndefined(); // nothing written for it
      expect(sim.receivedSequence(LINUX_B)).toHaveLength(0);
      expect(outcomeOf(s, LINUX_A)?.outcome).toBe('pending-restart');
      // Read for the one server the preflight was silent about, not for every server.
      expect(sim.counters().requests.getResetPasswordFlag).toEqual({ '200': 1 });
    } finally {
      sim.updateServer(LINUX_B, { plugin: true });
      sim.setPartialFailureMode('400-internal-error');
    }
  });

  it('a dry run writes nothing and resets nothing', async () => {
    const s = await run(deps(), { ...input('run-dry', target()), dryRun: true });
    expect(s.counts.skipped).toBe(3);
    expect(s.outcomes.every((o) => o.code === 'dry-run')).toBe(true);
    for (const id of ALL) expect(await vault.describe(keyOf(id))).toBeUndefined();
    for (const id of ALL) expect(sim.receivedSequence(id)).toHaveLength(0);
  });

  it('an authentication failure stops the batch with a non-retryable error and releases the locks', async () => {
    const bad = deps({ ecs: ecsClient({ secretKey: 'not-the-secret-key-0000000000000000000000' }) });
    const error = await run(bad, input('run-auth', target())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotatorError);
    expect(error).toMatchObject({ retryable: false, httpStatus: 401 });
    expect(await new RedisServerLocks({ redis, keyPrefix: prefix }).holder(LINUX_A)).toBeUndefined();
  });

  it('throttling stops the batch with a retryable error, before anything is written', async () => {
    sim.setFaults({ throttle: { ratePerSecond: 0.001, burst: 1, retryAfterSeconds: 7 } });
    const error = await run(deps({ ecs: ecsClient({ maxAttempts: 1 }) }), input('run-throttled', target())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotatorError);
    expect(error).toMatchObject({ retryable: true, code: 'APIGW.0308' });
    for (const id of ALL) expect(await vault.describe(keyOf(id))).toBeUndefined();
    expect(await new RedisServerLocks({ redis, keyPrefix: prefix }).holder(LINUX_A)).toBeUndefined();
  });
});
