/**
 * The worker-side admission check end to end (issue 13): batch jobs that did not come from their
 * run's fan-out, or that name a server outside the target, fail for good inside the real worker,
 * and nothing is done for their servers: no reset, no reboot, no secret, no outcome, no audit event.
 * Also: the service passes http.allowedHosts and http.allowedOrigins to its HTTP guards.
 * Real service in-process (worker + dashboard roles), real Redis, the embedded simulator, the file vault.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigOrThrow } from '../../src/config/index.js';
import { startService } from '../../src/main.js';
import { batchJobId, manualRunId } from '../../src/domain/job-ids.js';
import type { BatchJobData } from '../../src/queue/job-schemas.js';
import { rawRequest } from '../helpers/raw-http.js';
import { REDIS_URL, capturedLogger, deleteUnder, redisClient, uniquePrefix } from './queue-helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startFixture() {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-admission-'));
  const prefix = uniquePrefix('adm13');
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
      http: { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, readOnly: false, allowedHosts: ['rotator.internal.example'], allowedOrigins: ['https://rotator.internal.example'] },
      simulator: { enabled: true, host: '127.0.0.1', port: 0, servers: 8, seed: 7 },
      limits: { shutdownGraceMs: 5000 },
      logging: { level: 'debug', format: 'json' },
    }),
  );
  await writeFile(
    join(dir, 'jobs', 'web.yaml'),
    ['name: web', 'account: demo', 'schedule: "0 3 * * *"', 'selector: { tags: { rotate: "true", env: prod } }', 'batchSize: 3', 'restartPolicy: none'].join('\n'),
  );
  const env = { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') };
  const config = await loadConfigOrThrow({ configPath: configFile, jobsDir: join(dir, 'jobs'), env, cwd: dir });
  const log = capturedLogger('debug');
  const service = await startService({ config, logger: log.logger, env, cwd: dir, httpPort: 0, simulatorPort: 0, catchUp: false, roles: ['worker', 'dashboard'] });
  cleanups.push(() => service.stop());
  const events = new QueueEvents('batches', { connection: redisClient(), prefix });
  await events.waitUntilReady();
  cleanups.push(() => events.close());
  const sim = service.simulator!;
  const outside = sim.servers().find((s) => s.tags.rotate !== 'true' || s.tags.env !== 'prod');
  const inside = sim.servers().find((s) => s.tags.rotate === 'true' && s.tags.env === 'prod' && s.status === 'ACTIVE' && s.plugin && !s.locked);
  expect(outside, 'the seeded fleet has a server outside the target').toBeDefined();
  expect(inside, 'the seeded fleet has a server inside the target').toBeDefined();
  return { service, events, prefix, outside: outside!, inside: inside!, logs: log.text };
}

async function failureOf(job: Job, events: QueueEvents): Promise<string> {
  try {
    await job.waitUntilFinished(events, 60_000);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`job ${job.id} completed: it should have been refused`);
}

describe('the batch worker admits only batches of their run and target', () => {
  it('refuses a batch for a server outside the target, added through bull-board or straight into Redis, with no side effect', async () => {
    const { service, events, outside, inside } = await startFixture();
    const queues = service.queues;
    const sim = service.simulator!;
    const forged: BatchJobData = { runId: manualRunId('web', randomUUID()), target: 'web', batchIndex: 0, serverIds: [outside.id], dryRun: false, restartPolicy: 'hard' };

    // The dashboard's "add job" is closed even with readOnly false.
    const viaBoard = await rawRequest(`${service.http!.url}/ui/api/queues/batches/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'batch', data: forged }),
    });
    expect(viaBoard.status).toBe(405);

    // What the dashboard's add did before: a plain job in the batches queue (no parent, a counter id).
    const plain = await queues.batches.add('batch', forged, { attempts: 3 });
    const plainFailure = await failureOf(plain, events);
    expect(plainFailure).toContain('BATCH_NOT_ADMITTED');
    expect(plainFailure).toContain('was not created by its run');

    // A Redis writer imitating the fan-out: a real (delayed, so unplanned) run of the target, and a
    // batch with the fan-out's id and parent, for a server outside the target with a hard reboot.
    const runId = manualRunId('web', randomUUID());
    await queues.runs.add('run', { target: 'web', trigger: 'manual', dryRun: false, restartPolicy: 'hard' }, { jobId: runId, delay: 3_600_000 });
    const mimic = await queues.batches.add(
      'batch',
      { ...forged, runId, serverIds: [inside.id, outside.id] },
      { ...queues.batchJobOptions(runId, 0), attempts: 3 },
    );
    expect(mimic.id).toBe(batchJobId(runId, 0));
    const mimicFailure = await failureOf(mimic, events);
    expect(mimicFailure).toBe(`BATCH_NOT_ADMITTED: batch 0 of ${runId} refused, nothing done: servers not in target web: ${outside.id}`);

    // Non-retryable: one attempt each, not three.
    expect((await queues.batches.getJob(plain.id!))?.attemptsMade).toBe(1);
    expect((await queues.batches.getJob(mimic.id!))?.attemptsMade).toBe(1);

    // No side effect for either server: no reset, no reboot, no secret, no outcome, no audit event.
    for (const server of [outside, inside]) {
      expect(sim.server(server.id)?.resetCount).toBe(0);
      expect(sim.server(server.id)?.passwordsReceived).toBe(0);
      expect(await service.outcomes.getServer(server.id)).toBeUndefined();
      expect(await service.audit.readServerHistory(server.id, 10)).toEqual([]);
      expect(await service.vault!.describe({ region: sim.region, projectId: sim.projectId, serverId: server.id })).toBeUndefined();
    }
    const requests = sim.counters().requests;
    expect(requests.batchResetPasswords).toBeUndefined();
    expect(requests.batchReboot).toBeUndefined();
  });

  it('refuses a batch whose restart policy or dry-run flag differs from its run', async () => {
    const { service, events, inside } = await startFixture();
    const queues = service.queues;
    const runId = manualRunId('web', randomUUID());
    await queues.runs.add('run', { target: 'web', trigger: 'manual', dryRun: true }, { jobId: runId, delay: 3_600_000 });
    const job = await queues.batches.add(
      'batch',
      { runId, target: 'web', batchIndex: 0, serverIds: [inside.id], dryRun: false, restartPolicy: 'hard' },
      queues.batchJobOptions(runId, 0),
    );
    const failure = await failureOf(job, events);
    expect(failure).toContain("dryRun false differs from the run's dryRun true");
    expect(failure).toContain("restart policy hard is not the one allowed for this run: the target's own");
    expect(service.simulator!.server(inside.id)?.resetCount).toBe(0);
  });

  it('still rotates the batches of a genuine run', async () => {
    const { service, inside, outside } = await startFixture();
    const { runId } = await service.queues.enqueueManualRun('web', { dryRun: false });
    const events = new QueueEvents('runs', { connection: redisClient(), prefix: service.queues.prefix });
    await events.waitUntilReady();
    cleanups.push(() => events.close());
    const run = await service.queues.runs.getJob(runId);
    const summary = (await run!.waitUntilFinished(events, 90_000)) as { counts: Record<string, number>; failedBatches: unknown[] };
    expect(summary.failedBatches).toEqual([]);
    expect(summary.counts['pending-restart'] ?? 0).toBeGreaterThan(0);
    expect(service.simulator!.server(inside.id)?.resetCount).toBeGreaterThan(0);
    expect(service.simulator!.server(outside.id)?.resetCount).toBe(0);
  });
});

describe('the service wires its HTTP guards from the config', () => {
  it('answers to http.allowedHosts and accepts writes from http.allowedOrigins, refusing others', async () => {
    const { service } = await startFixture();
    const base = service.http!.url;
    expect((await rawRequest(`${base}/api/status`, { headers: { host: 'rotator.internal.example' } })).status).toBe(200);
    expect((await rawRequest(`${base}/api/status`, { headers: { host: 'attacker.example' } })).status).toBe(403);
    const write = (origin: string) =>
      rawRequest(`${base}/api/targets/web/runs`, {
        method: 'POST',
        headers: { host: 'rotator.internal.example', origin, 'content-type': 'application/json' },
        body: '{"dryRun":true}',
      });
    expect((await write('https://rotator.internal.example')).status).toBe(202);
    expect((await write('https://attacker.example')).status).toBe(403);
  });
});
