/**
 * End to end through the queue: a fleet of 300 simulated servers (Linux and Windows; some locked,
 * some without the reset plug-in, some SHUTOFF), targets selecting them by tag, manual runs
 * enqueued on BullMQ and processed by the service's workers (run → batches → summary), while the
 * simulator throttles (429 with Retry-After), injects 500/503 after processing (the answer is lost,
 * the state changed), accepts some resets without applying them, and refuses some servers in the
 * middle of a run (rug-pull proxy) in BOTH partial-failure modes. Every server must end in exactly
 * the outcome it should, the vault must agree with what the servers will accept (login probe), and
 * no generated password may appear in Redis, logs, HTTP answers or job values.
 * The AWS half runs a smaller fleet with the vault = AWS adapter against the Secrets Manager emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerOutcome } from '../../src/domain/outcome.js';
import { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING } from '../../src/ports/vault.js';
import { generateFleet } from '../../src/simulator/fleet.js';
import type { SimServerView } from '../../src/simulator/sim-server.js';
import { countKinds, expectNoPasswordLeak, startPipeline } from './pipeline-harness.js';
import type { Pipeline, RunResult } from './pipeline-harness.js';
import { RUG_PULLS, startRugPullProxy } from './pipeline-rug-pull-proxy.js';
import type { RugPull, RugPullProxy } from './pipeline-rug-pull-proxy.js';

const FAULTS = {
  // Low enough that the client (80 requests/s) is answered 429 often, although a batch now makes
  // only a few calls (its servers come from the listing); Retry-After: 1.
  throttle: { ratePerSecond: 8, burst: 3, retryAfterSeconds: 1 },
  error500Probability: 0.03,
  error503Probability: 0.03,
  // The hard case: the call was processed, the answer is lost.
  faultTiming: 'after-processing' as const,
  seed: 7,
};

const isEligible = (s: SimServerView): boolean => s.status === 'ACTIVE' && !s.locked && s.plugin;

function selected(before: SimServerView[], tags: Record<string, string>): SimServerView[] {
  return before.filter((s) => Object.entries(tags).every(([k, v]) => s.tags[k] === v));
}

/** Expected skip code of an ineligible server, in the order checkEligibility applies them. */
function skipCode(s: SimServerView): string | undefined {
  if (s.locked) return 'locked';
  if (s.status !== 'ACTIVE') return 'status';
  if (!s.plugin) return 'no-reset-plugin';
  return undefined;
}

/** Picks victims spread over the eligible servers, cycling through the three kinds of rug pull. */
function pickVictims(eligible: readonly { id: string }[], n: number, avoid: ReadonlySet<string> = new Set()): Map<string, RugPull> {
  const pool = eligible.filter((s) => !avoid.has(s.id));
  const victims = new Map<string, RugPull>();
  for (let i = 0; i < n; i++) victims.set(pool[Math.floor(((i + 0.5) * pool.length) / n)]!.id, RUG_PULLS[i % RUG_PULLS.length]!);
  return victims;
}

interface Expect {
  before: Map<string, SimServerView>;
  victims: ReadonlyMap<string, RugPull>;
  notApplied: ReadonlySet<string>;
  restart: 'none' | 'soft' | 'hard';
  mode: '200-subset' | '400-internal-error';
}

/**
 * Checks every server of a first rotation (the vault held nothing for them before) against what
 * it should have ended as, in the run summary, the vault and the simulator.
 */
async function checkFirstRotation(p: Pipeline, run: RunResult, ids: string[], e: Expect): Promise<void> {
  expect([...run.outcomes.keys()].sort()).toEqual([...ids].sort());
  expect(run.summary.servers).toBe(ids.length);
  expect(run.summary.failedBatches).toEqual([]);
  const total = Object.values(run.summary.counts).reduce((a, b) => a + b, 0);
  expect(total).toBe(ids.length);
  const victimBatch = new Set(run.batches.filter((b) => b.some((id) => e.victims.has(id))).flat());

  for (const id of ids) {
    const o = run.outcomes.get(id) as ServerOutcome;
    const s = e.before.get(id)!;
    const now = p.sim.server(id)!;
    const d = await p.vault.describe(p.keyOf(id));
    const labelled = (label: string) => d?.versions.find((v) => v.labels.includes(label));
    const password = async (label: string) => (await p.vault.getVersion(p.keyOf(id), { label }))?.value.password;
    const where = `${id} (${o.outcome}${o.code ? ` ${o.code}` : ''})`;

    const code = skipCode(s);
    if (code !== undefined) {
      expect(o, where).toMatchObject({ outcome: 'skipped', code });
      expect(now.passwordsReceived, where).toBe(0);
      expect(d?.versions ?? [], where).toEqual([]); // nothing written for an ineligible server
      continue;
    }
    const victim = e.victims.get(id);
    if (victim) {
      // Nothing changed on the server, and the vault has no current password for it.
      expect(now.passwordsReceived, where).toBe(0);
      expect(now.hasStagedPassword, where).toBe(false);
      expect(labelled(LABEL_CURRENT), where).toBeUndefined();
      if (e.mode === '400-internal-error') {
        // Listed in internalError: a definite rejection with Huawei's code; the pending password is dropped.
        expect(o, where).toMatchObject({ outcome: 'failed', code: victim.code });
        expect(labelled(LABEL_PENDING), where).toBeUndefined();
      } else {
        // A 200 listing only the accepted servers says nothing about the others (Huawei documents no
        // partial success): honest is `unknown`, its password kept pending for a resend; it never took.
        expect(o, where).toMatchObject({ outcome: 'unknown', code: 'NOT_IN_RESPONSE' });
        expect(labelled(LABEL_PENDING)?.versionId, where).toBe(o.versionId);
        const pending = (await password(LABEL_PENDING))!;
        expect(p.sim.login(id, pending), where).toEqual({ now: false, afterRestart: false });
      }
      continue;
    }
    // One password per server per run, however often the call was resent (same bytes on retry).
    expect(now.distinctPasswordsReceived, where).toBe(1);
    if (e.mode === '400-internal-error' && victimBatch.has(id)) {
      // The 400 answer lists only the refused servers: the others are unknown, never "rotated".
      // Their password stays pending, and it IS the one the server will take at its next restart.
      expect(o.outcome, where).toBe('unknown');
      expect(labelled(LABEL_CURRENT), where).toBeUndefined();
      expect(labelled(LABEL_PENDING)?.versionId, where).toBe(o.versionId);
      expect(p.sim.login(id, (await password(LABEL_PENDING))!), where).toEqual({ now: false, afterRestart: true });
      continue;
    }
    const current = await password(LABEL_CURRENT);
    expect(current, where).toBeDefined();
    expect(labelled(LABEL_CURRENT)?.versionId, where).toBe(o.versionId);
    // Settled: AWSPENDING stays on the accepted version, nowhere else (src/rotation/labels.ts).
    expect(labelled(LABEL_PENDING)?.versionId, where).toBe(o.versionId);
    expect(p.sim.wasReceived(id, current!), where).toBe(true);
    if (e.notApplied.has(id)) {
      // Accepted but the in-guest script failed: Huawei reports success, so must we (accepted, not
      // verified); the simulator shows the password never took.
      expect(['rotated-unverified', 'pending-restart'], where).toContain(o.outcome);
      if (o.outcome === 'rotated-unverified') expect(o.reason ?? '', where).toMatch(/not verified by login/);
      else expect(o.reason ?? '', where).not.toMatch(/verified/i);
      expect(p.sim.receivedSequence(id).every((r) => !r.applied), where).toBe(true);
      expect(p.sim.login(id, current!), where).toEqual({ now: false, afterRestart: false });
      continue;
    }
    if (e.restart === 'none') {
      expect(o.outcome, where).toBe('pending-restart');
      expect(p.sim.login(id, current!), where).toEqual({ now: false, afterRestart: true });
    } else {
      // A reboot whose confirmation was lost is reported pending-restart, never rotated.
      expect(['rotated-unverified', 'pending-restart'], where).toContain(o.outcome);
      const probe = p.sim.login(id, current!)!;
      expect(probe.afterRestart, where).toBe(true);
      if (o.outcome === 'rotated-unverified') {
        expect(probe.now, where).toBe(true);
        // A reboot is not proof: only the replay marker moved; ROTATOR_ACTIVE needs a login (verification is off here).
        expect(labelled('ROTATOR_RESTARTED')?.versionId, where).toBe(o.versionId);
        expect(labelled(LABEL_ACTIVE), where).toBeUndefined();
      }
    }
  }
}

function expectUntouched(p: Pipeline, ids: Iterable<string>): void {
  for (const id of ids) expect(p.sim.server(id)!.passwordsReceived, id).toBe(0);
}

describe('pipeline: 300 servers, file vault, both partial-failure modes', () => {
  const fleet = generateFleet({ count: 300, seed: 11, windowsRatio: 0.35, lockedFraction: 0.05, noPluginFraction: 0.06, shutoffFraction: 0.06 });
  const prodEligible = fleet.filter((s) => s.tags.rotate === 'true' && s.tags.env === 'prod' && s.status === 'ACTIVE' && !s.locked && s.plugin);
  // Two prod servers whose resets are accepted but never applied (in-guest script failure).
  const notApplied = new Set([prodEligible[10]!.id, prodEligible[100]!.id]);
  let p: Pipeline;
  let proxy: RugPullProxy;
  let before: Map<string, SimServerView>;
  const rotatedOnce = new Set<string>();

  beforeAll(async () => {
    p = await startPipeline({
      label: 'pipe-fleet',
      simulator: {
        fleet: { kind: 'servers', servers: fleet },
        rebootDurationMs: 0,
        faults: { ...FAULTS, acceptedNotAppliedServers: [...notApplied] },
      },
      vault: 'file',
      account: { requestsPerSecond: 80, maxAttempts: 20 },
      workerConcurrency: 2,
      front: async (sim) => (proxy = await startRugPullProxy(sim)),
      targets: [
        { name: 'prod', selector: { tags: { rotate: 'true', env: 'prod' } }, batchSize: 25, restartPolicy: 'soft' },
        { name: 'staging', selector: { tags: { rotate: 'true', env: 'staging' } }, batchSize: 20, restartPolicy: 'none', dryRunPreflight: true },
      ],
    });
    before = new Map(p.sim.servers().map((s) => [s.id, s]));
    // The fleet has every kind of server the test is about.
    const all = [...before.values()];
    expect(all.filter((s) => s.locked).length).toBeGreaterThan(3);
    expect(all.filter((s) => !s.plugin).length).toBeGreaterThan(3);
    expect(all.filter((s) => s.status === 'SHUTOFF').length).toBeGreaterThan(3);
    expect(all.filter((s) => s.osType === 'Windows').length).toBeGreaterThan(50);
    expect(all.filter((s) => s.tags.rotate !== 'true').length).toBeGreaterThan(10);
  }, 60_000);

  afterAll(async () => {
    await p?.close();
  });

  it('200-subset mode, soft restart: every prod server ends as it should', async () => {
    p.sim.setPartialFailureMode('200-subset');
    const ids = selected([...before.values()], { rotate: 'true', env: 'prod' }).map((s) => s.id);
    const victims = pickVictims(prodEligible, 6, notApplied);
    proxy.arm(victims);
    const run = await p.run('prod', 150_000);
    expect(proxy.pulled().sort()).toEqual([...victims.keys()].sort());
    await checkFirstRotation(p, run, ids, { before, victims, notApplied, restart: 'soft', mode: '200-subset' });
    const counts = countKinds(run.outcomes);
    expect(counts.unknown).toBe(6);
    expect(counts['rotated-unverified'] ?? 0).toBeGreaterThan(ids.length / 2);
    // Only prod servers were touched.
    expectUntouched(p, [...before.values()].filter((s) => s.tags.env !== 'prod' || s.tags.rotate !== 'true').map((s) => s.id));
    for (const [id, o] of run.outcomes) if (o.outcome === 'rotated-unverified' || o.outcome === 'pending-restart') rotatedOnce.add(id);
  }, 160_000);

  it('400-internal-error mode, restart none: refused servers fail, their batch-mates are unknown, the rest pending-restart', async () => {
    p.sim.setPartialFailureMode('400-internal-error');
    const staging = selected([...before.values()], { rotate: 'true', env: 'staging' });
    const ids = staging.map((s) => s.id);
    const eligible = staging.filter(isEligible);
    const victims = pickVictims(eligible, 3);
    proxy.arm(victims);
    const run = await p.run('staging', 150_000);
    expect(proxy.pulled()).toEqual(expect.arrayContaining([...victims.keys()]));
    await checkFirstRotation(p, run, ids, { before, victims, notApplied: new Set(), restart: 'none', mode: '400-internal-error' });
    const counts = countKinds(run.outcomes);
    expect(counts.failed).toBe(3);
    expect(counts.unknown ?? 0).toBeGreaterThan(0);
    expect(counts['pending-restart'] ?? 0).toBeGreaterThan(0);
  }, 160_000);

  it('a second staging run resends exactly the pending password to each unknown server', async () => {
    const first = p.results.at(-1)!;
    const unknown = [...first.outcomes.values()].filter((o) => o.outcome === 'unknown');
    expect(unknown.length).toBeGreaterThan(0);
    const run = await p.run('staging', 150_000);
    for (const o of unknown) {
      const again = run.outcomes.get(o.serverId)!;
      expect(again, o.serverId).toMatchObject({ outcome: 'pending-restart', versionId: o.versionId });
      // The same password twice, never a second one while the first one's fate was unknown.
      expect(new Set(p.sim.receivedSequence(o.serverId).map((r) => r.password)), o.serverId).toEqual(new Set([1]));
      const current = await p.vault.getVersion(p.keyOf(o.serverId), { label: LABEL_CURRENT });
      expect(p.sim.login(o.serverId, current!.value.password)).toEqual({ now: false, afterRestart: true });
    }
    // The refused servers are now ineligible (locked / no plug-in / shut off): skipped, still untouched.
    for (const o of first.outcomes.values()) {
      if (o.outcome !== 'failed') continue;
      expect(run.outcomes.get(o.serverId)!.outcome).toBe('skipped');
      expect(p.sim.server(o.serverId)!.passwordsReceived).toBe(0);
    }
  }, 160_000);

  it('throttling and 5xx really happened, no server was read one by one, and no generated password leaked anywhere', async () => {
    const c = p.sim.counters().requests;
    const sum = (status: string) => Object.values(c).reduce((n, byStatus) => n + (byStatus[status] ?? 0), 0);
    expect(sum('429')).toBeGreaterThan(10);
    expect(sum('500') + sum('503')).toBeGreaterThan(5);
    // No server read one by one: each batch got its servers from the run's listing. (The plug-in flag
    // is still read per server for prod, which runs without the dry_run preflight.)
    expect(c.getServer).toBeUndefined();
    expect(Object.values(c.listServers ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const passwords = await p.vaultPasswords([...before.keys()]);
    expect(passwords.size).toBeGreaterThan(rotatedOnce.size / 25 + 5);
    await expectNoPasswordLeak(p, passwords);
  }, 60_000);
});

describe('pipeline: 60 servers, vault = AWS adapter against the Secrets Manager emulator', () => {
  const fleet = generateFleet({ count: 60, seed: 5, windowsRatio: 0.4, lockedFraction: 0.05, noPluginFraction: 0.05, shutoffFraction: 0.05 });
  let p: Pipeline;
  let proxy: RugPullProxy;

  beforeAll(async () => {
    p = await startPipeline({
      label: 'pipe-aws',
      simulator: { fleet: { kind: 'servers', servers: fleet }, rebootDurationMs: 0, faults: FAULTS, partialFailureMode: '200-subset' },
      vault: 'aws',
      account: { requestsPerSecond: 80, maxAttempts: 20 },
      front: async (sim) => (proxy = await startRugPullProxy(sim)),
      targets: [{ name: 'aws-fleet', selector: { tags: { rotate: 'true' } }, batchSize: 15, restartPolicy: 'soft', uniquePerServer: false }],
    });
  }, 60_000);

  afterAll(async () => {
    await p?.close();
  });

  it('rotates through the queue with the AWS vault; refused servers end unknown (200-subset), nothing leaks', async () => {
    const before = new Map(p.sim.servers().map((s) => [s.id, s]));
    const sel = selected([...before.values()], { rotate: 'true' });
    const victims = pickVictims(sel.filter(isEligible), 3);
    proxy.arm(victims);
    const run = await p.run('aws-fleet', 150_000);
    await checkFirstRotation(p, run, sel.map((s) => s.id), { before, victims, notApplied: new Set(), restart: 'soft', mode: '200-subset' });
    expect(countKinds(run.outcomes).unknown).toBe(3);
    // The secrets really live in the emulator (one per server that got a password).
    expect(p.emulator!.secretNames().length).toBeGreaterThan(sel.length / 2);
    expectUntouched(p, [...before.values()].filter((s) => s.tags.rotate !== 'true').map((s) => s.id));
    await expectNoPasswordLeak(p, await p.vaultPasswords([...before.keys()]));
  }, 160_000);
});
