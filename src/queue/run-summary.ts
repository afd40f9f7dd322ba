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
  /** One entry per server that did not end accepted (per server whatever its outcome in results of the previous release). */
  outcomes: ServerOutcome[];
  accepted?: AcceptedGroup[] | undefined;
  counts?: Partial<Record<OutcomeKind, number>> | undefined;
}

/**
 * Every server's outcome in a batch result, whichever release wrote it; `serverIds` is the batch
 * job's (its data), which `accepted` refers to. A position outside it is an error (not this job's result).
 */
export function outcomesOfBatch(result: Pick<BatchResult, 'outcomes' | 'accepted'>, serverIds: readonly string[]): ServerOutcome[] {
  const out = [...result.outcomes];
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
export function serversOfBatch(result: Pick<BatchResult, 'outcomes' | 'accepted'>): number {
  return result.outcomes.length + (result.accepted ?? []).reduce((n, g) => n + countRanges(g.servers), 0);
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
   * Every server that did not end `verified`/`rotated-unverified`/`pending-restart`, ordered by batch
   * then request order, at most `maxListed` (the return value lives in Redis twice, on the run job
   * and in its event stream; a fleet of 100k servers must not make it huge). The accepted servers are
   * counted in `counts`; their state is in the outcome store (`rotator status`), and each batch's
   * return value names them. (The previous release listed them here after the others.)
   */
  outcomes: ServerOutcome[];
  /** How many servers that did not end accepted were left out of `outcomes` (0 when all are listed). */
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
    for (const o of batch.outcomes) {
      counts[o.outcome] += 1;
      total += 1;
      // Results of the previous release list accepted servers here too: counted, not listed.
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
    outcomes: problems,
    outcomesOmitted: unlisted,
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
