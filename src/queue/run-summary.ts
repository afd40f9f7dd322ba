/**
 * The summary of one run: the aggregate of its batches' summaries, and the run job's return value
 * (so it shows on the dashboard and reaches `rotator rotate --wait`). Holds ids, outcome kinds and
 * codes only.
 */
import { ACCEPTED_OUTCOMES, OUTCOME_KINDS } from '../domain/outcome.js';
import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';

/** The shape of the rotation core's `BatchSummary` (src/rotation/run-batch.ts), as the queue sees it. */
export interface BatchResult {
  runId: string;
  batchIndex: number;
  outcomes: ServerOutcome[];
  counts?: Partial<Record<OutcomeKind, number>> | undefined;
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
   * Per-server outcomes: every server that did not end `verified`/`rotated-unverified`/`pending-restart` first, then the
   * others, ordered by batch then request order, at most `maxListed` (the return value lives in
   * Redis; a fleet of 100k servers must not make it huge). `counts` always covers every server.
   */
  outcomes: ServerOutcome[];
  /** How many outcomes were left out of `outcomes` (0 when all are listed). */
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
  const fine: ServerOutcome[] = [];
  let total = 0;
  for (const batch of sorted) {
    for (const o of batch.outcomes) {
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
  const outcomes = [...problems, ...fine].slice(0, maxListed);
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
    outcomesOmitted: total - outcomes.length,
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
