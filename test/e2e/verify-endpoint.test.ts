/**
 * Verification on its own through the service's HTTP API (`POST /api/targets/:target/verify`): after
 * an out-of-band restart, the login proves which candidate is in effect, it takes ROTATOR_ACTIVE and
 * the older candidates leave their slots. Real service (worker + dashboard roles), simulator with SSH
 * endpoints, file vault, Redis. The answer names versions and labels, never a password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_ACTIVE, LABEL_CURRENT } from '../../src/ports/vault.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { expectNoPasswordLeak, startPipeline, type Pipeline } from './pipeline-harness.js';

const servers: SimServerSpec[] = [
  { id: 'bbbbbbbb-0000-4000-8000-000000000001', name: 'app-1', osType: 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: { grp: 'v' }, enterpriseProjectId: '0' },
  { id: 'bbbbbbbb-0000-4000-8000-000000000002', name: 'app-2', osType: 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: { grp: 'v' }, enterpriseProjectId: '0' },
  { id: 'bbbbbbbb-0000-4000-8000-000000000003', name: 'win-1', osType: 'Windows', status: 'ACTIVE', locked: false, plugin: true, tags: { grp: 'v' }, enterpriseProjectId: '0' },
];
const [LINUX_1, LINUX_2, WINDOWS] = servers.map((s) => s.id) as [string, string, string];

describe('verification on its own over HTTP', () => {
  let p: Pipeline;
  let base: string;
  const labelsOf = async (id: string): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const v of (await p.vault.describe(p.keyOf(id)))?.versions ?? []) for (const l of v.labels) out[l] = v.versionId;
    return out;
  };
  const verify = async (target: string, body: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${base}/api/targets/${target}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };

  beforeAll(async () => {
    p = await startPipeline({
      label: 'pipe-verify',
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 50, ssh: { port: 0 } },
      vault: 'file',
      httpReadOnly: false,
      targets: [
        { name: 'verify-none', selector: { tags: { grp: 'v' } }, batchSize: 10, restartPolicy: 'none', verify: 'ssh' },
        { name: 'no-verify', selector: { tags: { grp: 'v' } }, batchSize: 10, restartPolicy: 'none' },
      ],
    });
    base = p.service.http!.url;
  }, 60_000);

  afterAll(async () => {
    await p?.close();
  });

  it('after an out-of-band restart, the accepted password is proven in effect and takes ROTATOR_ACTIVE', async () => {
    const run = await p.run('verify-none', 60_000);
    expect([...run.outcomes.values()].map((o) => o.outcome)).toEqual(['pending-restart', 'pending-restart', 'pending-restart']);
    // Before any restart the vault never held the password in effect: nothing labelled logs in yet.
    const before = await verify('verify-none', { serverIds: [LINUX_1] });
    expect(before.status).toBe(200);
    expect(before.json.servers).toEqual([expect.objectContaining({ serverId: LINUX_1, result: 'none-works', code: 'NO_LABELLED_PASSWORD_LOGS_IN' })]);

    p.sim.restart(LINUX_1);
    p.sim.restart(WINDOWS);
    const after = await verify('verify-none', {});
    expect(after.status).toBe(200);
    const byId = new Map<string, any>(after.json.servers.map((s: { serverId: string }) => [s.serverId, s]));
    const labels1 = await labelsOf(LINUX_1);
    expect(byId.get(LINUX_1)).toMatchObject({ result: 'verified', versionId: labels1[LABEL_CURRENT] });
    expect(byId.get(LINUX_1).labels).toContain(LABEL_ACTIVE);
    expect(labels1[LABEL_ACTIVE]).toBe(labels1[LABEL_CURRENT]);
    expect(Object.keys(labels1).filter((l) => l.startsWith('ROTATOR_UNCONFIRMED_'))).toEqual([]);
    // Not restarted: its new password is staged, the old one (never in the vault) still logs in.
    expect(byId.get(LINUX_2)).toMatchObject({ result: 'none-works' });
    expect(byId.get(WINDOWS)).toMatchObject({ result: 'unverifiable', code: 'WINDOWS' });
    const answer = JSON.stringify([before.json, after.json]);
    const held = await p.vaultPasswords(servers.map((s) => s.id));
    expect(held.size).toBeGreaterThan(0);
    for (const password of held) expect(answer.includes(password)).toBe(false);
  }, 90_000);

  it('a target without verification, an unknown target and a bad body are refused with a clear error', async () => {
    const off = await verify('no-verify', {});
    expect(off.status).toBe(400);
    expect(off.json).toMatchObject({ error: 'VERIFY_OFF' });
    expect(off.json.message).toMatch(/verify\.method is none/);
    expect((await verify('nope', {})).status).toBe(404);
    const bad = await verify('verify-none', { serverIds: 'all', extra: 1 });
    expect(bad.status).toBe(400);
  }, 30_000);

  it('no password of these runs leaked (Redis, logs, job data, dashboard)', async () => {
    await expectNoPasswordLeak(p, await p.vaultPasswords(servers.map((s) => s.id)));
  }, 60_000);
});
