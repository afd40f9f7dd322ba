/**
 * Replicas and overlaps:
 * 1. Two scheduler PROCESSES (`node bin/rotator.js run --role scheduler`, config and jobs in a temp
 *    dir, a schedule firing every 2 seconds) tick the same slots; Redis holds ONE run job per slot.
 * 2. Two targets sharing servers, triggered at the same moment through the queue, never have one
 *    server in flight in both runs at once: per server, the audit stream's in-flight intervals of the
 *    two runs do not overlap (or one run reports it `busy`), and the simulator's received-password
 *    sequence matches the vault's versions in order.
 * 3. The serialised case, forced: the second run starts once a batch of the first holding shared
 *    servers has completed; both rotate those servers, one after the other, in the vault's order.
 * 4. The busy case, forced: the second run starts while the first still holds the shared servers (its
 *    reboot job is running), so those servers end `busy` in the second run and nothing reaches them.
 * Each test ends with the leak scan of every run so far (no test relies on another to scan its runs).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditEntry } from '../../src/adapters/redis/redis-audit-log.js';
import { LABEL_CURRENT, LABEL_PREVIOUS } from '../../src/ports/vault.js';
import { manualRunId, parseBatchJobId } from '../../src/domain/job-ids.js';
import { BATCH_QUEUE, RotationQueues } from '../../src/queue/rotation-queues.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { startRunWatcher } from '../../src/queue/run-watcher.js';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID } from '../../src/simulator/demo-credentials.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { countKinds, expectNoPasswordLeak, startPipeline } from './pipeline-harness.js';
import type { Pipeline, RunResult } from './pipeline-harness.js';
import { REDIS_URL, deleteUnder, redisClient, runOutcomes, uniquePrefix } from './queue-helpers.js';

describe('two scheduler processes', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  let prefix: string;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const r = redisClient();
    await deleteUnder(r, prefix);
    r.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('enqueue one run per slot', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rotator-sched-procs-'));
    prefix = uniquePrefix('pipe-sched');
    await mkdir(join(dir, 'jobs'));
    await writeFile(
      join(dir, 'service.yaml'),
      JSON.stringify({
        redis: { url: REDIS_URL, keyPrefix: prefix },
        // The scheduler role never calls ECS: the endpoint is never contacted.
        accounts: [{ name: 'sim', region: 'sim-local-1', projectId: DEMO_PROJECT_ID, endpoint: 'http://127.0.0.1:9' }],
        vault: { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } },
        scheduler: { catchUp: false },
        simulator: { enabled: false },
        logging: { level: 'info', format: 'json' },
      }),
    );
    await writeFile(
      join(dir, 'jobs', 'often.yaml'),
      JSON.stringify({ name: 'often', account: 'sim', schedule: '*/2 * * * * *', timezone: 'UTC', selector: { tags: { rotate: 'true' } } }),
    );
    const ticks: { child: number; runId: string; result: string }[][] = [[], []];
    const enough = (): boolean => ticks.every((t) => t.length >= 3);
    const done = new Promise<void>((resolve, reject) => {
      for (const n of [0, 1]) {
        const child = spawn(process.execPath, ['bin/rotator.js', 'run', '--role', 'scheduler'], {
          cwd: process.cwd(),
          env: {
            ...process.env,
            ROTATOR_FROM_SOURCE: '1',
            ROTATOR_CONFIG: join(dir, 'service.yaml'),
            ROTATOR_JOBS_DIR: join(dir, 'jobs'),
            HUAWEI_AK: DEMO_CREDENTIALS.accessKey,
            HUAWEI_SK: DEMO_CREDENTIALS.secretKey,
            REDIS_URL,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(child);
        let buffer = '';
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.on('data', (d: Buffer) => {
          buffer += d.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const line of lines) {
            if (!line.includes('scheduler: tick')) continue;
            const entry = JSON.parse(line) as { runId: string; result: string };
            ticks[n]!.push({ child: n, runId: entry.runId, result: entry.result });
            if (enough()) resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`scheduler ${n} exited early (${code}): ${err.slice(-800)}`)));
      }
    });
    await done;
    const exits = children.map((c) => new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code))));
    for (const c of children) c.kill('SIGTERM');
    void done.catch(() => undefined);
    expect(await Promise.all(exits)).toEqual([0, 0]);

    const all = ticks.flat();
    // Both processes ticked the same slot (the schedule fires every 2 s; a slot is a minute).
    const byChild = ticks.map((t) => new Set(t.map((x) => x.runId)));
    expect([...byChild[0]!].some((id) => byChild[1]!.has(id))).toBe(true);
    const redis = redisClient();
    const queues = new RotationQueues({ connection: redis, prefix, keepCompleted: { count: 100, ageSeconds: 3600 }, keepFailed: { count: 100, ageSeconds: 3600 } });
    try {
      const jobs = await queues.runs.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
      const perSlot = new Map<string, number>();
      for (const j of jobs) perSlot.set(j.data.slot as string, (perSlot.get(j.data.slot as string) ?? 0) + 1);
      for (const [slot, n] of perSlot) expect(n, slot).toBe(1);
      // Exactly the slots that were ticked, each once, though they were ticked many times.
      expect(jobs.map((j) => j.id).sort()).toEqual([...new Set(all.map((t) => t.runId))].sort());
      expect(all.length).toBeGreaterThan(jobs.length);
      expect(jobs.every((j) => j.data.trigger === 'schedule' && j.data.target === 'often')).toBe(true);
    } finally {
      await queues.close();
      redis.disconnect();
    }
  }, 90_000);
});

// 30 servers: `a` on 0..19, `b` on 10..29, so 10..19 are shared.
const servers: SimServerSpec[] = Array.from({ length: 30 }, (_, i) => ({
  id: `0000${String(i).padStart(4, '0')}-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
  name: `ovl-${i}`,
  osType: i % 3 === 0 ? 'Windows' : 'Linux',
  status: 'ACTIVE',
  locked: false,
  plugin: true,
  tags: { ...(i < 20 ? { a: 'y' } : {}), ...(i >= 10 ? { b: 'y' } : {}) },
  enterpriseProjectId: '0',
}));
const shared = servers.slice(10, 20).map((s) => s.id);

interface AuditEntry {
  ts: number;
  runId: string;
  step: string;
  serverId: string;
  outcome: string;
  code?: string;
}

async function readAudit(p: Pipeline): Promise<AuditEntry[]> {
  const r = redisClient();
  try {
    const entries = await r.xrange(`${p.prefix}:audit`, '-', '+');
    return entries.flatMap(([id, fields]) =>
      parseAuditEntry(id, fields).map((e) => ({ ts: e.ts, runId: e.runId, step: e.step, serverId: e.serverId, outcome: e.outcome, ...(e.code ? { code: e.code } : {}) })),
    );
  } finally {
    r.disconnect();
  }
}

/**
 * A server both runs 'rotated-unverified': their in-flight intervals on it (audit events) do not overlap, and the
 * vault's order (AWSPREVIOUS then AWSCURRENT) is the order the server received the passwords in.
 */
async function expectSerialised(p: Pipeline, audit: AuditEntry[], id: string, a: { runId: string }, b: { runId: string }): Promise<void> {
  const interval = (runId: string): [number, number] => {
    const ts = audit.filter((e) => e.runId === runId && e.serverId === id).map((e) => e.ts);
    expect(ts.length, `${id}: audit events of ${runId}`).toBeGreaterThan(0);
    return [Math.min(...ts), Math.max(...ts)];
  };
  const [ia, ib] = [interval(a.runId), interval(b.runId)];
  expect(ia[1] < ib[0] || ib[1] < ia[0], `${id}: both runs in flight at once`).toBe(true);
  const later = ia[0] > ib[0] ? a : b;
  const earlier = later === a ? b : a;
  const current = (await p.vault.getVersion(p.keyOf(id), { label: LABEL_CURRENT }))!;
  expect(current.value.runId, id).toBe(later.runId);
  expect(p.sim.login(id, current.value.password), id).toEqual({ now: true, afterRestart: true });
  const previous = (await p.vault.getVersion(p.keyOf(id), { label: LABEL_PREVIOUS }))!;
  expect(previous.value.runId, id).toBe(earlier.runId);
  expect(previous.createdAt).toBeLessThan(current.createdAt);
  expect(p.sim.wasReceived(id, previous.value.password)).toBe(true);
  expect(p.sim.login(id, previous.value.password)!.now).toBe(false);
}

describe('overlapping targets', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline({
      label: 'pipe-overlap',
      // Reboot jobs outlast the first poll, so a batch holds its servers for a few seconds after the reset.
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 2100, faults: { latencyMs: { fixed: 10, jitter: 20 } } },
      vault: 'file',
      workerConcurrency: 4,
      targets: [
        { name: 'ovl-a', selector: { tags: { a: 'y' } }, batchSize: 5, restartPolicy: 'soft' },
        { name: 'ovl-b', selector: { tags: { b: 'y' } }, batchSize: 5, restartPolicy: 'soft' },
        { name: 'big-a', selector: { tags: { a: 'y' } }, batchSize: 50, restartPolicy: 'soft' },
        { name: 'big-b', selector: { tags: { b: 'y' } }, batchSize: 50, restartPolicy: 'soft' },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await p?.close();
  });

  it('triggered together, no server is in flight in both runs; sequences match the vault', async () => {
    const [a, b] = (await p.runTogether(['ovl-a', 'ovl-b'], 120_000)) as [RunResult, RunResult];
    const audit = await readAudit(p);
    const serialised: string[] = [];
    const exclusive: string[] = [];
    for (const s of servers) {
      const inA = a.outcomes.get(s.id);
      const inB = b.outcomes.get(s.id);
      const runs = [inA && { run: a, o: inA }, inB && { run: b, o: inB }].filter((x) => x !== undefined);
      expect(runs.length, s.id).toBe(shared.includes(s.id) ? 2 : 1);
      for (const { o } of runs) expect(['rotated-unverified', 'busy'], `${s.id} ${o.outcome} ${o.code ?? ''}`).toContain(o.outcome);
      const rotatedBy = runs.filter((x) => x.o.outcome === 'rotated-unverified');
      expect(rotatedBy.length, s.id).toBeGreaterThanOrEqual(1);
      for (const { o } of runs.filter((x) => x.o.outcome === 'busy')) expect(o.code).toBe('busy');
      // Received passwords: one distinct password per run that rotated the server, nothing from a busy run.
      const seq = p.sim.receivedSequence(s.id).map((r) => r.password);
      expect(seq, s.id).toEqual(rotatedBy.map((_, i) => i + 1));
      const d = (await p.vault.describe(p.keyOf(s.id)))!;
      const current = d.versions.find((v) => v.labels.includes(LABEL_CURRENT))!;
      const currentValue = (await p.vault.getVersion(p.keyOf(s.id), { versionId: current.versionId }))!.value;
      expect(p.sim.login(s.id, currentValue.password), s.id).toEqual({ now: true, afterRestart: true });
      if (rotatedBy.length === 2) serialised.push(s.id);
      else exclusive.push(s.id);
    }
    // Every server went one of the two ways (each way checked below, on its own servers).
    expect([...serialised, ...exclusive].sort()).toEqual(servers.map((s) => s.id).sort());
    expect(serialised.every((id) => shared.includes(id))).toBe(true);
    for (const id of serialised) await expectSerialised(p, audit, id, a, b);
    for (const id of exclusive) {
      const runs = [a, b].filter((r) => r.outcomes.has(id));
      const rotatedBy = runs.find((r) => r.outcomes.get(id)!.outcome === 'rotated-unverified')!;
      const current = (await p.vault.getVersion(p.keyOf(id), { label: LABEL_CURRENT }))!;
      expect(current.value.runId, id).toBe(rotatedBy.runId);
      // The busy run (if the server is shared) wrote nothing for it and reset nothing.
      for (const busyRun of runs.filter((r) => r !== rotatedBy)) {
        expect(busyRun.outcomes.get(id)!.outcome, id).toBe('busy');
        expect(audit.filter((e) => e.runId === busyRun.runId && e.serverId === id).map((e) => e.step)).not.toContain('setSecret');
      }
    }
    await expectNoPasswordLeak(p, await p.vaultPasswords(servers.map((s) => s.id)));
  }, 150_000);

  it('a run started once another has released some shared servers rotates them after it, in the vault order', async () => {
    // The serialised case made certain: run B starts only when a batch of run A holding shared
    // servers has completed (a batch releases its locks before its job completes), while the rest of
    // run A may still be in flight.
    const uuidA = randomUUID();
    const runA = manualRunId('ovl-a', uuidA);
    const connection = createRedisConnection(REDIS_URL);
    const batchEvents = new QueueEvents(BATCH_QUEUE, { connection, prefix: p.service.queues.prefix });
    const watchers = await Promise.all([0, 1].map(() => startRunWatcher({ queues: p.service.queues, connect: () => createRedisConnection(REDIS_URL) })));
    try {
      await batchEvents.waitUntilReady();
      const released = new Promise<string[]>((resolve, reject) => {
        let found = false;
        batchEvents.on('completed', ({ jobId }) => {
          if (found || parseBatchJobId(jobId)?.runId !== runA) return;
          p.service.queues.batches.getJob(jobId).then((job) => {
            const ids = (job?.data.serverIds ?? []).filter((id) => shared.includes(id));
            if (found || ids.length === 0) return;
            found = true;
            resolve(ids);
          }, reject);
        });
      });
      expect((await p.service.queues.enqueueManualRun('ovl-a', { uuid: uuidA })).runId).toBe(runA);
      const releasedIds = await released;
      const { runId: runB } = await p.service.queues.enqueueManualRun('ovl-b', { uuid: randomUUID() });
      const [sa, sb] = await Promise.all([watchers[0]!.wait(runA, 60_000), watchers[1]!.wait(runB, 60_000)]);
      const [oa, ob] = [await runOutcomes(p.service.queues, sa), await runOutcomes(p.service.queues, sb)];
      const audit = await readAudit(p);
      for (const id of releasedIds) {
        expect(oa.find((o) => o.serverId === id)?.outcome, `${id} in run A`).toBe('rotated-unverified');
        expect(ob.find((o) => o.serverId === id)?.outcome, `${id} in run B`).toBe('rotated-unverified');
        await expectSerialised(p, audit, id, { runId: runA }, { runId: runB });
        const current = (await p.vault.getVersion(p.keyOf(id), { label: LABEL_CURRENT }))!;
        expect(current.value.runId, `${id}: run B, started later, holds AWSCURRENT`).toBe(runB);
      }
      p.results.push(
        { runId: runA, summary: sa, batches: [], outcomes: new Map(oa.map((o) => [o.serverId, o])) },
        { runId: runB, summary: sb, batches: [], outcomes: new Map(ob.map((o) => [o.serverId, o])) },
      );
      await expectNoPasswordLeak(p, await p.vaultPasswords(servers.map((s) => s.id)));
    } finally {
      for (const w of watchers) await w.close();
      await batchEvents.close();
      await connection.quit();
    }
  }, 120_000);

  it('a run that starts while another holds the shared servers reports them busy and leaves them alone', async () => {
    const before = new Map(servers.map((s) => [s.id, p.sim.server(s.id)!.passwordsReceived]));
    const watchers = await Promise.all([0, 1].map(() => startRunWatcher({ queues: p.service.queues, connect: () => createRedisConnection(REDIS_URL) })));
    const reader = redisClient();
    try {
      const { runId: runA } = await p.service.queues.enqueueManualRun('big-a', { uuid: randomUUID() });
      // Await run A's reset (setSecret audit events): from here it holds its servers through the reboot.
      let last = '$';
      let reached = false;
      while (!reached) {
        const answer = await reader.xread('COUNT', 1000, 'BLOCK', 10_000, 'STREAMS', `${p.prefix}:audit`, last);
        for (const [, entries] of answer ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            const f = new Map<string, string>();
            for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
            if (f.get('runId') === runA && f.get('step') === 'setSecret') reached = true;
          }
        }
        if (answer === null) throw new Error('run A never reached setSecret');
      }
      const { runId: runB } = await p.service.queues.enqueueManualRun('big-b', { uuid: randomUUID() });
      const [sa, sb] = await Promise.all([watchers[0]!.wait(runA, 60_000), watchers[1]!.wait(runB, 60_000)]);
      const [oa, ob] = [await runOutcomes(p.service.queues, sa), await runOutcomes(p.service.queues, sb)];
      expect(sa.counts['rotated-unverified']).toBe(20);
      expect(sb.counts).toMatchObject({ busy: 10, 'rotated-unverified': 10 });
      for (const o of ob) {
        if (shared.includes(o.serverId)) {
          expect(o, o.serverId).toMatchObject({ outcome: 'busy', code: 'busy' });
          // Only run A's password reached it.
          expect(p.sim.server(o.serverId)!.passwordsReceived).toBe(before.get(o.serverId)! + 1);
          const current = (await p.vault.getVersion(p.keyOf(o.serverId), { label: LABEL_CURRENT }))!;
          expect(current.value.runId).toBe(runA);
          expect(p.sim.login(o.serverId, current.value.password)!.now).toBe(true);
        } else {
          expect(o.outcome, o.serverId).toBe('rotated-unverified');
        }
      }
      const audit = await readAudit(p);
      const busyEvents = audit.filter((e) => e.runId === runB && e.outcome === 'busy' && e.step === 'plan');
      expect(busyEvents.map((e) => e.serverId).sort()).toEqual([...shared].sort());
      // Record the runs for the leak scan.
      p.results.push(
        { runId: runA, summary: sa, batches: [], outcomes: new Map(oa.map((o) => [o.serverId, o])) },
        { runId: runB, summary: sb, batches: [], outcomes: new Map(ob.map((o) => [o.serverId, o])) },
      );
      expect(countKinds(new Map(ob.map((o) => [o.serverId, o])))).toEqual({ busy: 10, 'rotated-unverified': 10 });
      await expectNoPasswordLeak(p, await p.vaultPasswords(servers.map((s) => s.id)));
    } finally {
      reader.disconnect();
      for (const w of watchers) await w.close();
    }
  }, 120_000);
});
