/**
 * The HTTP surface as an attacker and a careless client would try it (issue 13): cross-site writes
 * (forms, text/plain, foreign Origin, Sec-Fetch-Site, cached Basic credentials), DNS rebinding
 * (foreign Host), malformed and oversized bodies, security headers on every answer, bull-board's
 * job-writing actions and external assets. Real HTTP server on port 0, real BullMQ queues on Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/create-http-app.js';
import type { HttpAppOptions } from '../../src/http/create-http-app.js';
import { defaultAllowedHosts } from '../../src/http/host-allow-list.js';
import { startHttpServer } from '../../src/http/http-server.js';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import { rawRequest } from '../helpers/raw-http.js';
import { capturedLogger, deleteUnder, redisClient, uniquePrefix } from './queue-helpers.js';

const TOKEN = 'a-long-enough-test-token-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(options: Partial<HttpAppOptions> = {}) {
  const redis = redisClient();
  const prefix = uniquePrefix('http13');
  const queues = new RotationQueues({
    connection: redis,
    prefix,
    keepCompleted: { count: 10, ageSeconds: 60 },
    keepFailed: { count: 10, ageSeconds: 60 },
  });
  const log = capturedLogger('debug');
  const app = createHttpApp({
    queues,
    outcomes: {
      listTargets: async () => [],
      countTarget: async () => ({ rotated: 0, 'pending-restart': 0, failed: 0, unknown: 0, skipped: 0, busy: 0 }),
      // The status page and the metrics read states too (an empty store here).
      listTarget: async function* () {},
      getServer: async () => undefined,
    },
    targets: [{ name: 'web', enabled: true, schedule: '0 3 * * *', timezone: 'UTC' }],
    readOnly: false,
    ready: async () => true,
    logger: log.logger,
    allowedHosts: defaultAllowedHosts('127.0.0.1'),
    ...options,
  });
  const server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
  cleanups.push(async () => {
    await server.close();
    await queues.close();
    await deleteUnder(redis, prefix);
    redis.disconnect();
  });
  const base = `http://127.0.0.1:${server.port}`;
  const runsEnqueued = async (): Promise<number> => (await queues.runs.getJobCounts('waiting', 'active', 'delayed')).waiting ?? 0;
  return { base, queues, logs: log.text, runsEnqueued };
}

const RUNS = '/api/targets/web/runs';

describe('cross-site writes', () => {
  for (const auth of ['none', 'token'] as const) {
    describe(`with auth ${auth}`, () => {
      const authOptions: Partial<HttpAppOptions> = auth === 'token' ? { auth: { mode: 'token', token: TOKEN } } : {};
      const bearer: Record<string, string> = auth === 'token' ? { authorization: `Bearer ${TOKEN}` } : {};

      it('refuses a form post and a text/plain post with 415, enqueuing nothing', async () => {
        const { base, runsEnqueued } = await serve(authOptions);
        const form = await rawRequest(`${base}${RUNS}`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'dryRun=false',
        });
        expect(form.status).toBe(415);
        const text = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { ...bearer, 'content-type': 'text/plain' }, body: '{}' });
        expect(text.status).toBe(415);
        const none = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { ...bearer } });
        expect(none.status).toBe(415);
        expect(await runsEnqueued()).toBe(0);
      });

      it('refuses a JSON post from a foreign Origin or a cross-site Sec-Fetch-Site with 403', async () => {
        const { base, runsEnqueued, logs } = await serve(authOptions);
        const foreign = await rawRequest(`${base}${RUNS}`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/json', origin: 'https://attacker.example' },
          body: '{}',
        });
        expect(foreign.status).toBe(403);
        expect(JSON.parse(foreign.body).error).toBe('cross-site-request');
        const site = await rawRequest(`${base}${RUNS}`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
          body: '{}',
        });
        expect(site.status).toBe(403);
        const nullOrigin = await rawRequest(`${base}${RUNS}`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/json', origin: 'null' },
          body: '{}',
        });
        expect(nullOrigin.status).toBe(403);
        expect(await runsEnqueued()).toBe(0);
        expect(logs()).toContain('cross-site write refused');
      });

      it('accepts a same-origin JSON post and a tool without Origin', async () => {
        const { base, runsEnqueued } = await serve(authOptions);
        const same = await rawRequest(`${base}${RUNS}`, {
          method: 'POST',
          headers: { ...bearer, 'content-type': 'application/json', origin: base, 'sec-fetch-site': 'same-origin' },
          body: '{"dryRun":true}',
        });
        expect(same.status).toBe(202);
        const tool = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json; charset=utf-8' }, body: '{}' });
        expect(tool.status).toBe(202);
        expect(await runsEnqueued()).toBe(2);
      });
    });
  }

  it('does not accept cached Basic credentials for a write, only for reads', async () => {
    const { base, runsEnqueued } = await serve({ auth: { mode: 'token', token: TOKEN } });
    const basic = `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`;
    const write = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: '{}' });
    expect(write.status).toBe(403);
    expect(JSON.parse(write.body).error).toBe('bearer-required');
    expect(await runsEnqueued()).toBe(0);
    expect((await rawRequest(`${base}/api/status`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await rawRequest(`${base}/ui`, { headers: { authorization: basic } })).status).toBe(200);
  });
});

describe('Host allow-list', () => {
  it('refuses Host: attacker.example on the dashboard, its API and the JSON API (DNS rebinding), not on probes', async () => {
    const { base, logs } = await serve();
    for (const path of ['/ui', '/ui/api/queues', '/api/status', '/metrics']) {
      const answer = await rawRequest(`${base}${path}`, { headers: { host: 'attacker.example' } });
      expect(answer.status, path).toBe(403);
      expect(JSON.parse(answer.body).error).toBe('host-not-allowed');
    }
    expect((await rawRequest(`${base}/ui/api/queues`, { headers: { host: 'localhost:8080' } })).status).toBe(200);
    expect((await rawRequest(`${base}/api/status`, { headers: { host: '[::1]:8080' } })).status).toBe(200);
    expect((await rawRequest(`${base}/healthz`, { headers: { host: '10.1.2.3:8080' } })).status).toBe(200);
    expect(logs()).toContain('attacker.example');
  });

  it('answers to configured names', async () => {
    const { base } = await serve({ allowedHosts: [...defaultAllowedHosts('0.0.0.0'), 'rotator.internal.example'] });
    expect((await rawRequest(`${base}/api/status`, { headers: { host: 'ROTATOR.internal.example:443' } })).status).toBe(200);
    expect((await rawRequest(`${base}/api/status`, { headers: { host: 'attacker.example' } })).status).toBe(403);
  });
});

describe('client errors', () => {
  it('answers malformed JSON 400, a 9 MB body 413 and a foreign charset 415, logged at warn, not error', async () => {
    const { base, logs, runsEnqueued } = await serve();
    const malformed = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"dryRun": tru' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).not.toMatch(/at .*\.js|SyntaxError/);
    const huge = await rawRequest(`${base}${RUNS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serverIds: Array.from({ length: 300_000 }, (_, i) => `server-${String(i).padStart(24, '0')}`) }),
    });
    expect(huge.status).toBe(413);
    const latin1 = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' });
    expect(latin1.status).toBe(415);
    const gzip = await rawRequest(`${base}${RUNS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: Buffer.from([0x1f, 0x8b]),
    });
    expect(gzip.status).toBe(415);
    expect(await runsEnqueued()).toBe(0);
    const lines = logs()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.filter((l) => l.msg === 'http: client error')).toHaveLength(4);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});

describe('security headers', () => {
  it('are on every answer: /ui, its API and assets, /api, /metrics, probes, errors and 404s; no X-Powered-By', async () => {
    const { base } = await serve();
    const ui = await rawRequest(`${base}/ui`);
    const asset = /src="(static\/js\/[^"]+)"/.exec(ui.body)?.[1];
    expect(asset).toBeDefined();
    const paths = ['/', '/ui', '/ui/', `/ui/${asset}`, '/ui/api/queues', '/api/status', '/metrics', '/healthz', '/readyz', '/nowhere'];
    for (const path of paths) {
      const answer = await rawRequest(`${base}${path}`);
      expect(answer.headers['x-frame-options'], path).toBe('DENY');
      expect(answer.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
      expect(answer.headers['x-powered-by'], path).toBeUndefined();
    }
    const refused = await rawRequest(`${base}/api/status`, { headers: { host: 'attacker.example' } });
    expect(refused.headers['x-frame-options']).toBe('DENY');
    const badJson = await rawRequest(`${base}${RUNS}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(badJson.headers['x-content-type-options']).toBe('nosniff');
  });

  it('bull-board page references no asset outside the process', async () => {
    const { base } = await serve();
    const page = (await rawRequest(`${base}/ui`)).body;
    expect(page).toContain('<div id="root">');
    expect(page).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    expect(page).not.toContain('fonts.googleapis.com');
  });
});

describe('bull-board write actions', () => {
  it('refuses adding a job and editing job data even with readOnly false', async () => {
    const { base, queues } = await serve({ readOnly: false });
    const add = await rawRequest(`${base}/ui/api/queues/batches/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'batch', data: { runId: 'run|web|manual-0000aaaa', target: 'web', batchIndex: 0, serverIds: ['outside'], dryRun: false, restartPolicy: 'hard' } }),
    });
    expect(add.status).toBe(405);
    expect(JSON.parse(add.body).error).toBe('dashboard-action-disabled');
    expect(await queues.batches.count()).toBe(0);
    const job = await queues.batches.add('batch', { runId: 'run|web|manual-0000aaaa', target: 'web', batchIndex: 0, serverIds: ['inside'], dryRun: true });
    const edit = await rawRequest(`${base}/ui/api/queues/batches/${job.id}/update-data`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobData: { serverIds: ['outside'] } }),
    });
    expect(edit.status).toBe(405);
    expect((await queues.batches.getJob(job.id!))?.data.serverIds).toEqual(['inside']);
    const obliterate = await rawRequest(`${base}/ui/api/queues/batches/obliterate`, { method: 'PUT' });
    expect(obliterate.status).toBe(405);
    // Reading the dashboard still works.
    expect((await rawRequest(`${base}/ui/api/queues?activeQueue=batches`)).status).toBe(200);
  });
});
