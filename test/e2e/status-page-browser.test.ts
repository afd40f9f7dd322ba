/**
 * The status page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run;
 * never a downloaded build) driven by playwright-core, against the real service after real runs, one
 * of them with failures. Each page is checked for content and saved as a screenshot under
 * test-results/. The pages work without JavaScript (the form flow runs with JavaScript off) and load
 * nothing from another origin; the rotate form is refused without a valid CSRF token or cross-site.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { startRunWatcher } from '../../src/queue/run-watcher.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { startPipeline, type Pipeline } from './pipeline-harness.js';
import { REDIS_URL } from './queue-helpers.js';

const TOKEN = 'status-page-browser-test-token-0123456789';
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const servers: SimServerSpec[] = [
  ...[0, 1, 2].map((i) => ({
    id: `0a100000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `web-${i}`,
    osType: 'Linux' as const,
    status: 'ACTIVE',
    locked: false,
    plugin: i !== 2,
    tags: { app: 'web' },
    enterpriseProjectId: '0',
  })),
  ...[0, 1].map((i) => ({
    id: `0a200000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `db-${i}`,
    osType: 'Windows' as const,
    status: 'ACTIVE',
    locked: false,
    plugin: true,
    tags: { app: 'db' },
    enterpriseProjectId: '0',
  })),
];

describe('status page in Chromium', () => {
  let p: Pipeline;
  let base: string;
  const contexts: BrowserContext[] = [];
  const dirs: string[] = [];
  const foreign: string[] = [];

  /** A fresh browser profile (new empty user-data-dir) with the operator's credentials. */
  async function browser(options: { javaScript?: boolean; credentials?: boolean } = {}): Promise<Page> {
    const userDataDir = await mkdtemp(join(tmpdir(), 'rotator-chromium-'));
    dirs.push(userDataDir);
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      javaScriptEnabled: options.javaScript ?? true,
      viewport: { width: 1280, height: 900 },
      ...(options.credentials === false ? {} : { httpCredentials: { username: 'operator', password: TOKEN } }),
    });
    contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (r) => {
      // bull-board (/ui) is a third-party page that asks for Google Fonts; our own pages must ask for nothing.
      const from = r.frame().url();
      if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !from.startsWith(`${base}/ui`)) foreign.push(`${r.url()} (from ${from})`);
    });
    return page;
  }

  beforeAll(async () => {
    await mkdir(RESULTS, { recursive: true });
    p = await startPipeline({
      label: 'status-page',
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 50 },
      vault: 'file',
      account: { maxAttempts: 2 },
      targets: [
        { name: 'web', selector: { tags: { app: 'web' } }, batchSize: 10, restartPolicy: 'soft', maxPasswordAgeDays: 30 },
        { name: 'db', selector: { tags: { app: 'db' } }, batchSize: 10, restartPolicy: 'none' },
      ],
      service: { http: { host: '127.0.0.1', port: 0, auth: { mode: 'token' }, readOnly: false } },
      env: { ROTATOR_HTTP_TOKEN: TOKEN },
    });
    base = p.service.http!.url;
    await p.run('web', 60_000);
    // The db run fails: every reset call answers 500 until its retries run out.
    p.sim.setFaults({ error500Probability: 1, apis: ['batchResetPasswords'], faultTiming: 'before-processing' });
    await p.run('db', 120_000);
    p.sim.setFaults({ error500Probability: 0 });
  }, 240_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await p?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('/ after a run with failures: targets with problems first, compliance, last runs with counts and duration', async () => {
    const page = await browser();
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('Password rotation status');
    const rows = page.locator('table').first().locator('tbody tr');
    await expect(rows.count()).resolves.toBe(2);
    const first = (await rows.nth(0).innerText()).replace(/\s+/g, ' ');
    const second = (await rows.nth(1).innerText()).replace(/\s+/g, ' ');
    // db: both servers failing and never rotated; web: one server without the reset plug-in.
    expect(first).toMatch(/^db 0 3 \* \* \* UTC .* 2 of 2 overdue 2 failing 2d partial /);
    expect(first).toContain('verified 0 · unknown 2');
    expect(second).toMatch(/^web .* 1 of 3 overdue 30d succeeded .* verified 0 · rotated-unverified 2 · skipped 1/);
    const latest = (await page.locator('table').nth(1).locator('tbody tr').first().innerText()).replace(/\s+/g, ' ');
    expect(latest).toMatch(/^db run\|db\|manual-.* partial/);
    await expect(page.locator('a[href="/ui"]').count()).resolves.toBeGreaterThan(0);
    await expect(page.locator('script').count()).resolves.toBe(0);
    await page.screenshot({ path: join(RESULTS, 'status-page.png'), fullPage: true });
  });

  it('target page: servers with age and outcome, overdue first; server page: its history', async () => {
    const page = await browser();
    await page.goto(`${base}/`);
    await page.click('a[href="/targets/db"]');
    expect(page.url()).toBe(`${base}/targets/db`);
    const rows = page.locator('table').first().locator('tbody tr');
    await expect(rows.count()).resolves.toBe(2);
    const text = (await rows.nth(0).innerText()).replace(/\s+/g, ' ');
    expect(text).toMatch(/^0a200000-\S+ overdue unknown - \S+ unknown .*never rotated; failing since \S+ \(1 attempt; last outcome unknown/);
    await page.screenshot({ path: join(RESULTS, 'target-page.png'), fullPage: true });

    await page.goto(`${base}/targets/web`);
    const web = (await page.locator('table').first().locator('tbody').innerText()).replace(/\s+/g, ' ');
    expect(web).toMatch(/0a100000-0000-4000-8000-000000000002 overdue unknown - \S+ skipped/);
    expect(web).toMatch(/0a100000-0000-4000-8000-000000000000 ok (<1m|\dm) /);
    await page.click('a[href="/servers/0a100000-0000-4000-8000-000000000000"]');
    await expect(page.locator('h1').innerText()).resolves.toBe('Server 0a100000-0000-4000-8000-000000000000');
    const steps = await page.locator('table tbody tr td:nth-child(4)').allInnerTexts();
    // Only steps that changed something are audited (plan is not); verify records what the login found.
    expect(steps).toEqual(expect.arrayContaining(['createSecret', 'setSecret', 'finishSecret', 'restart', 'verify', 'record']));
    await page.screenshot({ path: join(RESULTS, 'server-page.png'), fullPage: true });
  });

  it('rotate form with its CSRF token enqueues a run (JavaScript off: a plain HTML form)', async () => {
    const page = await browser({ javaScript: false });
    await page.goto(`${base}/targets/web`);
    await expect(page.locator('form.rotate input[name=csrf]').getAttribute('value')).resolves.toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    await page.check('input[name=mode][value=dry-run]');
    await page.selectOption('select[name=restart]', 'none');
    const watcher = await startRunWatcher({ queues: p.service.queues, connect: () => createRedisConnection(REDIS_URL) });
    try {
      await Promise.all([page.waitForURL(/\/targets\/web\?enqueued=/), page.click('form.rotate button[type=submit]')]);
      const runId = new URL(page.url()).searchParams.get('enqueued')!;
      expect(runId).toMatch(/^run\|web\|manual-/);
      await expect(page.locator('.notice').innerText()).resolves.toContain(`Run ${runId} enqueued`);
      await page.screenshot({ path: join(RESULTS, 'rotate-form-accepted.png'), fullPage: true });
      const job = await p.service.queues.runs.getJob(runId);
      expect(job?.data).toMatchObject({ target: 'web', dryRun: true, restartPolicy: 'none', trigger: 'manual' });
      const summary = await watcher.wait(runId, 60_000);
      expect(summary.dryRun).toBe(true);
    } finally {
      await watcher.close();
    }
  });

  it('rotate form without a CSRF token, with a forged one, or cross-site: refused, nothing enqueued', async () => {
    const before = (await p.service.queues.runs.getJobCounts('waiting', 'active', 'completed', 'failed', 'waiting-children', 'delayed'));
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    const page = await browser();
    await page.goto(`${base}/targets/web`);
    // Expressions as strings: they run in the page (this project's TypeScript has no DOM types).
    await page.evaluate("document.querySelector('form.rotate input[name=csrf]').remove()");
    const [missing] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('form.rotate button[type=submit]')]);
    expect(missing.status()).toBe(403);
    await expect(page.locator('.error').innerText()).resolves.toBe('the form has no CSRF token: reload the page and submit again');
    await page.screenshot({ path: join(RESULTS, 'rotate-form-refused.png'), fullPage: true });

    await page.goto(`${base}/targets/web`);
    await page.evaluate(`document.querySelector('form.rotate input[name=csrf]').value = '${Date.now()}.${'A'.repeat(43)}'`);
    const [forged] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('form.rotate button[type=submit]')]);
    expect(forged.status()).toBe(403);
    await expect(page.locator('.error').innerText()).resolves.toBe('the CSRF token is not valid for this form');

    // A token for another target's form is not valid here either.
    await page.goto(`${base}/targets/db`);
    const dbToken = await page.locator('form.rotate input[name=csrf]').getAttribute('value');
    const auth = `Basic ${Buffer.from(`operator:${TOKEN}`).toString('base64')}`;
    const post = (headers: Record<string, string>, token: string | null) =>
      fetch(`${base}/targets/web/rotate`, {
        method: 'POST',
        redirect: 'manual',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ csrf: token ?? '', mode: 'real', restart: 'target' }),
      });
    expect((await post({}, dbToken)).status).toBe(403);
    // What another site's form would send, even with a valid token: refused by Origin / fetch metadata.
    await page.goto(`${base}/targets/web`);
    const webToken = await page.locator('form.rotate input[name=csrf]').getAttribute('value');
    expect((await post({ origin: 'https://evil.example' }, webToken)).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' }, webToken)).status).toBe(403);
    const after = await p.service.queues.runs.getJobCounts('waiting', 'active', 'completed', 'failed', 'waiting-children', 'delayed');
    expect(total(after)).toBe(total(before));
  });

  it('/ui (bull-board) is linked and lists the runs; without credentials every page answers 401', async () => {
    const page = await browser();
    await page.goto(`${base}/`);
    await page.click('header a[href="/ui"]');
    await page.waitForURL(`${base}/ui`);
    await page.getByText('runs', { exact: true }).first().waitFor({ timeout: 30_000 });
    await expect(page.title()).resolves.toContain('rotator');
    await page.screenshot({ path: join(RESULTS, 'ui.png'), fullPage: true });

    // Headless Chromium cannot show the Basic prompt: ask through the credential-less context instead.
    const anonymous = await browser({ credentials: false });
    for (const path of ['/', '/targets/web', '/servers/0a100000-0000-4000-8000-000000000000', '/ui']) {
      const response = await anonymous.context().request.get(`${base}${path}`);
      expect(response.status(), path).toBe(401);
      expect(response.headers()['www-authenticate']).toBe('Basic realm="rotator", charset="UTF-8"');
    }
    // Nothing was fetched from another origin by any page (no external fonts, scripts or styles).
    expect(foreign).toEqual([]);
  });

  it('no page shows a password', async () => {
    const passwords = await p.vaultPasswords(servers.map((s) => s.id));
    expect(passwords.size).toBeGreaterThan(0);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const pages: string[] = [];
    for (const path of ['/', '/targets/web', '/targets/db', ...servers.map((s) => `/servers/${s.id}`)]) {
      const r = await fetch(`${base}${path}`, { headers: auth });
      expect(r.status, path).toBe(200);
      pages.push(await r.text());
    }
    const text = pages.join('\n');
    expect(text).toContain(servers[0]!.id);
    for (const pw of passwords) if (text.includes(pw)) expect.fail('a password appears on the status page');
  });
});
