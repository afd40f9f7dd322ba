/**
 * What operators watch, after real runs through the whole pipeline (queue, workers, simulator, file
 * vault): /metrics scraped over HTTP has every documented metric with bounded labels and no server id
 * or password; the Grafana dashboard and the alert rules only use metrics that are actually exported;
 * the run history records each run once; the compliance report in every format holds no password.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildComplianceReport, renderReport, REPORT_FORMATS } from '../../src/compliance/compliance-report.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { countKinds, startPipeline } from './pipeline-harness.js';
import type { Pipeline, RunResult } from './pipeline-harness.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

const servers: SimServerSpec[] = [
  ...Array.from({ length: 6 }, (_, i) => ({
    id: `0b000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `web-${i}`,
    osType: 'Linux' as const,
    status: 'ACTIVE',
    locked: false,
    // One web server lacks the reset plug-in: skipped, never rotated, overdue.
    plugin: i !== 5,
    tags: { app: 'web' },
    enterpriseProjectId: '0',
  })),
  ...Array.from({ length: 3 }, (_, i) => ({
    id: `0d000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `db-${i}`,
    osType: 'Windows' as const,
    status: 'ACTIVE',
    locked: false,
    plugin: true,
    tags: { app: 'db' },
    enterpriseProjectId: '0',
  })),
];

/** `name{labels} value` lines of a Prometheus text exposition, as [name, labels, value]. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Metric families referenced by a PromQL expression (histogram series map to their family). */
function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\brotator_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))];
}

describe('operators: metrics, dashboard, alerts, report after real runs', () => {
  let p: Pipeline;
  let web: RunResult;
  let db: RunResult;
  let metricsText: string;

  beforeAll(async () => {
    p = await startPipeline({
      label: 'ops-metrics',
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 50 },
      vault: 'file',
      account: { maxAttempts: 2 },
      targets: [
        { name: 'web', selector: { tags: { app: 'web' } }, batchSize: 4, restartPolicy: 'soft' },
        { name: 'db', selector: { tags: { app: 'db' } }, batchSize: 10, restartPolicy: 'none' },
      ],
    });
    web = await p.run('web', 60_000);
    // Every reset call of the db run fails (500 before processing, retries exhausted): its servers end failing.
    p.sim.setFaults({ error500Probability: 1, apis: ['batchResetPasswords'], faultTiming: 'before-processing' });
    db = await p.run('db', 120_000);
    p.sim.setFaults({ error500Probability: 0 });
    // The run observer counts a run when BullMQ's completed event reaches it, which may be after
    // p.run has the summary (through the run watcher): wait until both runs are counted.
    const deadline = Date.now() + 20_000;
    for (;;) {
      metricsText = await (await fetch(`${p.service.http!.url}/metrics`)).text();
      const counted = ['web', 'db'].every((t) => new RegExp(`^rotator_runs_total\\{[^}]*target="${t}"`, 'm').test(metricsText));
      if (counted || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 240_000);

  afterAll(async () => {
    await p?.close();
  });

  it('the runs ended as arranged', () => {
    expect(countKinds(web.outcomes)).toEqual({ 'rotated-unverified': 5, skipped: 1 });
    expect(db.summary.counts['rotated-unverified'] + db.summary.counts['pending-restart']).toBe(0);
    expect(db.summary.counts.unknown + db.summary.counts.failed + db.summary.failedBatches.length).toBeGreaterThan(0);
  });

  it('records each run once in the run history, with its result', async () => {
    const [w] = await p.service.runHistory.recent('web', 5);
    expect(w).toMatchObject({ runId: web.runId, target: 'web', result: 'succeeded', servers: 6, dryRun: false });
    expect(w!.counts).toMatchObject({ 'rotated-unverified': 5, skipped: 1 });
    expect(w!.finishedAt).toBeGreaterThanOrEqual(w!.enqueuedAt);
    const [d] = await p.service.runHistory.recent('db', 5);
    expect(d).toMatchObject({ runId: db.runId, target: 'db', result: 'partial' });
    // Recording again (another process saw the same completion) is refused.
    expect(await p.service.runHistory.record(w!)).toBe(false);
    expect(Object.keys(await p.service.runHistory.lastSuccess())).toEqual(['web']);
  });

  it('/metrics: every documented family, with the figures of the runs', () => {
    const all = samples(metricsText);
    const value = (name: string, labels: Record<string, string>): number | undefined =>
      all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('rotator_rotations_total', { target: 'web', outcome: 'rotated-unverified' })).toBe(5);
    expect(value('rotator_rotations_total', { target: 'web', outcome: 'skipped' })).toBe(1);
    expect(value('rotator_runs_total', { target: 'web', result: 'succeeded' })).toBe(1);
    expect(value('rotator_runs_total', { target: 'db', result: 'partial' })).toBe(1);
    expect(value('rotator_run_duration_seconds_count', { target: 'web' })).toBe(1);
    expect(value('rotator_ecs_requests_total', { account: 'sim', operation: 'batchResetPasswords', code: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value('rotator_ecs_requests_total', { account: 'sim', operation: 'batchReboot', code: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value('rotator_ecs_request_duration_seconds_count', { account: 'sim', operation: 'listServers' })).toBeGreaterThanOrEqual(2);
    expect(value('rotator_vault_operations_total', { operation: 'putPending', result: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(value('rotator_vault_operations_total', { operation: 'promote', result: 'ok' })).toBe(5);
    expect(value('rotator_vault_operation_duration_seconds_count', { operation: 'promote' })).toBe(5);
    const lastWeb = value('rotator_last_successful_run_timestamp_seconds', { target: 'web' })!;
    expect(Math.abs(lastWeb - Date.now() / 1000)).toBeLessThan(300);
    expect(value('rotator_last_successful_run_timestamp_seconds', { target: 'db' })).toBeUndefined();
    // web: the server without the plug-in was never rotated; db: none rotated.
    expect(value('rotator_servers_overdue', { target: 'web' })).toBe(1);
    expect(value('rotator_servers_overdue', { target: 'db' })).toBe(3);
    expect(value('rotator_password_age_seconds_count', { target: 'web' })).toBe(5);
    expect(value('rotator_password_age_max_seconds', { target: 'web' })).toBeLessThan(300);
    expect(value('rotator_password_max_age_policy_seconds', { target: 'web' })).toBe(2 * 86_400);
    expect(value('rotator_servers', { target: 'web', outcome: 'rotated-unverified' })).toBe(5);
    expect(value('rotator_queue_jobs', { queue: 'runs', state: 'completed' })).toBe(2);
    expect(metricsText).toContain('# TYPE rotator_throttle_pauses_total counter');
    expect(metricsText).toContain('# TYPE rotator_notifications_total counter');
  });

  it('/metrics: bounded labels, never a server id, never a password', async () => {
    for (const s of servers) expect(metricsText).not.toContain(s.id);
    const labelNames = new Set(samples(metricsText).filter((s) => s.name.startsWith('rotator_') && !s.name.startsWith('rotator_process_')).flatMap((s) => Object.keys(s.labels)));
    expect([...labelNames].sort()).toEqual(['account', 'code', 'le', 'operation', 'outcome', 'queue', 'result', 'state', 'target']);
    const passwords = await p.vaultPasswords(servers.map((s) => s.id));
    expect(passwords.size).toBeGreaterThan(0);
    for (const pw of passwords) if (metricsText.includes(pw)) expect.fail('a password appears in /metrics');
  });

  it('the Grafana dashboard only queries metrics that /metrics exports', async () => {
    const dashboard = JSON.parse(await readFile(root('deploy/grafana/rotator-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((panel: { targets: { expr: string }[] }) => panel.targets.map((t) => t.expr));
    exprs.push(...dashboard.templating.list.filter((v: { definition?: string }) => v.definition).map((v: { definition: string }) => v.definition));
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThanOrEqual(12);
    for (const name of used) expect(metricsText, `dashboard metric ${name}`).toContain(`# TYPE ${name} `);
    // And every rotator family is on the dashboard (a new metric without a panel is a gap).
    const exported = [...metricsText.matchAll(/^# TYPE (rotator_[a-z_]+) /gm)].map((m) => m[1]!).filter((n) => !n.startsWith('rotator_process_'));
    for (const name of exported) expect(used.has(name), `${name} has no dashboard panel`).toBe(true);
  });

  it('the alert rules only use metrics that /metrics exports', async () => {
    const rules = parseYaml(await readFile(root('deploy/prometheus/alerts.yaml'), 'utf8'));
    const exprs: string[] = rules.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr));
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const name of used) expect(metricsText, `alert metric ${name}`).toContain(`# TYPE ${name} `);
  });

  it('the compliance report, in every format, from the real outcome store: failing servers and no password', async () => {
    const report = await buildComplianceReport({
      store: p.service.outcomes,
      configured: [
        { name: 'web', schedule: '0 3 * * *', timezone: 'UTC' },
        { name: 'db', schedule: '0 3 * * *', timezone: 'UTC' },
      ],
      nowMs: Date.now(),
    });
    expect(report.targets.map((t) => [t.target, t.servers, t.overdue])).toEqual([
      ['db', 3, 3],
      ['web', 6, 1],
    ]);
    expect(report.servers.filter((s) => s.target === 'db').every((s) => s.reason?.code === 'failing')).toBe(true);
    const passwords = await p.vaultPasswords(servers.map((s) => s.id));
    for (const format of REPORT_FORMATS) {
      const text = renderReport(report, format);
      expect(text).toContain(servers[0]!.id);
      for (const pw of passwords) if (text.includes(pw)) expect.fail(`a password appears in the ${format} report`);
    }
  });
});
