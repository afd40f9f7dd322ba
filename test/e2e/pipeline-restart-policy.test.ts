/**
 * Restart policies end to end through the queue (service workers, real simulator whose reboot jobs
 * take time and whose servers answer SSH, real file vault): `soft` and `hard` make the new password
 * log in NOW, proven by an SSH login (Linux: `verified`; Windows cannot be verified by SSH:
 * `rotated-unverified`); `none` leaves the old password in effect, and the vault keeps it retrievable
 * across further rotations, so nobody is locked out before the server's next restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING } from '../../src/ports/vault.js';
import { UNCONFIRMED_LABELS } from '../../src/rotation/labels.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { countKinds, expectNoPasswordLeak, startPipeline } from './pipeline-harness.js';
import type { Pipeline } from './pipeline-harness.js';

const GROUPS = ['soft', 'hard', 'none'] as const;
const servers: SimServerSpec[] = GROUPS.flatMap((grp, g) =>
  (['Linux', 'Windows'] as const).map((osType, i) => ({
    id: `${g + 1}${i + 1}${'0'.repeat(6)}-0000-4000-8000-${String(g * 2 + i).padStart(12, '0')}`,
    name: `${grp}-${osType.toLowerCase()}`,
    osType,
    status: 'ACTIVE',
    locked: false,
    plugin: true,
    tags: { grp },
    enterpriseProjectId: '0',
  })),
);
const idsOf = (grp: (typeof GROUPS)[number]) => servers.filter((s) => s.tags.grp === grp).map((s) => s.id);

describe('restart policies through the queue', () => {
  let p: Pipeline;
  const password = async (id: string, label: string) => (await p.vault.getVersion(p.keyOf(id), { label }))?.value.password;

  beforeAll(async () => {
    p = await startPipeline({
      label: 'pipe-restart',
      // A reboot job runs for a while (the server is REBOOT meanwhile); the worker polls it to its end.
      simulator: { fleet: { kind: 'servers', servers }, rebootDurationMs: 200, ssh: { port: 0 } },
      vault: 'file',
      targets: [
        { name: 'soft-t', selector: { tags: { grp: 'soft' } }, batchSize: 10, restartPolicy: 'soft', verify: 'ssh' },
        { name: 'hard-t', selector: { tags: { grp: 'hard' } }, batchSize: 10, restartPolicy: 'hard', uniquePerServer: true, verify: 'ssh' },
        // The same servers under two targets: one soft rotation makes a password known to be in effect.
        { name: 'keep-soft', selector: { tags: { grp: 'none' } }, batchSize: 10, restartPolicy: 'soft', verify: 'ssh' },
        { name: 'keep-none', selector: { tags: { grp: 'none' } }, batchSize: 10, restartPolicy: 'none', dryRunPreflight: true, verify: 'ssh' },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await p?.close();
  });

  for (const [target, grp] of [
    ['soft-t', 'soft'],
    ['hard-t', 'hard'],
  ] as const) {
    it(`${grp}: verified by login (Linux) or rotated-unverified (Windows), and the vault's AWSCURRENT password logs in now`, async () => {
      const run = await p.run(target, 60_000);
      expect(countKinds(run.outcomes)).toEqual({ verified: 1, 'rotated-unverified': 1 });
      for (const id of idsOf(grp)) {
        const current = (await password(id, LABEL_CURRENT))!;
        expect(p.sim.login(id, current), id).toEqual({ now: true, afterRestart: true });
        const d = await p.vault.describe(p.keyOf(id));
        const versionWith = (label: string) => d!.versions.find((v) => v.labels.includes(label))?.versionId;
        // Settled: AWSPENDING stays on the accepted AWSCURRENT version, nowhere else.
        expect(versionWith(LABEL_PENDING)).toBe(versionWith(LABEL_CURRENT));
        if (servers.find((s) => s.id === id)?.osType === 'Windows') {
          // Not proven: no ROTATOR_ACTIVE, and it stays a candidate.
          expect(versionWith(LABEL_ACTIVE)).toBeUndefined();
          expect(versionWith(UNCONFIRMED_LABELS[0]!)).toBe(versionWith(LABEL_CURRENT));
        } else {
          expect(versionWith(LABEL_ACTIVE)).toBe(versionWith(LABEL_CURRENT));
          for (const slot of UNCONFIRMED_LABELS) expect(versionWith(slot), slot).toBeUndefined();
        }
        expect(p.sim.server(id)!.status).toBe('ACTIVE');
      }
    }, 90_000);
  }

  it('none: the old password keeps logging in and stays in the vault across two rotations', async () => {
    const ids = idsOf('none');
    const isWindows = (id: string) => servers.find((s) => s.id === id)?.osType === 'Windows';
    const first = await p.run('keep-soft', 60_000);
    expect(countKinds(first.outcomes)).toEqual({ verified: 1, 'rotated-unverified': 1 });
    const active = new Map<string, string>();
    for (const id of ids) {
      // Linux: proven by login (ROTATOR_ACTIVE); Windows: not provable by SSH, kept as a candidate (and AWSCURRENT).
      const pw = (await password(id, isWindows(id) ? LABEL_CURRENT : LABEL_ACTIVE))!;
      expect(p.sim.login(id, pw)).toEqual({ now: true, afterRestart: true });
      active.set(id, pw);
    }

    const accepted = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (let round = 1; round <= 2; round++) {
      const run = await p.run('keep-none', 60_000);
      expect(countKinds(run.outcomes), `round ${round}`).toEqual({ 'pending-restart': 2 });
      for (const id of ids) {
        const current = (await password(id, LABEL_CURRENT))!;
        accepted.get(id)!.push(current);
        // The new password is staged, the old one is still the one that logs in now …
        expect(p.sim.login(id, current), id).toEqual({ now: false, afterRestart: true });
        expect(p.sim.login(id, active.get(id)!)!.now, id).toBe(true);
        // … and the vault still hands it out.
        const unconfirmed = await Promise.all(UNCONFIRMED_LABELS.map((l) => password(id, l)));
        if (isWindows(id)) expect(unconfirmed, id).toContain(active.get(id));
        else expect(await password(id, LABEL_ACTIVE), id).toBe(active.get(id));
        // Every accepted-but-unconfirmed password stays labelled too (any may be in effect after an out-of-band restart).
        const expected = isWindows(id) ? [active.get(id)!, ...accepted.get(id)!] : [...accepted.get(id)!];
        expect(unconfirmed.filter((x) => x !== undefined).sort()).toEqual(expected.sort());
      }
    }
    // Two different new passwords, both received, the newest staged.
    for (const id of ids) {
      const [p2, p3] = accepted.get(id)!;
      expect(p2).not.toBe(p3);
      expect(p.sim.receivedSequence(id).map((r) => r.password)).toEqual([1, 2, 3]);
      // The server restarts out of band: the newest accepted password (AWSCURRENT) takes effect.
      p.sim.restart(id);
      expect(p.sim.login(id, p3!)).toEqual({ now: true, afterRestart: true });
      expect(p.sim.login(id, active.get(id)!)!.now).toBe(false);
    }
  }, 120_000);

  it('a manual run may override the restart policy: `none` target rotated with soft reboots now', async () => {
    const run = await p.run('keep-none', 60_000, { restartPolicy: 'soft' });
    // Linux: a new password, rebooted, proven by login. Windows has all 3 candidate slots taken and
    // cannot be verified by SSH: its last accepted password is confirmed by a reboot, not replaced.
    expect(countKinds(run.outcomes)).toEqual({ verified: 1, 'rotated-unverified': 1 });
    for (const id of idsOf('none')) {
      const current = (await password(id, LABEL_CURRENT))!;
      expect(p.sim.login(id, current), id).toEqual({ now: true, afterRestart: true });
      if (servers.find((s) => s.id === id)?.osType === 'Windows') continue;
      expect(await password(id, LABEL_ACTIVE)).toBe(current);
      for (const slot of UNCONFIRMED_LABELS) expect(await password(id, slot), slot).toBeUndefined();
    }
  }, 90_000);

  it('no password of these runs leaked', async () => {
    await expectNoPasswordLeak(p, await p.vaultPasswords(servers.map((s) => s.id)));
  }, 60_000);
});
