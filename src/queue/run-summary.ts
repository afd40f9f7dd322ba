/**
 * The summary of one run: the aggregate of its batches' summaries, and the run job's return value
 * (so it shows on the dashboard and reaches `rotator rotate --wait`). Holds ids, outcome kinds and
 * codes only.
 */
import { ACCEPTED_OUTCOMES, OUTCOME_KINDS } from '../domain/outcome.js';
import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';
import { countRanges, parseRanges } from './position-ranges.js';

/**
 * Servers of one batch that ended accepted alike: one outcome, and the same reason, version and
 * request (all optional). `servers` names them by their positions in the batch job's `serverIds`
 * (position-ranges.ts): a batch of 1000 servers sharing one password is one group of a few bytes.
 */
export interface AcceptedGroup {
  outcome: OutcomeKind;
  code?: string | undefined;
  reason?: string | undefined;
  requestId?: string | undefined;
  versionId?: string | undefined;
  /** Positions in the batch job's `serverIds`, e.g. `0-997,999`. */
  servers: string;
}

/**
 * Servers that did not end accepted, alike: one outcome and the same code, reason, request and
 * version (all optional), named by id. A batch whose 1000 servers were skipped for one reason (a
 * stopped fleet, servers awaiting a restart) then holds that sentence once, not 1000 times: each
 * copy of a run's results in Redis would otherwise carry about 300 bytes per server, kept with every
 * run the retention keeps. Named by id, not by position as {@link AcceptedGroup} is, because the run
 * lists these servers in its summary and its batch jobs may already be gone by then.
 */
export interface OutcomeGroup {
  outcome: OutcomeKind;
  code?: string | undefined;
  reason?: string | undefined;
  requestId?: string | undefined;
  versionId?: string | undefined;
  serverIds: string[];
}

/** The fields an {@link OutcomeGroup} shares, as a map key. */
function outcomeGroupKey(o: Omit<ServerOutcome, 'serverId'>): string {
  return JSON.stringify([o.outcome, o.code ?? null, o.reason ?? null, o.requestId ?? null, o.versionId ?? null]);
}

/** `o`'s shared fields, without the ones it does not have (so that the stored JSON holds no nulls). */
function sharedFields(o: Omit<ServerOutcome, 'serverId'>): Omit<ServerOutcome, 'serverId'> {
  return {
    outcome: o.outcome,
    ...(o.code === undefined ? {} : { code: o.code }),
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    ...(o.requestId === undefined ? {} : { requestId: o.requestId }),
    ...(o.versionId === undefined ? {} : { versionId: o.versionId }),
  };
}

/**
 * Sorts outcomes into the ones listed alone and groups of alike ones, in the order each first
 * appears: a server that shares its fields with no other stays a `ServerOutcome`.
 */
export function groupAlike(outcomes: Iterable<ServerOutcome>): { single: ServerOutcome[]; grouped: OutcomeGroup[] } {
  const buckets = new Map<string, { fields: Omit<ServerOutcome, 'serverId'>; serverIds: string[] }>();
  let last: { outcome: ServerOutcome; serverIds: string[] } | undefined;
  for (const o of outcomes) {
    // Alike servers mostly come one after another: most need no key of their own.
    if (last !== undefined && alike(last.outcome, o)) {
      last.serverIds.push(o.serverId);
      continue;
    }
    const key = outcomeGroupKey(o);
    let bucket = buckets.get(key);
    if (bucket === undefined) buckets.set(key, (bucket = { fields: sharedFields(o), serverIds: [] }));
    bucket.serverIds.push(o.serverId);
    last = { outcome: o, serverIds: bucket.serverIds };
  }
  const single: ServerOutcome[] = [];
  const grouped: OutcomeGroup[] = [];
  for (const { fields, serverIds } of buckets.values()) {
    if (serverIds.length === 1) single.push({ serverId: serverIds[0]!, ...fields });
    else grouped.push({ ...fields, serverIds });
  }
  return { single, grouped };
}

function alike(a: Omit<ServerOutcome, 'serverId'>, b: Omit<ServerOutcome, 'serverId'>): boolean {
  return a.outcome === b.outcome && a.code === b.code && a.reason === b.reason && a.requestId === b.requestId && a.versionId === b.versionId;
}

/** The servers of outcome groups one by one. */
function* ungroup(groups: readonly OutcomeGroup[] | undefined): Generator<ServerOutcome> {
  for (const { serverIds, ...fields } of groups ?? []) for (const serverId of serverIds) yield { serverId, ...fields };
}

/**
 * A batch job's return value: the rotation core's `BatchSummary` (src/rotation/batch-input.ts) as
 * the batch processor stores it. BullMQ keeps it three times (the batch job, its run's `processed`
 * hash, the batch queue's event stream), so the accepted servers, usually the whole batch, are not
 * listed one by one: `accepted` names them by position in the job's `serverIds`, and their state is
 * in the outcome store. Results written by the previous release list every server in `outcomes`;
 * both are read.
 */
export interface BatchResult {
  runId: string;
  batchIndex: number;
  /**
   * The servers that did not end accepted and share their outcome, code and reason with no other of
   * the batch (every server in results of earlier releases, whatever its outcome).
   */
  outcomes: ServerOutcome[];
  /** The servers that did not end accepted, alike ones together (absent in results of earlier releases). */
  grouped?: OutcomeGroup[] | undefined;
  accepted?: AcceptedGroup[] | undefined;
  counts?: Partial<Record<OutcomeKind, number>> | undefined;
}

/**
 * Every server's outcome in a batch result, whichever release wrote it; `serverIds` is the batch
 * job's (its data), which `accepted` refers to. A position outside it is an error (not this job's result).
 */
export function outcomesOfBatch(result: Pick<BatchResult, 'outcomes' | 'grouped' | 'accepted'>, serverIds: readonly string[]): ServerOutcome[] {
  const out = [...result.outcomes, ...ungroup(result.grouped)];
  for (const { servers, ...rest } of result.accepted ?? []) {
    for (const p of parseRanges(servers)) {
      const serverId = serverIds[p];
      if (serverId === undefined) throw new Error(`batch result: position ${p} is beyond the batch's ${serverIds.length} server(s)`);
      out.push({ serverId, ...rest });
    }
  }
  return out;
}

/** How many servers a batch result covers (no server ids needed). */
export function serversOfBatch(result: Pick<BatchResult, 'outcomes' | 'grouped' | 'accepted'>): number {
  return (
    result.outcomes.length +
    (result.grouped ?? []).reduce((n, g) => n + g.serverIds.length, 0) +
    (result.accepted ?? []).reduce((n, g) => n + countRanges(g.servers), 0)
  );
}

/** A batch job that failed for good (attempts exhausted or a non-retryable error). */
export interface FailedBatch {
  batchIndex: number;
  /** BullMQ's failed reason: our error code and message, never a password. */
  reason: string;
  /** How many servers the batch held, when known. */
  servers: number | undefined;
}

export interface RunSummary {
  runId: string;
  target: string;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  /** Servers the run resolved and fanned out. */
  servers: number;
  batches: number;
  counts: Record<OutcomeKind, number>;
  /**
   * Batches that never returned a summary: their servers have no outcome from this run (the rotation
   * core records what it reached in the outcome store). Never counted as rotated.
   */
  failedBatches: FailedBatch[];
  /**
   * The servers that did not end `verified`/`rotated-unverified`/`pending-restart` and share their
   * outcome, code and reason with no other listed server, in the order of their batches; the others
   * are in `grouped`. At most `maxListed` servers are listed in the two (the return value lives in
   * Redis twice, on the run job and in its event stream; a fleet of 100k servers must not make it
   * huge): {@link listedOutcomes} gives them all one by one. The accepted servers are counted in
   * `counts`; their state is in the outcome store (`rotator status`), and each batch's return value
   * names them. (Earlier releases listed every server here, each with its reason.)
   */
  outcomes: ServerOutcome[];
  /** Listed servers that did not end accepted, alike ones together (absent in summaries of earlier releases). */
  grouped?: OutcomeGroup[] | undefined;
  /** How many servers that did not end accepted are listed in neither (0 when all are listed). */
  outcomesOmitted: number;
}

/** Default bound on the outcomes a run summary lists. */
export const DEFAULT_MAX_LISTED_OUTCOMES = 1000;

export function emptyCounts(): Record<OutcomeKind, number> {
  return Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
}

/** Builds a run's summary from its batches' results and failures (order-independent). */
export function aggregateRunSummary(input: {
  runId: string;
  target: string;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  servers: number | undefined;
  batches: readonly BatchResult[];
  failedBatches: readonly FailedBatch[];
  /** @defaultValue DEFAULT_MAX_LISTED_OUTCOMES */
  maxListed?: number;
}): RunSummary {
  const maxListed = input.maxListed ?? DEFAULT_MAX_LISTED_OUTCOMES;
  const sorted = [...input.batches].sort((a, b) => a.batchIndex - b.batchIndex);
  const counts = emptyCounts();
  const problems: ServerOutcome[] = [];
  let total = 0;
  let unlisted = 0;
  for (const batch of sorted) {
    for (const o of [...batch.outcomes, ...ungroup(batch.grouped)]) {
      counts[o.outcome] += 1;
      total += 1;
      // Results of earlier releases list accepted servers here too: counted, not listed.
      if (ACCEPTED_OUTCOMES.includes(o.outcome)) continue;
      if (problems.length < maxListed) problems.push(o);
      else unlisted += 1;
    }
    for (const group of batch.accepted ?? []) {
      const n = countRanges(group.servers);
      counts[group.outcome] += n;
      total += n;
    }
  }
  const listed = groupAlike(problems);
  const failedBatches = [...input.failedBatches].sort((a, b) => a.batchIndex - b.batchIndex);
  const unaccounted = failedBatches.reduce((n, f) => n + (f.servers ?? 0), 0);
  return {
    runId: input.runId,
    target: input.target,
    trigger: input.trigger,
    dryRun: input.dryRun,
    servers: input.servers ?? total + unaccounted,
    batches: sorted.length + failedBatches.length,
    counts,
    failedBatches,
    outcomes: listed.single,
    grouped: listed.grouped,
    outcomesOmitted: unlisted,
  };
}

/**
 * Every server a run summary lists (those that did not end accepted, up to its bound), one by one:
 * the ones listed alone, then each group's. Summaries of earlier releases have no groups.
 */
export function listedOutcomes(summary: Pick<RunSummary, 'outcomes' | 'grouped'>): ServerOutcome[] {
  return [...summary.outcomes, ...ungroup(summary.grouped)];
}

/**
 * Whether a run fully succeeded: every server `verified` or `rotated-unverified`, or `pending-restart` when the target's
 * restart policy is `none` (then pending-restart is the expected end state), and no batch failed.
 */
export function runSucceeded(summary: RunSummary, restartPolicy: 'none' | 'soft' | 'hard'): boolean {
  if (summary.failedBatches.length > 0) return false;
  const ok = summary.counts.verified + summary.counts['rotated-unverified'] + (restartPolicy === 'none' ? summary.counts['pending-restart'] : 0);
  return ok === summary.servers;
}
