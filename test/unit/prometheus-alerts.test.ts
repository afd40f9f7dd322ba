/**
 * deploy/prometheus/alerts.yaml, checked by Prometheus's own tool (Debian package `prometheus`,
 * installed by .ci/run): the rules parse (`promtool check rules`) and fire when they should and not
 * otherwise (`promtool test rules alerts.test.yaml`, series and expectations written there).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

async function promtool(args: string[], cwd = dir): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('promtool is not installed: apt-get install prometheus (scripts/ensure-test-tools.sh)');
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', async () => {
    const r = await promtool(['check', 'rules', 'alerts.yaml']);
    expect(r.out).toContain('SUCCESS: 6 rules found');
    expect(r.code).toBe(0);
  });

  it('fire as the rule tests expect (promtool test rules)', async () => {
    const r = await promtool(['test', 'rules', 'alerts.test.yaml']);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('every Grafana dashboard query is valid PromQL (checked by promtool as recording rules)', async () => {
    const dashboard = JSON.parse(await readFile(join(dir, '../grafana/rotator-dashboard.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    // Grafana's variables become what Grafana would substitute.
    const concrete = exprs.map((e) => e.replaceAll('$__rate_interval', '5m').replaceAll('$target', '.*'));
    const temp = await mkdtemp(join(tmpdir(), 'rotator-dashboard-'));
    try {
      const rules = { groups: [{ name: 'dashboard', rules: concrete.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] };
      await writeFile(join(temp, 'dashboard.rules.json'), JSON.stringify(rules));
      const r = await promtool(['check', 'rules', 'dashboard.rules.json'], temp);
      expect(r.out).toContain(`SUCCESS: ${concrete.length} rules found`);
      expect(r.code).toBe(0);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  });

  it('the checks can fail: a broken expression and a wrong expectation are reported', async () => {
    const temp = await mkdtemp(join(tmpdir(), 'rotator-alerts-'));
    try {
      const rules = await readFile(join(dir, 'alerts.yaml'), 'utf8');
      await writeFile(join(temp, 'alerts.yaml'), rules.replace('max by (target) (rotator_servers_overdue) > 0', 'max by (target) (rotator_servers_overdue > 0'));
      const broken = await promtool(['check', 'rules', 'alerts.yaml'], temp);
      expect(broken.code).not.toBe(0);
      // The overdue alert with a threshold of 5 no longer fires for 2 overdue servers: the rule test fails.
      await writeFile(join(temp, 'alerts.yaml'), rules.replace('max by (target) (rotator_servers_overdue) > 0', 'max by (target) (rotator_servers_overdue) > 5'));
      await writeFile(join(temp, 'alerts.test.yaml'), await readFile(join(dir, 'alerts.test.yaml'), 'utf8'));
      const wrong = await promtool(['test', 'rules', 'alerts.test.yaml'], temp);
      expect(wrong.code).not.toBe(0);
      expect(wrong.out).toContain('RotatorTargetOverdue');
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  });
});
