/**
 * The summary of one run: the aggregate of its batches' summaries, and the run job's return value
 * (so it shows on the dashboard and reaches `rotator rotate --wait`). Holds ids, outcome kinds and
 * codes only.
 */
import { ACCEPTED_OUTCOMES, OUTCOME_KINDS } from '../domain/outcome.js';
import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';

/**
 * Servers of one batch or run that ended alike: one outcome, and the same code, reason, version and
 * request (all optional). A batch of 1000 servers sharing one password is one group, so a return
 * value holds each server id once and not its version id, request id and reason besides.
 */
export interface OutcomeGroup {
  outcome: OutcomeKind;
  code?: string | undefined;
  reason?: string | undefined;
  requestId?: string | undefined;
  versionId?: string | undefined;
  serverIds: string[];
}

/**
 * A batch job's return value: the rotation core's `BatchSummary` (src/rotation/batch-input.ts) as
 * the batch processor stores it. BullMQ keeps it three times (the batch job, its run's `processed`
 * hash, the batch queue's event stream), so the accepted servers, usually the whole batch, are
 * grouped (`accepted`). Results written by the previous release list every server in `outcomes`;
 * both are read.
 */
export interface BatchResult {
  runId: string;
  batchIndex: number;
  /** One entry per server that did not end accepted (per server whatever its outcome in results of the previous release). */
  outcomes: ServerOutcome[];
  accepted?: OutcomeGroup[] | undefined;
  counts?: Partial<Record<OutcomeKind, number>> | undefined;
}

/** Every server's outcome in a batch result, whichever release wrote it. */
export function outcomesOfBatch(result: Pick<BatchResult, 'outcomes' | 'accepted'>): ServerOutcome[] {
  return [...result.outcomes, ...expandGroups(result.accepted ?? [])];
}

/** Groups outcomes by everything but the server id, in first-seen order. */
export function groupOutcomes(outcomes: readonly ServerOutcome[]): OutcomeGroup[] {
  const groups = new Map<string, OutcomeGroup>();
  for (const o of outcomes) {
    const key = JSON.stringify([o.outcome, o.code, o.reason, o.requestId, o.versionId]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { outcome: o.outcome, serverIds: [] };
      for (const field of ['code', 'reason', 'requestId', 'versionId'] as const) if (o[field] !== undefined) group[field] = o[field];
      groups.set(key, group);
    }
    group.serverIds.push(o.serverId);
  }
  return [...groups.values()];
}

function expandGroups(groups: readonly OutcomeGroup[]): ServerOutcome[] {
  return groups.flatMap(({ serverIds, ...rest }) => serverIds.map((serverId) => ({ serverId, ...rest })));
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
   * Every server that did not end `verified`/`rotated-unverified`/`pending-restart`, one entry each,
   * ordered by batch then request order. With `accepted`, at most `maxListed` servers are listed (the
   * return value lives in Redis twice: the run job and its event stream; a fleet of 100k servers must
   * not make it huge), problems first. `counts` always covers every server.
   */
  outcomes: ServerOutcome[];
  /**
   * The servers that ended accepted, grouped by outcome and version (absent in summaries of the
   * previous release, which listed them in `outcomes`). {@link listedOutcomes} gives both as one list.
   */
  accepted?: OutcomeGroup[] | undefined;
  /** How many servers were left out of `outcomes` and `accepted` (0 when all are listed). */
  outcomesOmitted: number;
}

/** The servers a run summary lists (problems first, then the accepted ones), one entry each. */
export function listedOutcomes(summary: Pick<RunSummary, 'outcomes' | 'accepted'>): ServerOutcome[] {
  return [...summary.outcomes, ...expandGroups(summary.accepted ?? [])];
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
  const fine: ServerOutcome[] = [];
  let total = 0;
  for (const batch of sorted) {
    for (const o of outcomesOfBatch(batch)) {
      counts[o.outcome] += 1;
      total += 1;
      // Bounded memory: keep at most maxListed of each kind while streaming, trim at the end.
      if (ACCEPTED_OUTCOMES.includes(o.outcome)) {
        if (problems.length + fine.length < maxListed) fine.push(o);
      } else if (problems.length < maxListed) {
        problems.push(o);
      }
    }
  }
  const outcomes = problems.slice(0, maxListed);
  const accepted = fine.slice(0, maxListed - outcomes.length);
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
    outcomes,
    accepted: groupOutcomes(accepted),
    outcomesOmitted: total - outcomes.length - accepted.length,
  };
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
