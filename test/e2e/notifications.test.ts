/**
 * Notifications end to end: real runs through the pipeline, and real HTTP receivers on port 0 that
 * check the webhook's HMAC-SHA256 signature the way a receiver would (recomputing it from the
 * timestamp header and the raw body). The webhook receiver answers 503 to its first deliveries: the
 * notifier retries with backoff and records the delivery. A Slack-compatible receiver only gets the
 * target that lists it. Run failed, servers turned overdue, recovered; never a password.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { RedisNotificationStore } from '../../src/adapters/redis/index.js';
import { startPipeline, type Pipeline } from './pipeline-harness.js';
import { redisClient } from './queue-helpers.js';

const SECRET = 'webhook-signing-secret-for-tests-0123456789';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  status: number;
}

/** A receiver that answers `failFirst` requests with 503, then 200; `waitFor` resolves on a matching request. */
async function receiver(failFirst: number): Promise<{ url: string; received: Received[]; waitFor(pred: (r: Received) => boolean, what: string): Promise<Received>; close(): Promise<void> }> {
  const received: Received[] = [];
  const waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const status = received.length < failFirst ? 503 : 200;
      const r: Received = { headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown>, status };
      received.push(r);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
      if (status === 200) for (const w of waiters.filter((x) => x.pred(r))) w.resolve(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor: (pred, what) => {
      const done = received.find((r) => r.status === 200 && pred(r));
      if (done) return Promise.resolve(done);
      return new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} arrived`)), 60_000);
        waiters.push({ pred, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does: HMAC-SHA256 over "<timestamp>.<raw body>", compared in constant time. */
function signatureValid(r: Received, secret: string): boolean {
  const timestamp = String(r.headers['x-rotator-timestamp'] ?? '');
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${r.raw}`).digest('hex')}`);
  const given = Buffer.from(String(r.headers['x-rotator-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const servers: SimServerSpec[] = [
  ...[0, 1, 2].map((i) => ({
    id: `0e000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `web-${i}`,
    osType: 'Linux' as const,
    status: 'ACTIVE',
    locked: false,
    plugin: i !== 2,
    tags: { app: 'web' },
    enterpriseProjectId: '0',
  })),
  ...[0, 1].map((i) => ({
    id: `0f000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `db-${i}`,
    osType: 'Linux' as const,
    status: 'ACTIVE',
    locked: false,
    plugin: true,
    tags: { app: 'db' },
    enterpriseProjectId: '0',
  })),
];
const webIds = servers.filter((s) => s.tags.app === 'web').map((s) => s.id);
const dbIds = servers.filter((s) => s.tags.app === 'db').map((s) => s.id);

describe('notifications: webhook (signed, retried) and Slack-compatible, per target and global', () => {
  let p: Pipeline;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let slack: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver(2);
    slack = await receiver(0);
    p = await startPipeline({
      label: 'notify',
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 50 },
      vault: 'file',
      account: { maxAttempts: 2 },
      targets: [
        { name: 'web', selector: { tags: { app: 'web' } }, batchSize: 10, restartPolicy: 'soft' },
        { name: 'db', selector: { tags: { app: 'db' } }, batchSize: 10, restartPolicy: 'soft', notify: ['chat'] },
      ],
      service: {
        notifications: {
          checkIntervalSeconds: 3600,
          channels: [
            { name: 'ops-hook', kind: 'webhook', url: hook.url, maxAttempts: 4 },
            { name: 'chat', kind: 'slack', targets: 'listed', events: ['run-failed', 'server-recovered'] },
          ],
        },
      },
      env: { ROTATOR_NOTIFY_SECRET__OPS_HOOK: SECRET, ROTATOR_NOTIFY_URL__CHAT: slack.url },
      notificationBackoff: { baseDelayMs: 50, maxDelayMs: 200 },
    });
  }, 60_000);

  afterAll(async () => {
    await p?.close();
    await hook?.close();
    await slack?.close();
  });

  it('a server turning overdue: signed webhook, delivered after two 503s, recorded', async () => {
    const run = await p.run('web', 60_000);
    expect(run.summary.counts).toMatchObject({ rotated: 2, skipped: 1 });
    const overdue = await hook.waitFor((r) => r.body.event === 'server-overdue' && r.body.target === 'web', 'server-overdue for web');
    expect(signatureValid(overdue, SECRET)).toBe(true);
    expect(signatureValid(overdue, 'another-secret')).toBe(false);
    expect(overdue.headers['x-rotator-event']).toBe('server-overdue');
    expect(overdue.headers['x-rotator-delivery']).toBe(overdue.body.id);
    expect(Math.abs(Number(overdue.headers['x-rotator-timestamp']) - Date.now() / 1000)).toBeLessThan(120);
    expect(overdue.body.servers).toMatchObject({ count: 1, listed: [{ serverId: webIds[2], reasonCode: 'skipped', passwordAgeDays: null }] });
    // The same body arrived three times: 503, 503, 200 (a retry resends the same delivery id).
    const tries = hook.received.filter((r) => r.body.id === overdue.body.id);
    expect(tries.map((r) => r.status)).toEqual([503, 503, 200]);
    const redis = redisClient();
    try {
      const log = await new RedisNotificationStore({ redis, keyPrefix: p.prefix }).recent(10);
      expect(log.find((d) => d.notificationId === overdue.body.id)).toMatchObject({ channel: 'ops-hook', delivered: true, attempts: 3, status: 200 });
    } finally {
      redis.disconnect();
    }
    // web does not list the Slack channel.
    expect(slack.received.filter((r) => JSON.stringify(r.body).includes('web'))).toHaveLength(0);
  });

  it('a run with failures: webhook and the target\'s Slack channel; then overdue servers', async () => {
    p.sim.setFaults({ error500Probability: 1, apis: ['batchResetPasswords'], faultTiming: 'before-processing' });
    const run = await p.run('db', 120_000);
    p.sim.setFaults({ error500Probability: 0 });
    const failed = await hook.waitFor((r) => r.body.event === 'run-failed' && r.body.target === 'db', 'run-failed for db');
    expect(signatureValid(failed, SECRET)).toBe(true);
    expect(failed.body).toMatchObject({ id: `${run.runId}|run-failed`, run: { runId: run.runId, result: 'partial', servers: 2 } });
    expect((failed.body.run as { problemServers: string[] }).problemServers.sort()).toEqual([...dbIds].sort());
    const chat = await slack.waitFor((r) => String(r.body.text).includes('run of db'), 'Slack run-failed for db');
    expect(chat.body.text).toMatch(/^rotator: run of db ended with 2 of 2 server\(s\) failed or unknown/);
    expect(chat.headers['x-rotator-signature']).toBeUndefined();
    expect(JSON.stringify(chat.body.blocks)).toContain(dbIds[0]);
    const overdue = await hook.waitFor((r) => r.body.event === 'server-overdue' && r.body.target === 'db', 'server-overdue for db');
    expect((overdue.body.servers as { count: number }).count).toBe(2);
  });

  it('recovery: the db servers rotate, both channels hear it', async () => {
    const run = await p.run('db', 60_000);
    expect(run.summary.counts.rotated).toBe(2);
    const recovered = await hook.waitFor((r) => r.body.event === 'server-recovered' && r.body.target === 'db', 'server-recovered for db');
    expect(signatureValid(recovered, SECRET)).toBe(true);
    expect((recovered.body.servers as { listed: { serverId: string }[] }).listed.map((s) => s.serverId).sort()).toEqual([...dbIds].sort());
    await slack.waitFor((r) => String(r.body.text).includes('of db are compliant again'), 'Slack recovery for db');
    // No run-failed for the successful runs.
    expect(hook.received.filter((r) => r.body.event === 'run-failed')).toHaveLength(1);
  });

  it('a run that fails as a whole (servers outside the target): recorded as failed and notified with its reason', async () => {
    const foreign = 'ffffffff-0000-4000-8000-000000000000';
    const { runId } = await p.service.queues.enqueueManualRun('web', { serverIds: [foreign] });
    const failed = await hook.waitFor((r) => r.body.event === 'run-failed' && (r.body.run as { runId: string }).runId === runId, 'run-failed for the failed run');
    expect(signatureValid(failed, SECRET)).toBe(true);
    expect(failed.body.run).toMatchObject({ result: 'failed', servers: 0 });
    expect(String((failed.body.run as { error: string }).error)).toContain('SERVERS_NOT_IN_TARGET');
    expect(failed.body.summary).toMatch(/^rotator: run of web failed: .*SERVERS_NOT_IN_TARGET/);
    const [recorded] = await p.service.runHistory.recent('web', 1);
    expect(recorded).toMatchObject({ runId, result: 'failed' });
  });

  it('deliveries are counted, and no notification carries a password', async () => {
    const metrics = await (await fetch(`${p.service.http!.url}/metrics`)).text();
    expect(metrics).toMatch(/rotator_notifications_total\{channel="ops-hook",event="server-overdue",result="delivered"\} 2/);
    expect(metrics).toMatch(/rotator_notifications_total\{channel="chat",event="run-failed",result="delivered"\} 1/);
    const passwords = await p.vaultPasswords([...webIds, ...dbIds]);
    expect(passwords.size).toBeGreaterThan(0);
    const bodies = [...hook.received, ...slack.received].map((r) => r.raw + JSON.stringify(r.headers)).join('\n');
    expect(bodies.length).toBeGreaterThan(0);
    for (const pw of passwords) if (bodies.includes(pw)) expect.fail('a password appears in a notification');
  });
});
