import type { OutcomeKind } from '../domain/outcome.js';

/**
 * - `succeeded`: no server failed or ended unknown and no batch failed (skipped and busy servers
 *   are compliance matters: they show as overdue in time, not as a failed run);
 * - `partial`: some servers failed or ended unknown, or a batch failed for good;
 * - `failed`: the run itself failed (planning error, auth, unknown target): no server was rotated by it.
 */
export const RUN_RESULTS = ['succeeded', 'partial', 'failed'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** One finished run, as the status page and notifications show it. Ids, counts and codes only. */
export interface RunRecord {
  runId: string;
  target: string;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  result: RunResult;
  /** Milliseconds since the epoch: when the run was enqueued, and when it finished. */
  enqueuedAt: number;
  finishedAt: number;
  servers: number;
  counts: Record<OutcomeKind, number>;
  failedBatches: number;
  /** Why the run failed (`failed` only): our error code and message, never a password. */
  error?: string | undefined;
  /** Server ids that failed or ended unknown, at most 20 (for notifications). */
  problemServers: string[];
}

export interface RunHistory {
  /** Stores the record once per run id; resolves false when it was already stored (another process). */
  record(run: RunRecord): Promise<boolean>;
  /** The latest runs of a target, newest first. */
  recent(target: string, limit: number): Promise<RunRecord[]>;
  /** When the last non-dry run of each target that `succeeded` finished (ms since the epoch). */
  lastSuccess(): Promise<Record<string, number>>;
}
