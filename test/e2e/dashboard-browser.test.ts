/**
 * bull-board in a real browser (Debian's Chromium through playwright-core) behind rotator's guards
 * (issue 13): the page loads and renders both queues under the Content-Security-Policy, every request
 * it makes goes to this process (no CDN fonts), the browser reports no CSP violation, and another
 * site cannot frame it.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/create-http-app.js';
import { startHttpServer } from '../../src/http/http-server.js';
import type { RunningHttpServer } from '../../src/http/http-server.js';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import { capturedLogger, deleteUnder, redisClient, uniquePrefix } from './queue-helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;
let server: RunningHttpServer;
let queues: RotationQueues;
const redis = redisClient();
const prefix = uniquePrefix('ui13');

beforeAll(async () => {
  // .ci/run installs Debian's chromium (scripts/ensure-chromium.sh); say so plainly when it is missing.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  queues = new RotationQueues({ connection: redis, prefix, keepCompleted: { count: 10, ageSeconds: 60 }, keepFailed: { count: 10, ageSeconds: 60 } });
  const app = createHttpApp({
    queues,
    outcomes: {
      listTargets: async () => [],
      countTarget: async () => ({ rotated: 0, 'pending-restart': 0, failed: 0, unknown: 0, skipped: 0, busy: 0 }),
      // The status page and the metrics read states too (an empty store here).
      listTarget: async function* () {},
      getServer: async () => undefined,
    },
    targets: [],
    ready: async () => true,
    logger: capturedLogger('warn').logger,
  });
  server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await queues?.close();
  await deleteUnder(redis, prefix);
  redis.disconnect();
});

describe('the dashboard in a browser', () => {
  it('renders both queues with every request to this process and no CSP violation', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const page = await browser.newPage();
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/ui`, { waitUntil: 'networkidle' });
    await page.getByText('batches', { exact: false }).first().waitFor({ timeout: 30_000 });
    expect(await page.getByText('runs', { exact: false }).count()).toBeGreaterThan(0);
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);

  it('cannot be framed by another site', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    // Another origin (localhost on another port) that frames the dashboard.
    const framer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<iframe id="f" src="${base}/ui"></iframe>`);
    });
    await new Promise<void>((r) => framer.listen(0, '127.0.0.1', r));
    try {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${(framer.address() as AddressInfo).port}/`, { waitUntil: 'networkidle' });
      const frame = page.frames().find((f) => f !== page.mainFrame());
      // Chromium replaces a refused frame with an error page: none of bull-board's markup loads.
      const root = frame === undefined ? 0 : await frame.locator('#root').count().catch(() => 0);
      expect(root).toBe(0);
      await page.close();
    } finally {
      await new Promise<void>((r) => framer.close(() => r()));
    }
  }, 60_000);
});
