/**
 * The ECS client against the local Huawei ECS simulator over real HTTP: every operation, partial
 * failures in both modes, throttling under concurrency, a hung request, and `rotator ecs servers`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import type { HuaweiEcsClient } from '../../src/adapters/huawei-ecs/huawei-ecs-client.js';
import { DEFAULT_ECS_RETRY_POLICY } from '../../src/adapters/huawei-ecs/retry-policy.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { DEMO_CREDENTIALS, DEMO_TOKEN } from '../../src/simulator/demo-credentials.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/simulator.js';
import type { EcsServer } from '../../src/domain/server.js';
import { checkEligibility } from '../../src/rotation/eligibility.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');

let sim: RunningSimulator | undefined;
const clients: HuaweiEcsClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await sim?.close();
  sim = undefined;
});

async function start(options: SimulatorOptions): Promise<RunningSimulator> {
  sim = await startSimulator(options);
  return sim;
}

function captured() {
  let text = '';
  const stream = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
  return { logger: pino({ level: 'debug' }, stream), text: () => text };
}

function clientFor(s: RunningSimulator, overrides: { timeoutMs?: number; maxAttempts?: number; token?: boolean; requestsPerSecond?: number } = {}) {
  const log = captured();
  const client = createEcsClient(
    {
      name: 'sim',
      region: s.region,
      projectId: s.projectId,
      endpoint: s.url,
      requestTimeoutMs: overrides.timeoutMs ?? 5000,
      requestsPerSecond: overrides.requestsPerSecond ?? 1000,
      maxAttempts: overrides.maxAttempts ?? 5,
    },
    overrides.token ? { kind: 'token', token: DEMO_TOKEN } : { kind: 'aksk', ...DEMO_CREDENTIALS },
    {
      clock: systemClock,
      random: cryptoRandom,
      logger: log.logger,
      retry: { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: overrides.maxAttempts ?? 5, baseDelayMs: 20, maxDelayMs: 250 },
    },
  );
  clients.push(client);
  return { client, logs: log.text };
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

const passwordFor = (i: number): string => `Kx7@q${i}Zm9-wP`;

describe('HuaweiEcsClient against the simulator', () => {
  it('lists with paging, gets servers and reset flags, matching the simulator fleet', async () => {
    const s = await start({ fleet: { count: 23, seed: 7, lockedFraction: 0.2, noPluginFraction: 0.2, shutoffFraction: 0.2 } });
    const { client } = clientFor(s);
    const listed = await all(client.listServers({}, { pageSize: 5 }));
    const views = s.servers();
    expect(listed.map((x) => x.id).sort()).toEqual(views.map((v) => v.id).sort());
    expect(new Set(listed.map((x) => x.id)).size).toBe(23);
    expect(s.counters().requests.listServers?.['200']).toBe(5);

    for (const view of views) {
      const server = listed.find((x) => x.id === view.id)!;
      expect(server).toMatchObject({ name: view.name, osType: view.osType, status: view.status, locked: view.locked, tags: view.tags });
    }
    const tagged = await all(client.listServers({ tags: { rotate: 'true', env: 'prod' } }));
    expect(tagged.map((x) => x.id).sort()).toEqual(views.filter((v) => v.tags.rotate === 'true' && v.tags.env === 'prod').map((v) => v.id).sort());

    const one = views[3]!;
    expect(await client.getServer(one.id)).toMatchObject({ id: one.id, name: one.name });
    expect(await client.getServer('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    for (const view of views.slice(0, 8)) expect(await client.getResetPasswordFlag(view.id)).toBe(view.plugin);
  });

  it('token auth works too', async () => {
    const s = await start({ fleet: { count: 3, seed: 1 } });
    const { client } = clientFor(s, { token: true });
    expect(await all(client.listServers({}))).toHaveLength(3);
  });

  it.each(['400-internal-error', '200-subset'] as const)(
    'resets a mixed batch (%s): each server classified honestly; dry run changes nothing; reboot activates',
    async (mode) => {
      const s = await start({
        fleet: { count: 30, seed: 11, lockedFraction: 0.15, noPluginFraction: 0.15, shutoffFraction: 0.15 },
        partialFailureMode: mode,
        rebootDurationMs: 100,
      });
      const { client, logs } = clientFor(s);
      const servers: EcsServer[] = await all(client.listServers({}));
      const ids = servers.map((x) => x.id);
      const eligible = new Set(servers.filter((x) => checkEligibility(x, s.server(x.id)!.plugin).eligible).map((x) => x.id));
      expect(eligible.size).toBeGreaterThan(0);
      expect(eligible.size).toBeLessThan(ids.length);

      const dry = await client.batchResetPasswords({ password: undefined, serverIds: ids, dryRun: true });
      expect(dry.results).toHaveLength(ids.length);
      expect(s.servers().every((v) => v.resetCount === 0 && !v.hasStagedPassword)).toBe(true);

      const password = 'Tr0ub4dor&3'.replace('&', '@');
      const { results } = await client.batchResetPasswords({ password, serverIds: ids });
      expect(results.map((r) => r.serverId)).toEqual(ids);
      for (const r of results) {
        if (mode === '400-internal-error') {
          // Huawei lists only the refused servers; the others were changed all the same but are listed
          // nowhere, so they must be unknown (never rejected: their pending password is in effect).
          if (eligible.has(r.serverId)) expect(r).toMatchObject({ kind: 'unknown', code: 'Ecs.0611' });
          else expect(r).toMatchObject({ kind: 'rejected', code: expect.stringMatching(/^(Ecs\.0605|Ecs\.0613|Ecs\.0100)$/) });
        } else if (eligible.has(r.serverId)) expect(r.kind).toBe('accepted');
        else expect(r).toMatchObject({ kind: 'unknown', code: 'NOT_IN_RESPONSE' });
      }
      const changed = [...eligible];
      for (const id of changed) expect(s.login(id, password)).toEqual({ now: false, afterRestart: true });
      for (const id of ids.filter((x) => !eligible.has(x))) expect(s.login(id, password)?.afterRestart).toBe(false);

      const { jobId } = await client.batchReboot(changed, 'SOFT');
      const job = await client.waitForJob(jobId, { deadlineMs: 10_000, pollIntervalMs: 30 });
      expect(job.status).toBe('SUCCESS');
      expect(job.subJobs.map((j) => j.serverId).sort()).toEqual([...changed].sort());
      for (const id of changed) expect(s.login(id, password)?.now).toBe(true);
      expect(logs()).not.toContain(password);
    },
  );

  it('200 concurrent calls under gateway throttling: none lost, every server classified exactly once', async () => {
    const s = await start({
      fleet: { count: 200, seed: 3, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 },
      faults: { throttle: { ratePerSecond: 100, burst: 20 } },
    });
    const { client, logs } = clientFor(s, { maxAttempts: 40 });
    const servers = await all(client.listServers({}, { pageSize: 1000 }));
    expect(servers).toHaveLength(200);
    const outcomes = await Promise.all(
      servers.map((server, i) => client.batchResetPasswords({ password: passwordFor(i), serverIds: [server.id] })),
    );
    const classified = outcomes.flatMap((o) => o.results);
    expect(classified).toHaveLength(200);
    expect(new Set(classified.map((r) => r.serverId)).size).toBe(200);
    expect(classified.every((r) => r.kind === 'accepted')).toBe(true);
    const counters = s.counters().requests.batchResetPasswords ?? {};
    expect(counters['429'] ?? 0).toBeGreaterThan(0);
    expect(counters['200']).toBe(200);
    for (const [i, server] of servers.entries()) {
      const view = s.server(server.id)!;
      expect(view.resetCount).toBe(1);
      expect(s.wasReceived(server.id, passwordFor(i))).toBe(true);
    }
    expect(logs()).toContain('APIGW.0308');
  });

  it('a hung reset times out and is retried with the same password (the server never sees two)', async () => {
    const s = await start({ fleet: { count: 4, seed: 5, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 } });
    const { client, logs } = clientFor(s, { timeoutMs: 400 });
    const servers = await all(client.listServers({}));
    s.setFaults({ hangProbability: 1, apis: ['batchResetPasswords'], faultTiming: 'after-processing' });
    const pending = client.batchResetPasswords({ password: passwordFor(1), serverIds: servers.map((x) => x.id) });
    // Wait for the simulator to swallow the first attempt, then let the retry through.
    while ((s.counters().requests.batchResetPasswords?.hang ?? 0) < 1) await new Promise((r) => setTimeout(r, 10));
    s.setFaults({ hangProbability: 0 });
    const { results } = await pending;
    expect(results.every((r) => r.kind === 'accepted')).toBe(true);
    expect(logs()).toContain('"code":"TIMEOUT"');
    for (const server of servers) {
      const view = s.server(server.id)!;
      expect(view.distinctPasswordsReceived).toBe(1);
      expect(s.login(server.id, passwordFor(1))?.afterRestart).toBe(true);
    }
  });
});

describe('rotator ecs servers <target>', () => {
  it('prints each server with eligibility or the reason, and a count line; --json too', async () => {
    const s = await start({ fleet: { count: 20, seed: 42, lockedFraction: 0.2, noPluginFraction: 0.2, shutoffFraction: 0.2 } });
    const dir = await mkdtemp(join(tmpdir(), 'rotator-ecs-cli-'));
    try {
      const jobs = join(dir, 'jobs');
      await run('mkdir', ['-p', jobs]);
      await writeFile(
        join(dir, 'config.yaml'),
        [
          'accounts:',
          '  - name: demo',
          `    region: ${s.region}`,
          `    projectId: ${s.projectId}`,
          '    endpoint: simulator',
          'simulator:',
          '  enabled: false',
          '  host: 127.0.0.1',
          `  port: ${s.port}`,
          '  servers: 20',
          '  seed: 42',
          'logging:',
          '  level: warn',
          '  format: json',
        ].join('\n'),
      );
      await writeFile(
        join(jobs, 'preview.yaml'),
        ['name: preview', 'account: demo', 'schedule: "0 3 * * *"', 'selector:', '  tags:', '    rotate: "true"', ''].join('\n'),
      );
      const env = { ...process.env, ROTATOR_FROM_SOURCE: '1', HUAWEI_AK: '', HUAWEI_SK: '' };
      const args = ['bin/rotator.js', '--config', join(dir, 'config.yaml'), '--jobs', jobs, 'ecs', 'servers', 'preview'];
      const table = await run(process.execPath, args, { cwd: repoRoot, env });
      const expected = s.servers().filter((v) => v.tags.rotate === 'true');
      const lines = table.stdout.trim().split('\n');
      for (const v of expected) {
        const line = lines.find((l) => l.startsWith(v.id));
        expect(line, v.id).toBeDefined();
        if (v.locked) expect(line).toContain('no: locked');
        else if (v.status !== 'ACTIVE') expect(line).toContain(`no: status (status is ${v.status}`);
        else if (!v.plugin) expect(line).toContain('no: no-reset-plugin');
        else expect(line).toMatch(/\byes$/);
      }
      const ok = expected.filter((v) => !v.locked && v.status === 'ACTIVE' && v.plugin).length;
      expect(lines.at(-1)).toMatch(new RegExp(`^${expected.length} servers: ${ok} eligible, ${expected.length - ok} not`));
      expect(ok).toBeLessThan(expected.length);

      const json = await run(process.execPath, [...args, '--json'], { cwd: repoRoot, env });
      const doc = JSON.parse(json.stdout) as { total: number; eligible: number; servers: { id: string; eligible: boolean; code?: string }[] };
      expect(doc.total).toBe(expected.length);
      expect(doc.eligible).toBe(ok);
      expect(doc.servers.filter((r) => !r.eligible).every((r) => typeof r.code === 'string')).toBe(true);

      const unknown = await run(process.execPath, [...args.slice(0, -1), 'nope'], { cwd: repoRoot, env }).catch((e: { code: number; stderr: string }) => e);
      expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('target "nope" not found') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
