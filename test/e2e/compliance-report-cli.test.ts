/**
 * `rotator report` through the real CLI (child process) against real Redis: a fleet with overdue
 * servers for every reason, in every format. Outcomes are recorded with the real outcome store at
 * times relative to now (the CLI judges against the wall clock).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisOutcomeStore } from '../../src/adapters/redis/index.js';
import type { OutcomeRecord } from '../../src/ports/outcome-store.js';
import { REDIS_URL, createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../bin/rotator.js', import.meta.url));
const DAY = 86_400_000;
const HOSTILE = '<script>alert(1)</script> "quoted", =cmd';

describe('rotator report (CLI) on a fleet with overdue servers', () => {
  const prefix = uniquePrefix('report-cli');
  const redis = createRedis();
  let dir: string;

  async function report(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ROTATOR_FROM_SOURCE: '1', ROTATOR_LOG_LEVEL: 'silent' };
    try {
      const { stdout, stderr } = await run(process.execPath, [cli, '--config', join(dir, 'service.yaml'), '--jobs', join(dir, 'jobs'), 'report', ...args], {
        env,
        cwd: dir,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rotator-report-'));
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'service.yaml'), `redis: { url: "${REDIS_URL}", keyPrefix: ${prefix} }\n`);
    const job = (name: string, extra: string) =>
      `name: ${name}\naccount: demo\nschedule: "0 3 * * *"\ntimezone: UTC\nselector: { tags: { app: ${name} } }\n${extra}`;
    await writeFile(join(dir, 'jobs', 'web.yaml'), job('web', 'maxPasswordAgeDays: 7\n'));
    // db: no maximum: two intervals of a daily schedule, 2 days.
    await writeFile(join(dir, 'jobs', 'db.yaml'), job('db', ''));

    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    const now = Date.now();
    const rec = (target: string, at: number, serverId: string, outcome: OutcomeRecord['outcome']['outcome'], extra: Partial<OutcomeRecord['outcome']> = {}): OutcomeRecord => ({
      target,
      runId: `run-${at}`,
      at,
      outcome: { serverId, outcome, ...extra },
    });
    await store.recordMany([
      rec('web', now - DAY, 'web-fresh', 'verified', { versionId: 'v1' }),
      rec('web', now - 10 * DAY, 'web-stale', 'verified', { versionId: 'v2' }),
      rec('web', now - 20 * DAY, 'web-failing', 'verified', { versionId: 'v3' }),
      // A code a spreadsheet would run as a formula.
      rec('web', now - 30 * DAY, 'web-skipped', 'skipped', { code: '=1+1', reason: HOSTILE }),
      rec('web', now - 2 * DAY, 'web-pending', 'pending-restart', { versionId: 'v4' }),
      rec('db', now - 3 * DAY, 'db-old', 'verified', { versionId: 'v5' }),
      rec('db', now - 3_600_000, 'db-fresh', 'verified', { versionId: 'v6' }),
    ]);
    await store.recordMany([rec('web', now - 3 * DAY, 'web-failing', 'failed', { code: 'Ecs.0605', reason: 'The server is locked' })]);
    await store.recordMany([rec('web', now - DAY, 'web-failing', 'unknown', { code: 'APIGW.0201', reason: 'retries exhausted' })]);
  }, 30_000);

  afterAll(async () => {
    await deleteUnder(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('json: summary per target, policy, generated-at, one row per server with the reason', async () => {
    const before = Date.now();
    const out = await report(['--format', 'json']);
    expect(out.code, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout);
    expect(Date.parse(r.generatedAt)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(r.totals).toEqual({ targets: 2, servers: 7, compliant: 3, overdue: 4 });
    const web = r.targets.find((t: { target: string }) => t.target === 'web');
    expect(web).toMatchObject({ servers: 5, overdue: 3, compliant: 2, failing: 1, policy: { maxPasswordAgeDays: 7, source: 'configured' } });
    const db = r.targets.find((t: { target: string }) => t.target === 'db');
    expect(db).toMatchObject({ servers: 2, overdue: 1, policy: { maxPasswordAgeDays: 2, source: 'derived' } });
    const byId = Object.fromEntries(r.servers.map((s: { serverId: string }) => [s.serverId, s]));
    expect(byId['web-fresh']).toMatchObject({ overdue: false, reason: null, lastOutcome: 'verified', passwordAgeDays: 1 });
    expect(byId['web-stale']).toMatchObject({ overdue: true, reasonCode: 'stale', passwordAgeDays: 10 });
    expect(byId['web-failing']).toMatchObject({ overdue: true, reasonCode: 'failing', consecutiveFailures: 2, code: 'APIGW.0201', lastOutcome: 'unknown' });
    expect(byId['web-failing'].reason).toMatch(/^failing since \d{4}-\d\d-\d\dT.*\(2 attempts in a row; last outcome unknown: APIGW.0201/);
    expect(byId['web-skipped']).toMatchObject({ overdue: true, reasonCode: 'skipped', passwordAgeDays: null });
    expect(byId['web-skipped'].reason).toContain('never rotated; skipped because');
    expect(byId['web-pending']).toMatchObject({ overdue: false, reasonCode: 'awaiting-restart' });
    expect(byId['db-old']).toMatchObject({ overdue: true, reasonCode: 'stale' });
    // Overdue servers come first.
    expect(r.servers.slice(0, 4).every((s: { overdue: boolean }) => s.overdue)).toBe(true);
  });

  it('csv: a target row per target and a server row per server, quoted per RFC 4180, no formula injection', async () => {
    const out = await report(['--format', 'csv']);
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^row,generated_at,target,max_password_age_days,policy_source,server_id,overdue,/);
    expect(lines.filter((l) => l.startsWith('target,'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('server,'))).toHaveLength(7);
    const skipped = lines.find((l) => l.includes('web-skipped'))!;
    expect(skipped).toContain('"never rotated; skipped because <script>alert(1)</script> ""quoted"", =cmd (=1+1)"');
    expect(skipped).toContain(",skipped,'=1+1,");
    const failing = lines.find((l) => l.includes('web-failing'))!;
    expect(failing).toMatch(/^server,[^,]+,web,7,configured,web-failing,yes,20,/);
  });

  it('table: readable, overdue marked, the policy stated', async () => {
    const out = await report(['--format', 'table']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^rotator password compliance report, generated \d{4}-/);
    expect(out.stdout).toContain('7 servers in 2 targets: 3 compliant, 4 overdue');
    expect(out.stdout).toContain("policy of db: 2 × the schedule's interval (1d");
    expect(out.stdout).toContain('policy of web: maxPasswordAgeDays: 7 (job file)');
    expect(out.stdout).toMatch(/web\s+web-stale\s+OVERDUE\s+10d/);
    expect(out.stdout).toMatch(/db\s+db-fresh\s+ok\s+1h/);
  });

  it('html to a file: a standalone page with every value escaped', async () => {
    const file = join(dir, 'report.html');
    const out = await report(['--format', 'html', '--output', file]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('report: 7 servers, 4 overdue, written to');
    const page = await readFile(file, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot;');
    expect(page).not.toMatch(/<link|src=|https?:\/\//);
    expect(page).toContain('<strong class="overdue">4 overdue</strong>');
  });

  it('one target only; --overdue-exit-code; an unknown target is an error', async () => {
    const db = await report(['db', '--format', 'json', '--overdue-exit-code']);
    expect(db.code).toBe(3);
    expect(JSON.parse(db.stdout).servers.map((s: { serverId: string }) => s.serverId).sort()).toEqual(['db-fresh', 'db-old']);
    const nope = await report(['nope']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain('target: "nope" is not configured');
    const bad = await report(['--format', 'pdf']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--format.*pdf.*table, csv, json, html/s);
  });
});
