/**
 * What a notification says: one event about one target, built from ids, counts, codes and reasons
 * (a run record, compliance assessments). Never a password: nothing here ever sees one. Pure.
 */
import type { NotificationEvent } from '../config/service-schema.js';
import type { ServerCompliance } from '../compliance/server-compliance.js';
import type { RunRecord } from '../ports/run-history.js';

/** Servers listed in one notification; the count always covers all. */
export const MAX_LISTED_SERVERS = 50;

export interface NotifiedServer {
  serverId: string;
  reasonCode: string | null;
  reason: string | null;
  passwordAgeDays: number | null;
  lastOutcome: string;
}

export interface Notification {
  /** Unique per event (a replayed delivery keeps it: receivers can deduplicate). */
  id: string;
  event: NotificationEvent;
  /** ISO-8601. */
  at: string;
  target: string;
  /** One line for people (Slack text, e-mail subject). */
  summary: string;
  run?: {
    runId: string;
    result: RunRecord['result'];
    trigger: RunRecord['trigger'];
    dryRun: boolean;
    servers: number;
    counts: RunRecord['counts'];
    failedBatches: number;
    durationSeconds: number;
    error: string | null;
    problemServers: string[];
  };
  servers?: { count: number; listed: NotifiedServer[] };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function runFailedNotification(run: RunRecord, nowMs: number): Notification {
  const problems = run.counts.failed + run.counts.unknown;
  const what =
    run.result === 'failed'
      ? `failed: ${run.error ?? 'see the service log'}`
      : `ended with ${problems} of ${run.servers} server(s) failed or unknown${run.failedBatches > 0 ? ` and ${run.failedBatches} failed batch(es)` : ''}`;
  return {
    id: `${run.runId}|run-failed`,
    event: 'run-failed',
    at: iso(nowMs),
    target: run.target,
    summary: `rotator: ${run.dryRun ? 'dry run' : 'run'} of ${run.target} ${what}`,
    run: {
      runId: run.runId,
      result: run.result,
      trigger: run.trigger,
      dryRun: run.dryRun,
      servers: run.servers,
      counts: run.counts,
      failedBatches: run.failedBatches,
      durationSeconds: Math.max(0, Math.round((run.finishedAt - run.enqueuedAt) / 1000)),
      error: run.error ?? null,
      problemServers: run.problemServers,
    },
  };
}

function listed(servers: readonly ServerCompliance[]): NotifiedServer[] {
  return servers.slice(0, MAX_LISTED_SERVERS).map((s) => ({
    serverId: s.serverId,
    reasonCode: s.reason?.code ?? null,
    reason: s.reason?.text ?? null,
    passwordAgeDays: s.passwordAgeMs === undefined ? null : Math.round((s.passwordAgeMs / 86_400_000) * 100) / 100,
    lastOutcome: s.lastOutcome,
  }));
}

export function complianceNotification(
  event: 'server-overdue' | 'server-recovered',
  target: string,
  servers: readonly ServerCompliance[],
  nowMs: number,
  /** Distinguishes two transitions of the same target (e.g. the check's time). */
  checkId: string,
): Notification {
  const n = servers.length;
  return {
    id: `${target}|${event}|${checkId}`,
    event,
    at: iso(nowMs),
    target,
    summary:
      event === 'server-overdue'
        ? `rotator: ${n} server(s) of ${target} turned overdue (password older than the policy, or never rotated)`
        : `rotator: ${n} server(s) of ${target} are compliant again`,
    servers: { count: n, listed: listed(servers) },
  };
}
