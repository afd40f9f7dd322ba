/**
 * Regression tests for the lock-outs and missing outcomes reported in issue 9, on the real pieces
 * (the ECS simulator over HTTP with its SSH endpoints, the encrypted file vault on disk, Redis). After
 * every step the login probe (the simulator's, never used by the rotator) checks the safety property:
 * some labelled password logs in now, and the one in effect after the next restart is labelled.
 *
 * Two conditions are injected, each saying so: a full disk under the file vault (the exact error
 * the file vault raises on ENOSPC, from its own `ioError`, thrown by a wrapper once the reset call
 * has gone out), and a proxy that answers every reset with a definite `Ecs.0011` (a real HTTP proxy).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault, type FileVault } from '../../src/adapters/file-vault/file-vault.js';
import { ioError } from '../../src/adapters/file-vault/vault-errors.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisHostKeyStore } from '../../src/adapters/redis/redis-host-key-store.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { SshPasswordVerifier } from '../../src/adapters/ssh/ssh-password-verifier.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import { LABEL_PENDING, type SecretKey, type Vault } from '../../src/ports/vault.js';
import type { BatchDeps, BatchSummary, BatchTarget } from '../../src/rotation/batch-input.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import type { VerifySettings } from '../../src/rotation/verify-server.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { lockoutProblem, labelledPasswords } from '../helpers/login-invariant.js';
import { createRedis, deleteUnder, dumpUnder, uniquePrefix } from '../helpers/redis.js';
import { wrapPort } from '../helpers/wrap-port.js';
import { readAll } from '../helpers/read-body.js';

const IDS = ['aaaaaaaa-1111-4111-8111-000000000001', 'aaaaaaaa-1111-4111-8111-000000000002', 'aaaaaaaa-1111-4111-8111-000000000003'];
const [A] = IDS as [string];

const redis = createRedis();
let sim: RunningSimulator;
let dir: string;
let prefix: string;
let vault: FileVault;
const logger = pino({ level: 'silent' });

beforeEach(async () => {
  sim = await startSimulator({
    rebootDurationMs: 20,
    ssh: { port: 0 },
    fleet: {
      kind: 'servers',
      servers: IDS.map((id, i) => ({ id, name: `web-${i}`, osType: 'Linux' as const, status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' })),
    },
  });
  prefix = uniquePrefix('lockout');
  dir = await mkdtemp(join(tmpdir(), 'lockout-'));
  vault = await openFileVault({ path: join(dir, 'vault.json.enc'), key: randomBytes(32), clock: systemClock, logger });
});

afterEach(async () => {
  // No password of these tests in Redis (outcomes, audit, host keys, locks).
  const redisText = await dumpUnder(redis, prefix);
  for (const id of IDS) for (const l of await labelledPasswords(vault, keyOf(id))) expect(redisText.includes(l.password)).toBe(false);
  await vault.close();
  await sim.close();
  await deleteUnder(redis, prefix);
  await rm(dir, { recursive: true, force: true });
});

const keyOf = (serverId: string): SecretKey => ({ region: sim.region, projectId: sim.projectId, serverId });

function ecsClient(endpoint = sim.url, overrides: { maxAttempts?: number; requestTimeoutMs?: number } = {}): EcsApi {
  return createEcsClient(
    { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint, requestTimeoutMs: overrides.requestTimeoutMs ?? 5_000, requestsPerSecond: 1_000, maxAttempts: overrides.maxAttempts ?? 3 },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
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
    rebootPollIntervalMs: 10,
    verifier: new SshPasswordVerifier({ hostKeys: new RedisHostKeyStore({ redis, keyPrefix: prefix }), clock: systemClock, timeoutMs: 4_000 }),
    verifyRetryDelayMs: 20,
    ...overrides,
  };
}

function target(overrides: Partial<BatchTarget> = {}): BatchTarget {
  return { name: 'web', region: sim.region, projectId: sim.projectId, passwordPolicy: DEFAULT_PASSWORD_POLICY, uniquePerServer: false, restartPolicy: 'soft', dryRunPreflight: false, ...overrides };
}

function sshVerify(): VerifySettings {
  return { method: 'ssh', user: 'root', port: sim.ssh!.port, address: 'private', timeoutMs: 4_000, concurrency: 4 };
}

async function rotate(runId: string, t: BatchTarget, d: BatchDeps = deps(), serverIds: string[] = [A]): Promise<BatchSummary> {
  return runBatch(d, { runId, target: t, batchIndex: 0, serverIds, dryRun: false });
}

async function expectNoLockout(serverIds: string[] = [A]): Promise<void> {
  for (const id of serverIds) expect(await lockoutProblem(sim, vault, keyOf(id))).toBeUndefined();
}

describe('issue 9 regressions', () => {
  for (const verification of ['ssh', 'none'] as const) {
    it(`lock-out (verify ${verification}): two --restart soft runs on a server whose in-guest reset fails keep the password that logs in labelled`, async () => {
      const t = target(verification === 'ssh' ? { verify: sshVerify() } : {});
      const first = await rotate('run-ok', t);
      expect(first.outcomes[0]?.outcome).toBe(verification === 'ssh' ? 'verified' : 'rotated-unverified');
      await expectNoLockout();

      // Huawei accepts every reset of A from now on and the in-guest script never applies it.
      sim.setFaults({ acceptedNotAppliedServers: [A] });
      for (const runId of ['run-silent-1', 'run-silent-2']) {
        const s = await rotate(runId, t);
        // Never reported as verified: with verification the login shows the new password is not in effect.
        expect(s.outcomes[0]?.outcome).toBe(verification === 'ssh' ? 'failed' : 'rotated-unverified');
        if (verification === 'ssh') expect(s.outcomes[0]?.code).toBe('NOT_IN_EFFECT');
        await expectNoLockout();
      }
      // The rotator reported both runs honestly, and the status says the same.
      const state = await new RedisOutcomeStore({ redis, keyPrefix: prefix }).getServer(A);
      expect(state?.status).toBe(verification === 'ssh' ? 'failed' : 'rotated-unverified');
    });
  }

  it('a fixed reboot brings the server back: after the fault clears, the next run is verified and frees the old candidates', async () => {
    const t = target({ verify: sshVerify() });
    await rotate('run-ok', t);
    sim.setFaults({ acceptedNotAppliedServers: [A] });
    await rotate('run-silent', t);
    sim.setFaults({ acceptedNotAppliedServers: [] });
    const s = await rotate('run-fixed', t);
    expect(s.outcomes[0]).toMatchObject({ outcome: 'verified' });
    const labels = (await labelledPasswords(vault, keyOf(A))).flatMap((l) => l.labels);
    expect(labels.filter((l) => l.startsWith('ROTATOR_UNCONFIRMED_'))).toEqual([]);
    await expectNoLockout();
  });

  it('vault full after the reset call: every server ends unknown (recorded), its password pending; the next run resends the same one', async () => {
    let full = false;
    const real = ecsClient();
    const ecs = wrapPort<EcsApi>(real, {
      batchResetPasswords: async (...args: Parameters<EcsApi['batchResetPasswords']>) => {
        const answer = await real.batchResetPasswords(...args);
        if (!args[0].dryRun) full = true;
        return answer;
      },
    });
    // Injected: the exact error the file vault raises when a write hits ENOSPC (retryable, as it may pass).
    const enospc = () => Promise.reject(ioError('write', join(dir, 'vault.json.enc'), Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })));
    const fullVault = wrapPort<Vault>(vault, {
      promote: (...a: Parameters<Vault['promote']>) => (full ? enospc() : vault.promote(...a)),
      moveLabel: (...a: Parameters<Vault['moveLabel']>) => (full ? enospc() : vault.moveLabel(...a)),
      removeLabel: (...a: Parameters<Vault['removeLabel']>) => (full ? enospc() : vault.removeLabel(...a)),
      putPending: (...a: Parameters<Vault['putPending']>) => (full ? enospc() : vault.putPending(...a)),
    });
    const s = await rotate('run-full', target({ restartPolicy: 'none' }), deps({ ecs, vault: fullVault }), IDS);
    expect(s.outcomes).toHaveLength(3);
    expect(s.counts.unknown).toBe(3);
    for (const o of s.outcomes) expect(o).toMatchObject({ outcome: 'unknown', code: 'VAULT_IO_ERROR' });
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    for (const id of IDS) {
      expect((await store.getServer(id))?.status).toBe('unknown');
      expect((await labelledPasswords(vault, keyOf(id))).some((l) => l.labels.includes(LABEL_PENDING))).toBe(true);
    }
    await expectNoLockoutAfterRestartOnly(IDS);

    // The disk is freed; the next run resends exactly the pending password, then promotes it.
    const next = await rotate('run-after-full', target({ restartPolicy: 'none' }), deps(), IDS);
    expect(next.counts['pending-restart']).toBe(3);
    for (const id of IDS) expect(sim.receivedSequence(id).map((r) => r.password)).toEqual([1, 1]);
  });

  it('a resend answered Ecs.0011 by a lying proxy never drops the inherited pending password that is in effect', async () => {
    // Run 1: the reset is processed but its answer never arrives (hang after processing): unknown, pending kept.
    sim.setFaults({ hangProbability: 1, faultTiming: 'after-processing', apis: ['batchResetPasswords'] });
    const lost = await rotate('run-lost', target({ restartPolicy: 'none' }), deps({ ecs: ecsClient(sim.url, { maxAttempts: 1, requestTimeoutMs: 600 }) }), IDS);
    expect(lost.counts.unknown).toBe(3);
    sim.setFaults({ hangProbability: 0 });
    // The servers restart on their own: the pending password is now the one that logs in.
    for (const id of IDS) sim.restart(id);
    await expectNoLockout(IDS);

    const proxy = await startLyingProxy(sim.url);
    try {
      const s = await rotate('run-lied-to', target({ restartPolicy: 'none' }), deps({ ecs: ecsClient(proxy.url) }), IDS);
      expect(proxy.lies()).toBeGreaterThan(0);
      for (const o of s.outcomes) expect(o).toMatchObject({ outcome: 'failed', code: 'Ecs.0011' });
      // The earlier password still logs in, and the vault still hands it out.
      await expectNoLockout(IDS);
    } finally {
      await proxy.close();
    }

    // Through the real endpoint again: a normal rotation, and still nobody locked out.
    const healthy = await rotate('run-healthy', target({ restartPolicy: 'soft', verify: sshVerify() }), deps(), IDS);
    expect(healthy.counts.verified).toBe(3);
    await expectNoLockout(IDS);
  });
});

describe('a resend refused after an attempt Huawei carried out (found in review, 2026-12-02)', () => {
  for (const refusal of ['200 internalError Ecs.0605', '400 Ecs.0100', '400 Ecs.0011'] as const) {
    it(`the reset applied, its answer lost, the resend answered ${refusal}: unknown, the pending password kept and resent next run`, async () => {
      // Huawei applies the reset, the connection dies before the answer (a real HTTP proxy forwards
      // the first reset to the simulator and then destroys the client's socket), and the client's
      // resend of the same body is refused, as Huawei may refuse a server that the first attempt
      // left locked or busy. Classified as a rejection, the pending password, the one now staged
      // on every server, would lose its labels; an Ecs.0011 would even regenerate another.
      const proxy = await startLosingThenRefusingProxy(sim.url, refusal, IDS);
      try {
        const s = await rotate('run-lost-then-refused', target({ restartPolicy: 'none' }), deps({ ecs: ecsClient(proxy.url) }), IDS);
        expect(proxy.forwarded()).toBe(1);
        expect(proxy.refused()).toBeGreaterThan(0);
        for (const o of s.outcomes) expect(o).toMatchObject({ outcome: 'unknown', code: 'REFUSED_AFTER_UNCERTAIN_ATTEMPT' });
      } finally {
        await proxy.close();
      }
      for (const id of IDS) {
        expect(sim.receivedSequence(id).map((r) => r.password)).toEqual([1]);
        expect((await labelledPasswords(vault, keyOf(id))).some((l) => l.labels.includes(LABEL_PENDING))).toBe(true);
      }
      // The servers restart on their own: the password the first attempt staged is now in effect.
      for (const id of IDS) sim.restart(id);
      await expectNoLockout(IDS);

      // The next run resends that same password first (never a second, different one), then promotes it.
      const next = await rotate('run-after-refusal', target({ restartPolicy: 'soft', verify: sshVerify() }), deps(), IDS);
      expect(next.counts.verified).toBe(3);
      for (const id of IDS) expect(sim.receivedSequence(id).map((r) => r.password)).toEqual([1, 1]);
      await expectNoLockout(IDS);
    });
  }
});

/** Before a restart, the password from before rotator managed the server logs in (never in the vault): check only the after-restart half. */
async function expectNoLockoutAfterRestartOnly(ids: string[]): Promise<void> {
  for (const id of ids) {
    const labelled = await labelledPasswords(vault, keyOf(id));
    expect(labelled.some((l) => sim.login(id, l.password)?.afterRestart === true)).toBe(true);
  }
}



const isRealReset = (req: IncomingMessage, body: Buffer): boolean =>
  req.method === 'PUT' && (req.url ?? '').includes('/cloudservers/os-reset-passwords') && !body.toString('utf8').includes('"dry_run":true');

/**
 * A real HTTP proxy to `upstream`. `intercept` sees each request with its body first: it answers it
 * itself and returns true, or returns false to have it forwarded; `onUpstreamAnswer`, when given,
 * takes a forwarded request's answer (else it is passed back as it is).
 */
async function startProxy(
  upstream: string,
  intercept: (req: IncomingMessage, body: Buffer, res: ServerResponse) => boolean,
  onUpstreamAnswer?: (req: IncomingMessage, body: Buffer, answer: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(upstream);
  const server = createServer((req, res) => {
    void readAll(req).then((body) => {
      if (intercept(req, body, res)) return;
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (onUpstreamAnswer?.(req, body, answer, res) === true) return;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A real HTTP proxy that answers every real (not dry-run) batch reset with a definite 400 Ecs.0011, without forwarding it. */
async function startLyingProxy(upstream: string): Promise<{ url: string; lies: () => number; close: () => Promise<void> }> {
  let lies = 0;
  const proxy = await startProxy(upstream, (req, body, res) => {
    if (!isRealReset(req, body)) return false;
    lies += 1;
    res.writeHead(400, { 'Content-Type': 'application/json', 'X-Request-Id': `lie-${lies}` });
    res.end(JSON.stringify({ error: { code: 'Ecs.0011', message: 'Invalid password: the password does not meet the complexity requirements.' } }));
    return true;
  });
  return { ...proxy, lies: () => lies };
}

/**
 * A real HTTP proxy: the first real (not dry-run) batch reset is forwarded to the simulator, which
 * applies it, and its answer is then lost (the client's socket destroyed); every later real reset is
 * answered with `refusal` for `ids` without being forwarded. Anything else is forwarded.
 */
async function startLosingThenRefusingProxy(
  upstream: string,
  refusal: '200 internalError Ecs.0605' | '400 Ecs.0100' | '400 Ecs.0011',
  ids: readonly string[],
): Promise<{ url: string; forwarded: () => number; refused: () => number; close: () => Promise<void> }> {
  let forwarded = 0;
  let refused = 0;
  const proxy = await startProxy(
    upstream,
    (req, body, res) => {
      if (!isRealReset(req, body) || forwarded === 0) return false;
      refused += 1;
      const [status, answer] =
        refusal === '200 internalError Ecs.0605'
          ? [200, { response: [], internalError: ids.map((id) => ({ id, error_code: 'Ecs.0605', error_msg: 'The server is locked.' })) }]
          : [400, { error: { code: refusal.slice(4), message: 'refused' } }];
      res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': `refused-${refused}` });
      res.end(JSON.stringify(answer));
      return true;
    },
    (req, body, answer) => {
      if (!isRealReset(req, body)) return false;
      // Applied upstream; the answer never reaches the client.
      forwarded += 1;
      answer.resume();
      answer.on('end', () => req.socket.destroy());
      return true;
    },
  );
  return { ...proxy, forwarded: () => forwarded, refused: () => refused };
}
