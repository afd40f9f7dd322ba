/**
 * The whole service in-process against real Redis, the real embedded simulator and the real file
 * vault: a manual run through the queue rotates the demo fleet; the dashboard serves /ui and
 * /api/status; no password reaches Redis, the logs or any HTTP response.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { LoadedConfig } from '../../src/config/index.js';
import { LABEL_CURRENT, LABEL_PENDING } from '../../src/ports/vault.js';
import { startService } from '../../src/main.js';
import type { RunningService } from '../../src/main.js';
import type { Role } from '../../src/main.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { startRunWatcher } from '../../src/queue/run-watcher.js';
import type { CronFactory } from '../../src/scheduler/scheduler.js';
import { REDIS_URL, capturedLogger, deleteUnder, dumpUnder, redisClient, runOutcomes, uniquePrefix } from './queue-helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** No ticks during a test: the scheduler role starts, but the test decides when runs happen. */
const silentCron: CronFactory = () => ({ stop: () => undefined });

async function fixture(options: { http?: Record<string, unknown>; env?: Record<string, string> } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-service-'));
  const prefix = uniquePrefix('svc');
  cleanups.push(async () => {
    const r = redisClient();
    await deleteUnder(r, prefix);
    r.disconnect();
    await rm(dir, { recursive: true, force: true });
  });
  await mkdir(join(dir, 'jobs'));
  const configFile = join(dir, 'service.yaml');
  await writeFile(
    configFile,
    JSON.stringify({
      redis: { url: REDIS_URL, keyPrefix: prefix },
      vault: { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } },
      http: { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, readOnly: true, ...options.http },
      simulator: { enabled: true, host: '127.0.0.1', port: 0, servers: 8, seed: 7 },
      limits: { shutdownGraceMs: 5000 },
      logging: { level: 'debug', format: 'json' },
    }),
  );
  await writeFile(
    join(dir, 'jobs', 'demo.yaml'),
    [
      'name: demo',
      'account: demo',
      'schedule: "0 3 * * *"',
      'timezone: UTC',
      'selector: { tags: { rotate: "true" } }',
      'batchSize: 3',
      'restartPolicy: none',
      'dryRunPreflight: true',
    ].join('\n'),
  );
  const env = { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64'), ...options.env };
  const config: LoadedConfig = await loadConfigOrThrow({ configPath: configFile, jobsDir: join(dir, 'jobs'), env, cwd: dir });
  return { config, env, dir, prefix };
}

async function start(options: { roles?: Role[]; http?: Record<string, unknown>; env?: Record<string, string> } = {}) {
  const f = await fixture(options);
  const log = capturedLogger('debug');
  const service: RunningService = await startService({
    config: f.config,
    logger: log.logger,
    env: f.env,
    cwd: f.dir,
    httpPort: 0,
    simulatorPort: 0,
    catchUp: false,
    cron: silentCron,
    ...(options.roles ? { roles: options.roles } : {}),
  });
  cleanups.push(() => service.stop());
  return { ...f, service, logs: log.text };
}

describe('run watcher', () => {
  it('reports progress to the last server with onProgress; without it, follows only the run (one connection)', async () => {
    const { service } = await start({ roles: ['worker'] });
    const connects = { withProgress: 0, without: 0 };
    const progress: { done: number; total: number | undefined }[] = [];
    const watching = await startRunWatcher({
      queues: service.queues,
      connect: () => (connects.withProgress++, createRedisConnection(REDIS_URL)),
      onProgress: (done, total) => progress.push({ done, total }),
    });
    cleanups.push(() => watching.close());
    const quiet = await startRunWatcher({ queues: service.queues, connect: () => (connects.without++, createRedisConnection(REDIS_URL)) });
    cleanups.push(() => quiet.close());
    const { runId } = await service.queues.enqueueManualRun('demo', { uuid: randomUUID() });
    const [summary, same] = await Promise.all([watching.wait(runId, 60_000), quiet.wait(runId, 60_000)]);
    expect(same).toEqual(summary);
    expect(summary.batches).toBeGreaterThan(1);
    // The batches' events arrive on their own connection: the last may come after the run's.
    await vi.waitFor(() => expect(progress.at(-1)).toEqual({ done: summary.servers, total: summary.servers }), { timeout: 10_000 });
    expect(connects).toEqual({ withProgress: 2, without: 1 });
  });
});

describe('the service', () => {
  it('rotates the demo fleet through the queue and serves the dashboard without passwords', async () => {
    const { service, prefix, logs } = await start();
    const watcher = await startRunWatcher({ queues: service.queues, connect: () => createRedisConnection(REDIS_URL) });
    cleanups.push(() => watcher.close());
    const { runId } = await service.queues.enqueueManualRun('demo', { uuid: randomUUID() });
    const summary = await watcher.wait(runId, 60_000);

    const sim = service.simulator!;
    const tagged = sim.servers().filter((s) => s.tags.rotate === 'true');
    expect(summary.servers).toBe(tagged.length);
    expect(summary.failedBatches).toEqual([]);
    const total = Object.values(summary.counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(tagged.length);
    expect(summary.counts['pending-restart']).toBeGreaterThan(0);

    // Collect every password the run stored, from the vault (the only place they may be).
    const passwords = new Set<string>();
    for (const o of await runOutcomes(service.queues, summary)) {
      if (o.outcome !== 'pending-restart') continue;
      const key = { region: sim.region, projectId: sim.projectId, serverId: o.serverId };
      for (const label of [LABEL_CURRENT, LABEL_PENDING]) {
        const v = await service.vault!.getVersion(key, { label });
        if (v) passwords.add(v.value.password);
      }
    }
    expect(passwords.size).toBeGreaterThan(0);

    const base = service.http!.url;
    const ui = await fetch(`${base}/ui`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
    const uiHtml = await ui.text();
    const status = await fetch(`${base}/api/status`);
    expect(status.status).toBe(200);
    const statusText = await status.text();
    const body = JSON.parse(statusText) as { targets: { name: string; counts: Record<string, number> }[]; queues: unknown };
    const demo = body.targets.find((t) => t.name === 'demo')!;
    expect(demo.counts['pending-restart']).toBe(summary.counts['pending-restart']);
    // bull-board's own API, which the /ui page reads: job data and return values.
    const boardApi = await (await fetch(`${base}/ui/api/queues?activeQueue=batches&status=completed&page=1&jobsPerPage=50`)).text();
    expect(boardApi).toContain(runId.split('|')[1]!);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // Prometheus: the same per-target figures as /api/status.
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    const metricsText = await metrics.text();
    expect(metricsText).toContain(`rotator_servers{target="demo",outcome="pending-restart"} ${summary.counts['pending-restart']}`);
    expect(metricsText).toMatch(/rotator_queue_jobs\{queue="batches",state="completed"\} [1-9]/);

    const redis = redisClient();
    cleanups.push(async () => void redis.disconnect());
    const stored = await dumpUnder(redis, prefix);
    expect(stored).toContain(runId); // the scan does see the run's keys
    for (const password of passwords) {
      expect(stored).not.toContain(password);
      expect(logs()).not.toContain(password);
      expect(uiHtml + statusText + boardApi + metricsText).not.toContain(password);
    }
  });

  it('rotator status and rotator history show what the run did, from Redis, without passwords', async () => {
    const { service, dir, env } = await start({ roles: ['worker'] });
    const watcher = await startRunWatcher({ queues: service.queues, connect: () => createRedisConnection(REDIS_URL) });
    cleanups.push(() => watcher.close());
    const { runId } = await service.queues.enqueueManualRun('demo', { uuid: randomUUID() });
    const summary = await watcher.wait(runId, 60_000);
    const rotated = (await runOutcomes(service.queues, summary)).find((o) => o.outcome === 'pending-restart')!;
    const sim = service.simulator!;
    const version = await service.vault!.getVersion({ region: sim.region, projectId: sim.projectId, serverId: rotated.serverId }, { label: LABEL_CURRENT });

    // The real CLI, as an operator runs it, against the same config (Redis prefix) as the service.
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'rotator.js'), '--config', join(dir, 'service.yaml'), '--jobs', join(dir, 'jobs'), ...args], {
        env: { ...process.env, ...env, ROTATOR_LOG_LEVEL: 'silent' },
      });
    const status = await cli(['status', 'demo']);
    const statusLine = status.stdout.split('\n').find((l) => l.startsWith(rotated.serverId));
    expect(statusLine).toMatch(/pending-restart/);
    expect(statusLine).toContain(runId);
    const counts = await cli(['status']);
    expect(counts.stdout).toMatch(/demo/);
    const history = await cli(['history', '--server', rotated.serverId, '--json']);
    const events = JSON.parse(history.stdout) as { step: string; runId: string }[];
    // One event per step that changed something (restart policy none: nothing restarted), newest first.
    expect(events.filter((e) => e.runId === runId).map((e) => e.step)).toEqual(['record', 'finishSecret', 'setSecret', 'createSecret']);
    for (const out of [status, counts, history]) expect(out.stdout + out.stderr).not.toContain(version!.value.password);
  });

  it('protects /ui and /api with a token when http.auth.mode is token; probes stay open', async () => {
    const token = 'a-long-dashboard-token-0123456789';
    const { service } = await start({ roles: ['dashboard'], http: { auth: { mode: 'token' } }, env: { ROTATOR_HTTP_TOKEN: token } });
    const base = service.http!.url;
    expect((await fetch(`${base}/api/status`)).status).toBe(401);
    expect((await fetch(`${base}/ui`)).status).toBe(401);
    expect((await fetch(`${base}/api/status`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const basic = Buffer.from(`ops:${token}`).toString('base64');
    expect((await fetch(`${base}/ui`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(service.workers).toBeUndefined();
  });

  it('enqueues manual runs over HTTP only when not read-only, validating the body', async () => {
    const ro = await start({ roles: ['dashboard'] });
    const refused = await fetch(`${ro.service.http!.url}/api/targets/demo/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(405);

    const rw = await start({ roles: ['dashboard'], http: { readOnly: false } });
    const post = (path: string, body: unknown) =>
      fetch(`${rw.service.http!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/api/targets/nope/runs', {})).status).toBe(404);
    const bad = await post('/api/targets/demo/runs', { serverIds: ['not an id'], dryRun: 'yes' });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { message: string };
    expect(badBody.message).toContain('serverIds.0:');
    expect(badBody.message).toContain('dryRun:');
    const ok = await post('/api/targets/demo/runs', { dryRun: true });
    expect(ok.status).toBe(202);
    const { runId } = (await ok.json()) as { runId: string };
    expect(runId).toMatch(/^run\|demo\|manual-/);
    const job = await rw.service.queues.runs.getJob(runId);
    expect(job?.data).toEqual({ target: 'demo', trigger: 'manual', dryRun: true });
  });

  it('refuses a config with token auth but no token, before anything starts', async () => {
    // The config loader reports it (with every other problem); startService checks again for
    // configs built another way.
    await expect(fixture({ http: { auth: { mode: 'token' } } })).rejects.toThrow(/ROTATOR_HTTP_TOKEN/);
  });
});
