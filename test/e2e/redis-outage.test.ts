/**
 * Redis dies mid-run and comes back EMPTY (no persistence: queues, job locks, server locks, audit and
 * outcome state are all gone), while the service (worker role, in this process) is rotating a target.
 *
 * A private redis-server (never the shared one) on a free port; the real service (`startService`) with
 * the real file vault in a temp dir and a real ECS simulator whose reboot jobs take ~1.5 s (restart
 * policy soft): one run of 20 servers in 4 batches of 5, 2 at a time. Run 1's reset calls are slow and
 * answered 500 after the password was set (accepted, answer lost). When the simulator has answered the
 * first reset call, Redis is SIGKILLed; the ECS client's retry waits for the Redis rate limiter through
 * the outage; after a pause a new, empty redis-server starts on the same port. Run 1's job is gone,
 * but its two in-flight batches finish in this process (outcome unknown, passwords kept pending); its
 * two waiting batches are lost with Redis. Then the simulator heals and a second manual run is
 * enqueued and awaited.
 *
 * What must hold: no crash or unhandled rejection; the workers process again; every password that
 * logs in to a server now or after a restart is labelled in the vault (login probe, invariant 1); no
 * server received a different password while an earlier one's fate was unknown (`receivedSequence`
 * plus the vault's versions: a sent password of the interrupted run either was promoted or was resent
 * by the second run); the second run's outcomes match the servers (invariant 5); no password in the
 * new Redis or in the captured logs (invariant 2).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { ServerOutcome } from '../../src/domain/outcome.js';
import { startService } from '../../src/main.js';
import type { RunningService } from '../../src/main.js';
import { LABEL_CURRENT, LABEL_PENDING } from '../../src/ports/vault.js';
import type { SecretKey, SecretVersion } from '../../src/ports/vault.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { batchToken } from '../../src/rotation/batch-token.js';
import { outcomesOfBatch, type BatchResult, type RunSummary } from '../../src/queue/run-summary.js';
import { startRunWatcher } from '../../src/queue/run-watcher.js';
import type { CronFactory } from '../../src/scheduler/scheduler.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator } from '../../src/simulator/simulator.js';
import { dumpUnder, startRedisServer } from '../helpers/redis.js';
import type { RedisServerProcess } from '../helpers/redis.js';
import { capturedLogger } from './queue-helpers.js';
import type { CapturedLogger } from './queue-helpers.js';

const SERVER_COUNT = 20;
const BATCH_SIZE = 5;
const TARGET = 'outage';
const PREFIX = 'outage';

const servers: SimServerSpec[] = Array.from({ length: SERVER_COUNT }, (_, i) => ({
  id: `${String(i + 1).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`,
  name: `outage-${i + 1}`,
  osType: i % 4 === 3 ? 'Windows' : 'Linux',
  status: 'ACTIVE',
  locked: false,
  plugin: true,
  tags: { grp: 'outage' },
  enterpriseProjectId: '0',
}));

/** No cron ticks: the test enqueues manual runs. */
const silentCron: CronFactory = () => ({ stop: () => undefined });

/** Polls `check` every 20 ms until it holds (there is no event to await for simulator state). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function logMessages(text: string): { level: number; msg: string; line: string }[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const parsed = JSON.parse(line) as { level: number; msg: string };
      return { level: parsed.level, msg: parsed.msg, line };
    });
}

describe('Redis dies mid-run and comes back empty', () => {
  let dir: string;
  let redisA: RedisServerProcess | undefined;
  let redisB: RedisServerProcess | undefined;
  let sim: RunningSimulator;
  let service: RunningService | undefined;
  let log: CapturedLogger;
  let vaultKey: Buffer;
  const crashes: string[] = [];
  const onUnhandled = (reason: unknown): void => {
    crashes.push(`unhandledRejection: ${reason instanceof Error ? reason.message : String(reason)}`);
  };
  const onUncaught = (error: Error): void => {
    crashes.push(`uncaughtException: ${error.message}`);
  };
  // Raw console output bypasses the service's logger (and its redaction): BullMQ and ioredis print
  // errors that nobody listens to with console.error. Spied, not silenced: calls still go through.
  let consoleError: MockInstance<typeof console.error>;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUncaught);
    consoleError = vi.spyOn(console, 'error');
    dir = await mkdtemp(join(tmpdir(), 'rotator-redis-outage-'));
    redisA = await startRedisServer();
    sim = await startSimulator({
      fleet: { kind: 'servers', servers },
      rebootDurationMs: 1500,
      // Run 1's reset calls take a while and are answered 500 AFTER the password was set (the hard
      // case: accepted, answer lost). The client retries once (maxAttempts 2) with the same password;
      // the retry waits for the Redis rate limiter, so it spans the outage. Run 1 ends `unknown` with
      // its passwords pending, and run 2 must resend exactly those first.
      faults: { latencyMs: { fixed: 300, jitter: 400 }, error500Probability: 1, faultTiming: 'after-processing', apis: ['batchResetPasswords'], seed: 11 },
    });
    vaultKey = randomBytes(32);
    await mkdir(join(dir, 'jobs'));
    const configFile = join(dir, 'service.yaml');
    await writeFile(
      configFile,
      JSON.stringify({
        redis: { url: redisA.url, keyPrefix: PREFIX },
        accounts: [{ name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestsPerSecond: 500, maxAttempts: 2, requestTimeoutMs: 10_000 }],
        vault: { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } },
        http: { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, readOnly: true },
        // A long grace: stop() then waits for the interrupted run's batches, which outlive their jobs.
        limits: { workerConcurrency: 2, shutdownGraceMs: 30_000 },
        scheduler: { catchUp: false },
        simulator: { enabled: false },
        logging: { level: 'debug', format: 'json' },
      }),
    );
    await writeFile(
      join(dir, 'jobs', `${TARGET}.yaml`),
      JSON.stringify({
        name: TARGET,
        account: 'sim',
        schedule: '0 3 * * *',
        timezone: 'UTC',
        selector: { tags: { grp: 'outage' } },
        batchSize: BATCH_SIZE,
        restartPolicy: 'soft',
        uniquePerServer: false,
        dryRunPreflight: false,
      }),
    );
    const env: Record<string, string> = {
      ROTATOR_VAULT_KEY: vaultKey.toString('base64'),
      HUAWEI_AK: DEMO_CREDENTIALS.accessKey,
      HUAWEI_SK: DEMO_CREDENTIALS.secretKey,
    };
    const config = await loadConfigOrThrow({ configPath: configFile, jobsDir: join(dir, 'jobs'), env, cwd: dir });
    log = capturedLogger('debug');
    service = await startService({
      config,
      roles: ['worker'],
      logger: log.logger,
      env,
      cwd: dir,
      catchUp: false,
      cron: silentCron,
      rebootDeadlineMs: 20_000,
    });
  }, 30_000);

  afterAll(async () => {
    try {
      await service?.stop();
    } finally {
      await redisA?.kill();
      await redisB?.kill();
      await sim?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUncaught);
      consoleError?.mockRestore();
    }
  }, 60_000);

  it('survives, resumes, resends pending passwords first, and loses no password', async () => {
    const svc = service!;
    const keyOf = (serverId: string): SecretKey => ({ region: sim.region, projectId: sim.projectId, serverId });
    /** Indices of `runId`'s batches whose password is in the vault (read through a second handle). */
    const run1Batches = async (runId: string): Promise<Set<number>> => {
      const tokens = new Map(Array.from({ length: SERVER_COUNT / BATCH_SIZE }, (_, i) => [batchToken({ runId, batchIndex: i, generation: 0 }), i] as const));
      const reader = await openFileVault({ path: join(dir, 'vault.json.enc'), key: vaultKey, clock: systemClock, logger: log.logger });
      try {
        const found = new Set<number>();
        for (const { id } of servers) {
          for (const v of (await reader.describe(keyOf(id)))?.versions ?? []) {
            const i = tokens.get(v.versionId);
            if (i !== undefined) found.add(i);
          }
        }
        return found;
      } finally {
        await reader.close();
      }
    };
    const resetsAnswered = (): number => Object.values(sim.counters().requests.batchResetPasswords ?? {}).reduce((a, b) => a + b, 0);

    // Run 1: fanned out into 4 batches, 2 in flight at a time.
    const run1 = (await svc.queues.enqueueManualRun(TARGET, { uuid: randomUUID() })).runId;
    await until('the first reset call of run 1 to be answered', () => resetsAnswered() > 0, 20_000);

    // Redis dies mid-run.
    const logAtKill = log.text().length;
    // Subscribed before the kill: the command client's first reconnect attempt cannot be missed.
    const reconnecting = new Promise<void>((resolve) => svc.redis.once('reconnecting', () => resolve()));
    await redisA!.kill();
    const port = redisA!.port;
    // The outage as the service lives it: its command client reconnects, and the queues report
    // their connection errors (through the logger). Only then does "no crash" say something.
    await reconnecting;
    await until('the queues to report the outage', () => logMessages(log.text().slice(logAtKill)).some((m) => m.msg === 'queue error'), 20_000);
    expect(crashes, 'no crash while Redis is down').toEqual([]);
    const logAtRestart = log.text().length;

    // A new, EMPTY Redis on the same port.
    redisB = await startRedisServer({ port });
    const probe = new Redis(redisB.url, { maxRetriesPerRequest: null });
    try {
      // The service's command client is back (it answers on the new server).
      await until('the service to reconnect', async () => svc.redis.status === 'ready' && (await svc.redis.ping()) === 'PONG', 20_000);

      // Run 1's batches that had stored their password outlive their jobs: they resume in this
      // process once Redis answers. Wait for them to end (their `batch finished` line) before the
      // simulator stops failing, so their outcome stays unknown.
      const orphans = await run1Batches(run1);
      expect(orphans.size, 'run 1 had stored passwords when Redis died').toBeGreaterThan(0);
      const finished = (): Set<number> =>
        new Set(
          logMessages(log.text())
            .filter((m) => m.msg === 'batch finished')
            .map((m) => JSON.parse(m.line) as { runId: string; batchIndex: number })
            .filter((m) => m.runId === run1)
            .map((m) => m.batchIndex),
        );
      await until("run 1's interrupted batches to end", () => [...orphans].every((i) => finished().has(i)), 30_000);
      sim.setFaults({ error500Probability: 0, latencyMs: { fixed: 0, jitter: 0 } });

      // Run 2: through the queue, watched from the new Redis.
      const watcher = await startRunWatcher({ queues: svc.queues, connect: () => createRedisConnection(redisB!.url) });
      let summary: RunSummary;
      let run2: string;
      try {
        run2 = (await svc.queues.enqueueManualRun(TARGET, { uuid: randomUUID() })).runId;
        summary = await watcher.wait(run2, 40_000);
      } finally {
        await watcher.close();
      }
      const outcomes = new Map<string, ServerOutcome>();
      for (let i = 0; i < summary.batches; i++) {
        const job = await svc.queues.batches.getJob(`${run2}|b${i}`);
        expect(job, `batch ${i} of run 2`).toBeDefined();
        for (const o of outcomesOfBatch(job!.returnvalue as BatchResult, job!.data.serverIds)) {
          expect(outcomes.has(o.serverId), `${o.serverId} has one outcome in run 2`).toBe(false);
          outcomes.set(o.serverId, o);
        }
      }
      // The workers processed again: every server has its outcome.
      expect([...outcomes.keys()].sort()).toEqual(servers.map((s) => s.id).sort());
      expect(summary.failedBatches).toEqual([]);
      // Run 1's job went down with the old Redis.
      expect(await svc.queues.runs.getJob(run1)).toBeUndefined();

      // Quiet: stop the service, which waits for run 1's orphaned batches (their jobs are gone, their
      // processors still finish in this process). Only then are vault and servers compared.
      await svc.stop();
      service = undefined;
      expect(crashes, 'no crash or unhandled rejection').toEqual([]);
      expect(consoleError.mock.calls.length, 'errors go to the service log, not raw to the console').toBe(0);
      // …where the outage shows (queue and worker connection errors).
      expect(logMessages(log.text().slice(logAtKill, logAtRestart)).some((m) => m.msg === 'queue error')).toBe(true);

      const vault = await openFileVault({ path: join(dir, 'vault.json.enc'), key: vaultKey, clock: systemClock, logger: log.logger });
      const allPasswords = new Set<string>();
      const report: Record<string, number> = {};
      const count = (k: string): void => {
        report[k] = (report[k] ?? 0) + 1;
      };
      try {
        for (const { id } of servers) {
          const d = await vault.describe(keyOf(id));
          const versions: SecretVersion[] = [];
          for (const v of d?.versions ?? []) {
            const full = await vault.getVersion(keyOf(id), { versionId: v.versionId });
            if (full) versions.push(full);
          }
          for (const v of versions) allPasswords.add(v.value.password);
          const labelled = versions.filter((v) => v.labels.length > 0);
          const seq = sim.receivedSequence(id);
          const o = outcomes.get(id)!;

          // Invariant 1: whatever logs in now, and after a restart, is a labelled version.
          expect(seq.length, `${id} received a password`).toBeGreaterThan(0);
          expect(labelled.some((v) => sim.login(id, v.value.password)!.now), `${id}: the password in effect is labelled in the vault`).toBe(true);
          expect(labelled.some((v) => sim.login(id, v.value.password)!.afterRestart), `${id}: the password after a restart is labelled`).toBe(true);
          // AWSPENDING may stay on the AWSCURRENT version (settled, src/rotation/labels.ts), nowhere else.
          expect(d!.versions.some((v) => v.labels.includes(LABEL_PENDING) && !v.labels.includes(LABEL_CURRENT)), `${id}: nothing left pending`).toBe(false);

          // Every password the server received is one the vault holds (stored before it was sent).
          const received = versions.filter((v) => sim.wasReceived(id, v.value.password));
          expect(received.length, `${id}: every received password is in the vault`).toBe(new Set(seq.map((r) => r.password)).size);
          // One password per run at most, never interleaved: once a newer one arrived, an older never again.
          expect(new Set(seq.map((r) => r.password)).size, `${id}: at most one password per run`).toBeLessThanOrEqual(2);
          for (let i = 1; i < seq.length; i++) expect(seq[i]!.password, `${id}: no older password after a newer`).toBeGreaterThanOrEqual(seq[i - 1]!.password);

          // A sent password of the interrupted run was promoted (the vault knew it was accepted) or
          // the second run resent it before anything new.
          const fromRun1 = received.filter((v) => v.value.runId === run1);
          expect(fromRun1.length, `${id}: run 1 sent at most one password`).toBeLessThanOrEqual(1);
          const v1 = fromRun1[0];
          if (v1 !== undefined) {
            if (o.versionId === v1.versionId) {
              count('run 2 resent the pending password of run 1');
            } else {
              count('run 1 password accepted and promoted before run 2');
              expect(v1.labels.length, `${id}: run 1's accepted password kept a label (it was promoted, not left pending)`).toBeGreaterThan(0);
              expect(v1.labels.includes(LABEL_PENDING) && !v1.labels.includes(LABEL_CURRENT)).toBe(false);
            }
          } else {
            count('run 1 never sent a password');
          }

          // Invariant 5: run 2's outcome matches the server.
          count(`run 2 outcome ${o.outcome}`);
          expect(['rotated-unverified', 'pending-restart', 'busy'], `${id}: run 2 outcome ${o.outcome} (${o.code ?? ''})`).toContain(o.outcome);
          if (o.outcome === 'rotated-unverified' || o.outcome === 'pending-restart') {
            const sent = versions.find((v) => v.versionId === o.versionId);
            expect(sent, `${id}: run 2's version is in the vault`).toBeDefined();
            expect(sim.wasReceived(id, sent!.value.password), `${id}: run 2's password was received`).toBe(true);
            const login = sim.login(id, sent!.value.password)!;
            expect(login.afterRestart, `${id}: run 2's password takes effect`).toBe(true);
            if (o.outcome === 'rotated-unverified') {
              expect(login.now, `${id}: rotated means restarted, the password logs in now`).toBe(true);
              expect(sim.server(id)!.status).toBe('ACTIVE');
            }
          }
        }
      } finally {
        await vault.close();
      }
      expect(report['run 2 outcome rotated-unverified'] ?? 0, 'run 2 rotated servers').toBeGreaterThan(0);
      // The case this test is about did happen: passwords of run 1 with an unknown outcome, resent by run 2.
      expect(report['run 2 resent the pending password of run 1'] ?? 0, 'run 2 resent pending passwords').toBeGreaterThan(0);
      console.info(`redis-outage: ${JSON.stringify(report)}`);

      // Invariant 2: no password in the new Redis (every key and value) or in any log line.
      const stored = await dumpUnder(probe, '');
      expect(stored).toContain(run2);
      const logs = log.text();
      expect(allPasswords.size, "one password per batch of each run at least").toBeGreaterThanOrEqual(summary.batches);
      for (const password of allPasswords) {
        // Not `toContain`: a failure message must not print the password either.
        if (stored.includes(password)) expect.fail('a generated password appears in Redis');
        if (logs.includes(password)) expect.fail('a generated password appears in the logs');
      }

      // What the service said while Redis was down and right after (for the report).
      const outage = logMessages(logs.slice(logAtKill, logAtRestart)).map((m) => `${m.level} ${m.msg}`);
      const after = logMessages(logs.slice(logAtRestart))
        .filter((m) => m.level >= 40)
        .map((m) => m.line.slice(0, 300));
      console.info(`redis-outage: ${outage.length} log lines while Redis was down:\n${[...new Set(outage)].join('\n')}`);
      console.info(`redis-outage: warnings/errors after Redis came back (${after.length}):\n${after.slice(0, 30).join('\n')}`);
    } finally {
      probe.disconnect();
    }
  }, 90_000);
});
