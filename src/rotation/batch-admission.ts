/**
 * The one check every batch job passes inside the worker, before anything is locked, stored or
 * reset, whoever put the job in the queue: the run's fan-out, the dashboard, the CLI or a hand
 * written into Redis. A batch job is only a claim ("rotate these servers for this run, with this
 * restart policy"); it is admitted when the claim agrees with its run and its target:
 *
 * 1. its id is the one the run's fan-out gives batch `batchIndex` of `runId` (`<runId>|b<index>`),
 *    and its BullMQ parent is that run job in the runs queue;
 * 2. the run job exists and is a run of the same target, which is configured and enabled;
 * 3. dry-run rules: the batch is a dry run exactly when its run is (a dry run never stores or
 *    resets, and a real batch never hides in a dry run);
 * 4. its restart policy is the one allowed for that run: the run's override if it has one (the
 *    operator chose it through the CLI or the API), else none (the target's own policy applies);
 *    a scheduled run has no override and is never a dry run (only manual runs may);
 * 5. its servers: at most 1000, each once, each among the run's servers when the run names them,
 *    and each a member of the target (its selector's explicit ids and filter matches, resolved
 *    like the planner resolves them; while this process's listing of the run still streams, a
 *    batch whose servers it has all found already is admitted without waiting for its last page).
 * A refused batch fails for good (`BATCH_NOT_ADMITTED`, not retryable) with every reason in its
 * message, and nothing is done for any of its servers.
 *
 * `checkBatchAdmission` is the pure rule; `createBatchAdmission` fetches what it needs (the run job,
 * the target, the target's members, cached per run) through functions it is given.
 */
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';

export type RestartPolicy = 'none' | 'soft' | 'hard';

/** What a batch job claims, as read from BullMQ. */
export interface BatchClaim {
  /** The job's id. */
  jobId: string | undefined;
  /** The job's BullMQ parent, if it has one: id and fully qualified queue key (`<prefix>:runs`). */
  parent: { id: string; queue: string } | undefined;
  runId: string;
  target: string;
  batchIndex: number;
  serverIds: readonly string[];
  dryRun: boolean;
  restartPolicy?: RestartPolicy | undefined;
}

/** The run job the batch names, as stored by whoever enqueued the run (checked when it was planned). */
export interface RunRecord {
  target: string;
  /** Scheduled runs are never dry and never override the target's restart policy. */
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  restartPolicy?: RestartPolicy | undefined;
  /** The operator's explicit servers, when the run names some. */
  serverIds?: readonly string[] | undefined;
}

export interface AdmissionTarget {
  name: string;
  enabled: boolean;
}

export interface AdmissionFacts {
  batch: BatchClaim;
  /** The run job `batch.runId`, or undefined when there is none. */
  run: RunRecord | undefined;
  /** The fully qualified key of the runs queue (`Queue.qualifiedName`). */
  runQueue: string;
  /** The configured target `batch.target`, or undefined. */
  target: AdmissionTarget | undefined;
  /** The batch's id for (runId, batchIndex), as the fan-out builds it. */
  expectedJobId: string;
  /** Whether a server belongs to the target now. Only asked once rules 1 to 4 hold. */
  isMember(serverId: string): boolean;
}

export type Admission = { admitted: true } | { admitted: false; reasons: string[] };

const MAX_SERVERS_PER_BATCH = 1000;

const list = (ids: readonly string[]): string => `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? `, … (${ids.length} in all)` : ''}`;

export function checkBatchAdmission(facts: AdmissionFacts): Admission {
  const { batch, run, target } = facts;
  const reasons: string[] = [];
  if (batch.jobId !== facts.expectedJobId) {
    reasons.push(`job id ${JSON.stringify(batch.jobId)} is not ${JSON.stringify(facts.expectedJobId)}: the job was not created by its run's fan-out`);
  }
  if (batch.parent === undefined || batch.parent.id !== batch.runId || batch.parent.queue !== facts.runQueue) {
    reasons.push(`the job's parent is not the run ${batch.runId}`);
  }
  if (run === undefined) {
    reasons.push(`run ${batch.runId} does not exist`);
    return { admitted: false, reasons };
  }
  if (run.target !== batch.target) reasons.push(`target ${batch.target} is not the run's target ${run.target}`);
  if (run.trigger === 'schedule' && (run.dryRun || run.restartPolicy !== undefined)) {
    reasons.push('a scheduled run carries neither dryRun nor a restart policy override (only an operator\'s manual run may)');
  }
  if (target === undefined) reasons.push(`target ${batch.target} is not configured`);
  else if (!target.enabled) reasons.push(`target ${batch.target} is disabled`);
  if (batch.dryRun !== run.dryRun) reasons.push(`dryRun ${batch.dryRun} differs from the run's dryRun ${run.dryRun}`);
  if (batch.restartPolicy !== run.restartPolicy) {
    reasons.push(
      `restart policy ${batch.restartPolicy ?? "(the target's)"} is not the one allowed for this run: ${run.restartPolicy ?? "the target's own"}`,
    );
  }
  if (batch.serverIds.length === 0 || batch.serverIds.length > MAX_SERVERS_PER_BATCH) {
    reasons.push(`a batch holds 1 to ${MAX_SERVERS_PER_BATCH} servers, this one ${batch.serverIds.length}`);
  }
  const seen = new Set<string>();
  const duplicates = batch.serverIds.filter((id) => seen.size === seen.add(id).size);
  if (duplicates.length > 0) reasons.push(`servers listed twice: ${list([...new Set(duplicates)])}`);
  if (reasons.length > 0) return { admitted: false, reasons };

  if (run.serverIds !== undefined) {
    const named = new Set(run.serverIds);
    const outside = batch.serverIds.filter((id) => !named.has(id));
    if (outside.length > 0) reasons.push(`servers not among the run's servers: ${list(outside)}`);
  }
  const foreign = batch.serverIds.filter((id) => !facts.isMember(id));
  if (foreign.length > 0) reasons.push(`servers not in target ${batch.target}: ${list(foreign)}`);
  return reasons.length > 0 ? { admitted: false, reasons } : { admitted: true };
}

/** Dependencies of {@link createBatchAdmission}. */
export interface BatchAdmissionDeps {
  /** The run job's data, or undefined when the job does not exist or is not a run. */
  loadRun(runId: string): Promise<RunRecord | undefined>;
  target(name: string): AdmissionTarget | undefined;
  /**
   * Every server id of the target now (the selector resolved as the planner resolves it). Given the
   * run id, it may answer with what that run's own listing found in this process (rotation-service.ts).
   */
  targetMembers(targetName: string, signal: AbortSignal | undefined, runId: string): Promise<ReadonlySet<string>>;
  /**
   * The members the run's listing has found so far, while it still streams in this process
   * (rotation-service.ts `listedSoFar`). A batch whose servers are all among them is admitted at
   * once; any other waits for the whole set (`targetMembers`).
   */
  listedSoFar?(runId: string, targetName: string): ReadonlySet<string> | undefined;
  /** `Queue.qualifiedName` of the runs queue. */
  runQueue: string;
  /** `<runId>|b<index>`: src/domain/job-ids.ts `batchJobId`. */
  batchJobId(runId: string, batchIndex: number): string;
  /** Runs whose member sets are kept (one target resolution per run and worker). @defaultValue 8 */
  cachedRuns?: number;
  /** A run's member set is dropped when no batch of it was admitted for this long. @defaultValue 120000 */
  idleMs?: number;
  /**
   * Once a batch of a newer run of the same target is admitted, an older run's member set is dropped
   * when no batch of it was admitted for this long (its batches are done, or nearly: a late one, a
   * retry, lists the target again). @defaultValue 5000
   */
  supersededIdleMs?: number;
}

/** Throws `RotatorError` `BATCH_NOT_ADMITTED` (not retryable) when the batch is refused. */
export type AdmitBatch = (batch: BatchClaim, signal: AbortSignal | undefined) => Promise<void>;

export function createBatchAdmission(deps: BatchAdmissionDeps): AdmitBatch {
  const capacity = deps.cachedRuns ?? 8;
  const idleMs = deps.idleMs ?? 120_000;
  const supersededIdleMs = deps.supersededIdleMs ?? 5_000;
  // Resolving a target lists its servers: once per run in this worker, not once per batch. A 100k
  // fleet's set is about 8 MB, so a run's entry goes once its batches stop coming (idleMs), not only
  // when newer runs push it out: a long-lived worker does not keep the last 8 runs' sets for good.
  // And once a newer run of the same target comes, sooner (supersededIdleMs): two runs back to back
  // (a manual run after a scheduled one; the 100k bench) held both sets through the second run.
  interface Entry {
    set: Promise<ReadonlySet<string>>;
    target: string;
    /** Date.now() of its last admission. */
    usedAt: number;
    superseded: boolean;
    expiry?: ReturnType<typeof setTimeout>;
  }
  const members = new Map<string, Entry>();
  /** Runs once superseded (the last few): a late batch of one resolves again without superseding the newer run. */
  const retired = new Set<string>();
  const forget = (key: string): void => {
    const entry = members.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.expiry);
    members.delete(key);
  };
  const expire = (key: string, entry: Entry): void => {
    clearTimeout(entry.expiry);
    const idle = entry.superseded ? supersededIdleMs : idleMs;
    entry.expiry = setTimeout(() => forget(key), Math.max(0, entry.usedAt + idle - Date.now()));
    entry.expiry.unref();
  };
  /** A batch of `runId` came: the other runs of its target are superseded (unless `runId` is itself a late, retired one). */
  const supersedeOthers = (key: string, target: string): boolean => {
    const late = retired.has(key);
    if (late) return true;
    for (const [otherKey, other] of members) {
      if (otherKey === key || other.target !== target || other.superseded) continue;
      other.superseded = true;
      retired.add(otherKey);
      if (retired.size > 2 * capacity) retired.delete(retired.values().next().value as string);
      expire(otherKey, other);
    }
    return false;
  };
  const membersOf = (runId: string, target: string, signal: AbortSignal | undefined): Promise<ReadonlySet<string>> => {
    const key = `${runId}\n${target}`;
    let entry = members.get(key);
    if (entry === undefined) {
      const late = supersedeOthers(key, target);
      const set = deps.targetMembers(target, signal, runId);
      // A failed resolution (network) must not stay cached: the retry resolves again.
      set.catch(() => {
        if (members.get(key)?.set === set) forget(key);
      });
      entry = { set, target, usedAt: Date.now(), superseded: late };
      members.set(key, entry);
      while (members.size > capacity) forget(members.keys().next().value as string);
    }
    entry.usedAt = Date.now();
    expire(key, entry);
    return entry.set;
  };

  return async (batch, signal) => {
    const run = await deps.loadRun(batch.runId);
    const target = deps.target(batch.target);
    const base = { batch, run, target, runQueue: deps.runQueue, expectedJobId: deps.batchJobId(batch.runId, batch.batchIndex) };
    // Rules 1 to 4 first: a claim that fails them does not get to make us list any target.
    const early = checkBatchAdmission({ ...base, isMember: () => true });
    let verdict = early;
    if (early.admitted) {
      // A large run's first batches are queued long before its listing's last page. Every id its
      // listing has found so far is a member (the set only grows), so a batch made of them needs
      // no wait; a batch with any other id waits for the whole set, and is judged on it.
      const soFar = deps.listedSoFar?.(batch.runId, batch.target);
      const quick = soFar === undefined ? undefined : checkBatchAdmission({ ...base, isMember: (id) => soFar.has(id) });
      if (quick?.admitted) {
        verdict = quick;
        // As an admission from the whole set would: an older run's members go soon (supersededIdleMs).
        supersedeOthers(`${batch.runId}\n${batch.target}`, batch.target);
      } else {
        const set = await membersOf(batch.runId, batch.target, signal);
        verdict = checkBatchAdmission({ ...base, isMember: (id) => set.has(id) });
      }
    }
    if (!verdict.admitted) {
      throw new RotatorError({
        code: ServiceErrorCode.batchNotAdmitted,
        retryable: false,
        message: `batch ${batch.batchIndex} of ${batch.runId} refused, nothing done: ${verdict.reasons.join('; ')}`,
      });
    }
  };
}
