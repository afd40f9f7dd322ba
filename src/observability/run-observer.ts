/**
 * Watches the runs this process's run worker finishes: builds a {@link RunRecord}, stores it once
 * (run history), counts it in the metrics, and hands it on (notifications, compliance check).
 *
 * BullMQ's Worker emits `completed` and `failed` in the process that finished the job, so no event
 * stream is read and nothing is missed while Redis is reachable. (A process killed between finishing
 * a run and recording it loses that record: the outcome store still has every server's state.)
 */
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { OUTCOME_KINDS } from '../domain/outcome.js';
import type { Clock } from '../ports/clock.js';
import type { RunHistory, RunRecord } from '../ports/run-history.js';
import { listedOutcomes, type RunSummary } from '../queue/run-summary.js';
import type { ServiceMetrics } from './service-metrics.js';

/** What the observer needs of a BullMQ Worker. */
export interface RunEventSource {
  on(event: 'completed', listener: (job: Job, result: unknown) => void): unknown;
  on(event: 'failed', listener: (job: Job | undefined, error: Error) => void): unknown;
  off(event: 'completed' | 'failed', listener: (...args: never[]) => void): unknown;
}

export interface RunObserverOptions {
  runs: RunEventSource;
  history: RunHistory;
  metrics?: ServiceMetrics | undefined;
  /** Called once per run, after it is recorded; errors are logged. */
  onRun?: (run: RunRecord) => Promise<void>;
  clock: Pick<Clock, 'now'>;
  logger: Logger;
}

const MAX_PROBLEM_SERVERS = 20;

/** The record of a finished run (pure): from the run job and its summary, or its failure. */
export function runRecordOf(
  job: Pick<Job, 'id' | 'data' | 'timestamp' | 'finishedOn'>,
  outcome: { summary: RunSummary } | { error: string },
  nowMs: number,
): RunRecord {
  const data = job.data as { target: string; trigger: 'schedule' | 'manual'; dryRun: boolean };
  const base = {
    runId: String(job.id),
    target: data.target,
    trigger: data.trigger,
    dryRun: data.dryRun,
    enqueuedAt: job.timestamp,
    finishedAt: job.finishedOn ?? nowMs,
  };
  if ('error' in outcome) {
    return {
      ...base,
      result: 'failed',
      servers: 0,
      counts: Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as RunRecord['counts'],
      failedBatches: 0,
      // BullMQ's failed reason is our RotatorError's code and message (no password by contract); bounded.
      error: outcome.error.slice(0, 500),
      problemServers: [],
    };
  }
  const s = outcome.summary;
  const problems = s.counts.failed + s.counts.unknown;
  return {
    ...base,
    result: problems > 0 || s.failedBatches.length > 0 ? 'partial' : 'succeeded',
    servers: s.servers,
    counts: s.counts,
    failedBatches: s.failedBatches.length,
    problemServers: listedOutcomes(s)
      .filter((o) => o.outcome === 'failed' || o.outcome === 'unknown')
      .slice(0, MAX_PROBLEM_SERVERS)
      .map((o) => o.serverId),
  };
}

export function observeRuns(options: RunObserverOptions): () => void {
  const { history, metrics, logger } = options;
  const handle = async (run: RunRecord): Promise<void> => {
    if (!(await history.record(run))) return;
    metrics?.runs.inc({ target: run.target, result: run.result });
    metrics?.runDuration.observe({ target: run.target }, Math.max(0, run.finishedAt - run.enqueuedAt) / 1000);
    await options.onRun?.(run);
  };
  const safely = (run: RunRecord): void => {
    handle(run).catch((error: unknown) =>
      logger.warn({ runId: run.runId, err: { message: (error as Error).message } }, 'run observer: could not record a finished run'),
    );
  };
  const onCompleted = (job: Job, result: unknown): void => {
    const summary = result as RunSummary | undefined;
    if (!summary || typeof summary !== 'object' || !('counts' in summary)) return;
    safely(runRecordOf(job, { summary }, options.clock.now()));
  };
  const onFailed = (job: Job | undefined, error: Error): void => {
    // Only a final failure (BullMQ sets finishedOn then); an attempt that will be retried is not a result.
    if (!job || typeof job.finishedOn !== 'number') return;
    safely(runRecordOf(job, { error: job.failedReason || error.message }, options.clock.now()));
  };
  options.runs.on('completed', onCompleted);
  options.runs.on('failed', onFailed);
  return () => {
    options.runs.off('completed', onCompleted);
    options.runs.off('failed', onFailed);
  };
}
