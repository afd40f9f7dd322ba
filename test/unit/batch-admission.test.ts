/**
 * The worker-side admission rule of a batch job (src/rotation/batch-admission.ts): pure cases, and
 * the factory with stand-in lookups (its Redis and ECS lookups are exercised end to end in
 * test/e2e/service-hardening.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { checkBatchAdmission, createBatchAdmission } from '../../src/rotation/batch-admission.js';
import type { AdmissionFacts, BatchClaim, RunRecord } from '../../src/rotation/batch-admission.js';
import { isRotatorError } from '../../src/domain/rotator-error.js';
import { batchJobId } from '../../src/domain/job-ids.js';

const RUN_ID = 'run|web|manual-0123abcd';
const RUN_QUEUE = 'rotator:runs';
const MEMBERS = new Set(['s1', 's2', 's3']);

const claim = (patch: Partial<BatchClaim> = {}): BatchClaim => ({
  jobId: batchJobId(RUN_ID, 0),
  parent: { id: RUN_ID, queue: RUN_QUEUE },
  runId: RUN_ID,
  target: 'web',
  batchIndex: 0,
  serverIds: ['s1', 's2'],
  dryRun: false,
  ...patch,
});

const facts = (batch: BatchClaim, run: RunRecord | undefined = { target: 'web', trigger: 'manual', dryRun: false }, patch: Partial<AdmissionFacts> = {}): AdmissionFacts => ({
  batch,
  run,
  runQueue: RUN_QUEUE,
  target: { name: 'web', enabled: true },
  expectedJobId: batchJobId(batch.runId, batch.batchIndex),
  isMember: (id) => MEMBERS.has(id),
  ...patch,
});

const reasons = (f: AdmissionFacts): string[] => {
  const verdict = checkBatchAdmission(f);
  return verdict.admitted ? [] : verdict.reasons;
};

describe('checkBatchAdmission', () => {
  it('admits the batch the fan-out wrote', () => {
    expect(checkBatchAdmission(facts(claim()))).toEqual({ admitted: true });
    expect(checkBatchAdmission(facts(claim({ restartPolicy: 'hard' }), { target: 'web', trigger: 'manual', dryRun: false, restartPolicy: 'hard' }))).toEqual({ admitted: true });
    expect(checkBatchAdmission(facts(claim({ dryRun: true }), { target: 'web', trigger: 'manual', dryRun: true, serverIds: ['s1', 's2'] }))).toEqual({ admitted: true });
  });

  it('refuses a server outside the target, naming it', () => {
    expect(reasons(facts(claim({ serverIds: ['s1', 'intruder'] })))).toEqual(['servers not in target web: intruder']);
  });

  it("refuses a server outside the run's named servers, even if it is in the target", () => {
    expect(reasons(facts(claim({ serverIds: ['s1', 's3'] }), { target: 'web', trigger: 'manual', dryRun: false, serverIds: ['s1', 's2'] }))).toEqual([
      "servers not among the run's servers: s3",
    ]);
  });

  it('refuses a job not created by the fan-out: another id, no parent, another parent', () => {
    expect(reasons(facts(claim({ jobId: '17' })))[0]).toMatch(/job id "17" is not "run\|web\|manual-0123abcd\|b0"/);
    expect(reasons(facts(claim({ parent: undefined })))).toEqual([`the job's parent is not the run ${RUN_ID}`]);
    expect(reasons(facts(claim({ parent: { id: RUN_ID, queue: 'other:runs' } })))).toEqual([`the job's parent is not the run ${RUN_ID}`]);
  });

  it('refuses when the run does not exist or is of another target, or the target is unknown or disabled', () => {
    expect(reasons(facts(claim(), undefined, { run: undefined }))).toContain(`run ${RUN_ID} does not exist`);
    expect(reasons(facts(claim(), { target: 'db', trigger: 'manual', dryRun: false }))).toContain("target web is not the run's target db");
    expect(reasons(facts(claim(), undefined, { run: undefined, target: undefined }))).toEqual([`run ${RUN_ID} does not exist`]);
    expect(reasons(facts(claim(), { target: 'web', trigger: 'manual', dryRun: false }, { target: undefined }))).toEqual(['target web is not configured']);
    expect(reasons(facts(claim(), { target: 'web', trigger: 'manual', dryRun: false }, { target: { name: 'web', enabled: false } }))).toEqual(['target web is disabled']);
  });

  it('dry-run rules: a real batch in a dry run and a dry batch in a real run are both refused', () => {
    expect(reasons(facts(claim({ dryRun: false }), { target: 'web', trigger: 'manual', dryRun: true }))).toEqual(["dryRun false differs from the run's dryRun true"]);
    expect(reasons(facts(claim({ dryRun: true }), { target: 'web', trigger: 'manual', dryRun: false }))).toEqual(["dryRun true differs from the run's dryRun false"]);
  });

  it('refuses a restart policy the run did not ask for', () => {
    expect(reasons(facts(claim({ restartPolicy: 'hard' }))))
      .toEqual(["restart policy hard is not the one allowed for this run: the target's own"]);
    expect(reasons(facts(claim({ restartPolicy: 'hard' }), { target: 'web', trigger: 'manual', dryRun: false, restartPolicy: 'soft' }))).toEqual([
      'restart policy hard is not the one allowed for this run: soft',
    ]);
    expect(reasons(facts(claim(), { target: 'web', trigger: 'manual', dryRun: false, restartPolicy: 'soft' }))).toEqual([
      "restart policy (the target's) is not the one allowed for this run: soft",
    ]);
  });

  it('a scheduled run is never dry and never overrides the restart policy: a forged one is refused', () => {
    expect(checkBatchAdmission(facts(claim(), { target: 'web', trigger: 'schedule', dryRun: false }))).toEqual({ admitted: true });
    const reason = "a scheduled run carries neither dryRun nor a restart policy override (only an operator's manual run may)";
    expect(reasons(facts(claim({ restartPolicy: 'hard' }), { target: 'web', trigger: 'schedule', dryRun: false, restartPolicy: 'hard' }))).toEqual([reason]);
    expect(reasons(facts(claim({ dryRun: true }), { target: 'web', trigger: 'schedule', dryRun: true }))).toEqual([reason]);
  });

  it('refuses empty, oversized and duplicated server lists', () => {
    expect(reasons(facts(claim({ serverIds: [] })))).toEqual(['a batch holds 1 to 1000 servers, this one 0']);
    expect(reasons(facts(claim({ serverIds: ['s1', 's1'] })))).toEqual(['servers listed twice: s1']);
    const many = Array.from({ length: 1001 }, (_, i) => `x${i}`);
    expect(reasons(facts(claim({ serverIds: many })))).toEqual(['a batch holds 1 to 1000 servers, this one 1001']);
  });

  it('does not ask about membership before the claim itself holds', () => {
    let asked = 0;
    checkBatchAdmission(facts(claim({ jobId: 'x' }), undefined, { isMember: () => (asked++, true) }));
    checkBatchAdmission(facts(claim(), undefined, { run: undefined, isMember: () => (asked++, true) }));
    expect(asked).toBe(0);
  });
});

describe('createBatchAdmission', () => {
  const run: RunRecord = { target: 'web', trigger: 'manual', dryRun: false };
  const deps = (resolutions: { count: number }, fail = false) => ({
    loadRun: async (id: string) => (id === RUN_ID ? run : undefined),
    target: (name: string) => (name === 'web' ? { name, enabled: true } : undefined),
    targetMembers: async () => {
      resolutions.count++;
      if (fail) throw new Error('ECS unavailable');
      return MEMBERS;
    },
    runQueue: RUN_QUEUE,
    batchJobId,
  });

  it('throws a non-retryable BATCH_NOT_ADMITTED listing every reason, resolving the target once per run', async () => {
    const resolutions = { count: 0 };
    const admit = createBatchAdmission(deps(resolutions));
    await admit(claim(), undefined);
    await admit(claim({ batchIndex: 1, jobId: batchJobId(RUN_ID, 1), serverIds: ['s3'] }), undefined);
    expect(resolutions.count).toBe(1);
    const refused = await admit(claim({ batchIndex: 2, jobId: batchJobId(RUN_ID, 2), serverIds: ['evil'], restartPolicy: 'hard' }), undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRotatorError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: 'BATCH_NOT_ADMITTED', retryable: false });
    expect((refused as Error).message).toContain("restart policy hard is not the one allowed for this run: the target's own");
    // A bad claim never reaches the membership lookup.
    expect(resolutions.count).toBe(1);
    const forged = await admit(claim({ serverIds: ['evil'] }), undefined).catch((e: Error) => e);
    expect((forged as Error).message).toBe(`batch 0 of ${RUN_ID} refused, nothing done: servers not in target web: evil`);
  });

  it('does not cache a failed resolution: the next attempt resolves again', async () => {
    const resolutions = { count: 0 };
    const admit = createBatchAdmission(deps(resolutions, true));
    await expect(admit(claim(), undefined)).rejects.toThrow('ECS unavailable');
    await expect(admit(claim(), undefined)).rejects.toThrow('ECS unavailable');
    expect(resolutions.count).toBe(2);
  });
});

describe('createBatchAdmission while the run’s listing still streams', () => {
  // The run's listing in this process has found s1 and s2 so far; the whole target is s1, s2, s3.
  const setup = (run: RunRecord = { target: 'web', trigger: 'manual', dryRun: false }) => {
    let release!: () => void;
    const listingEnds = new Promise<void>((resolve) => (release = resolve));
    const asked: string[] = [];
    const soFar = new Set(['s1', 's2']);
    const admit = createBatchAdmission({
      loadRun: async (id: string) => (id === RUN_ID ? run : undefined),
      target: (name: string) => (name === 'web' ? { name, enabled: true } : undefined),
      targetMembers: async (_target: string, _signal: AbortSignal | undefined, runId: string) => {
        asked.push(runId);
        await listingEnds;
        return MEMBERS;
      },
      listedSoFar: (runId: string, target: string) => (runId === RUN_ID && target === 'web' ? soFar : undefined),
      runQueue: RUN_QUEUE,
      batchJobId,
    });
    return { admit, asked, release };
  };
  const state = (p: Promise<unknown>): Promise<string> =>
    Promise.race([p.then(() => 'admitted', (e: Error) => `refused: ${e.message}`), new Promise<string>((resolve) => setTimeout(() => resolve('waiting'), 30))]);

  it('admits a batch of servers the listing has already found, without waiting for its end', async () => {
    const { admit, asked } = setup();
    expect(await state(admit(claim({ serverIds: ['s1', 's2'] }), undefined))).toBe('admitted');
    expect(asked).toEqual([]);
  });

  it('makes a batch with any server not found yet wait for the whole listing, and judges it on that', async () => {
    const { admit, asked, release } = setup();
    const member = admit(claim({ batchIndex: 1, jobId: batchJobId(RUN_ID, 1), serverIds: ['s2', 's3'] }), undefined);
    const foreign = admit(claim({ batchIndex: 2, jobId: batchJobId(RUN_ID, 2), serverIds: ['s1', 'evil'] }), undefined);
    expect(await state(member)).toBe('waiting');
    expect(await state(foreign)).toBe('waiting');
    release();
    expect(await state(member)).toBe('admitted');
    expect(await state(foreign)).toBe(`refused: batch 2 of ${RUN_ID} refused, nothing done: servers not in target web: evil`);
    expect(asked).toEqual([RUN_ID]);
  });

  it('still checks the claim itself and the run’s named servers first', async () => {
    const { admit, asked } = setup({ target: 'web', trigger: 'manual', dryRun: false, serverIds: ['s1'] });
    expect(await state(admit(claim({ serverIds: ['s1', 's2'], restartPolicy: 'hard' }), undefined))).toMatch(/^refused: .*restart policy hard/);
    expect(asked).toEqual([]);
    // s2 is a member the listing found, but not one of the servers this run names.
    expect(await state(admit(claim({ serverIds: ['s1', 's2'] }), undefined))).toBe(`refused: batch 0 of ${RUN_ID} refused, nothing done: servers not among the run's servers: s2`);
    expect(asked).toEqual([]);
  });
});

describe('createBatchAdmission: what it keeps', () => {
  const run: RunRecord = { target: 'web', trigger: 'manual', dryRun: false };
  const counting = (resolutions: { count: number }, idleMs?: number) =>
    createBatchAdmission({
      loadRun: async (id: string) => (id === RUN_ID ? run : undefined),
      target: (name: string) => (name === 'web' ? { name, enabled: true } : undefined),
      targetMembers: async (_target: string, _signal: AbortSignal | undefined, runId: string) => {
        resolutions.count++;
        expect(runId).toBe(RUN_ID); // the run is named, so the run's own listing can answer
        return MEMBERS;
      },
      runQueue: RUN_QUEUE,
      batchJobId,
      ...(idleMs === undefined ? {} : { idleMs }),
    });

  it('drops a run’s members once its batches stop coming, and resolves again for a later one', async () => {
    vi.useFakeTimers();
    try {
      const resolutions = { count: 0 };
      const admit = counting(resolutions, 1_000);
      await admit(claim(), undefined);
      await vi.advanceTimersByTimeAsync(900);
      await admit(claim({ batchIndex: 1, jobId: batchJobId(RUN_ID, 1), serverIds: ['s3'] }), undefined);
      await vi.advanceTimersByTimeAsync(900); // 1.8 s after the first, 0.9 s after the last: kept
      await admit(claim({ batchIndex: 2, jobId: batchJobId(RUN_ID, 2), serverIds: ['s2'] }), undefined);
      expect(resolutions.count).toBe(1);
      await vi.advanceTimersByTimeAsync(1_001);
      await admit(claim(), undefined);
      expect(resolutions.count).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('createBatchAdmission: runs of one target back to back', () => {
  const OLD = RUN_ID;
  const NEW = 'run|web|manual-4567cdef';
  const runs: Record<string, RunRecord> = { [OLD]: { target: 'web', trigger: 'manual', dryRun: false }, [NEW]: { target: 'web', trigger: 'manual', dryRun: false } };
  const of = (runId: string, batchIndex = 0): BatchClaim =>
    claim({ runId, batchIndex, jobId: batchJobId(runId, batchIndex), parent: { id: runId, queue: RUN_QUEUE } });
  /** An admission that records the runs it resolves the target for into `resolved`. */
  const recording = (resolved: string[], listedSoFar?: (runId: string) => ReadonlySet<string> | undefined) =>
    createBatchAdmission({
      loadRun: async (id: string) => runs[id],
      target: (name: string) => (name === 'web' ? { name, enabled: true } : undefined),
      targetMembers: async (_target: string, _signal: AbortSignal | undefined, runId: string) => {
        resolved.push(runId);
        return MEMBERS;
      },
      ...(listedSoFar === undefined ? {} : { listedSoFar }),
      runQueue: RUN_QUEUE,
      batchJobId,
      idleMs: 60_000,
      supersededIdleMs: 1_000,
    });

  it('drops an older run’s members soon after a newer run of the target comes; a late batch of it resolves again, without touching the newer run', async () => {
    vi.useFakeTimers();
    try {
      const resolved: string[] = [];
      const admit = recording(resolved);
      await admit(of(OLD), undefined);
      await vi.advanceTimersByTimeAsync(500);
      await admit(of(NEW), undefined);
      await admit(of(OLD, 1), undefined); // 0.5 s after its last: kept
      expect(resolved).toEqual([OLD, NEW]);
      await vi.advanceTimersByTimeAsync(1_001);
      await admit(of(OLD, 2), undefined); // dropped: resolves again
      await admit(of(NEW, 1), undefined); // the newer run's members stay (idleMs)
      expect(resolved).toEqual([OLD, NEW, OLD]);
      await vi.advanceTimersByTimeAsync(30_000);
      await admit(of(NEW, 2), undefined);
      await admit(of(OLD, 3), undefined); // the late run's new entry was short-lived too
      expect(resolved).toEqual([OLD, NEW, OLD, OLD]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('also drops them when the newer run’s batches are admitted from its listing while it streams', async () => {
    vi.useFakeTimers();
    try {
      const resolved: string[] = [];
      // The newer run is being listed in this process and has found s1 and s2 so far.
      const admit = recording(resolved, (runId) => (runId === NEW ? new Set(['s1', 's2']) : undefined));
      await admit(of(OLD), undefined);
      await admit(of(NEW), undefined); // from the listing: no resolution
      expect(resolved).toEqual([OLD]);
      await vi.advanceTimersByTimeAsync(500);
      await admit(of(OLD, 1), undefined); // kept for now
      expect(resolved).toEqual([OLD]);
      await vi.advanceTimersByTimeAsync(1_001);
      await admit(of(OLD, 2), undefined); // superseded by the newer run, dropped: resolves again
      expect(resolved).toEqual([OLD, OLD]);
    } finally {
      vi.useRealTimers();
    }
  });
});
