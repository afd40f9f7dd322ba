/**
 * Password age and compliance of each server, from the outcome store's state (no I/O, no clock: the
 * reference time is an argument). What an auditor asks: how old is the password in effect, when did
 * rotation last succeed, what happened at the last attempt, and is the server overdue, and why.
 *
 * The age is counted from the last reset Huawei accepted (`lastSuccessAt`). With restart policy
 * `none` an accepted password takes effect at the server's next restart; until then the previous one
 * still logs in, so such a server shows `awaiting restart` as its reason. A server never rotated
 * has no known age: its password predates rotator, and it counts as overdue.
 */
import { OutcomeCode } from '../domain/error-codes.js';
import type { OutcomeKind } from '../domain/outcome.js';
import type { ServerState } from '../ports/outcome-store.js';
import type { PasswordAgePolicy } from './password-age-policy.js';

/** Why a server is not simply compliant. Stable codes for machines, `text` for people. */
export const COMPLIANCE_REASONS = ['never-rotated', 'failing', 'awaiting-restart', 'unverified', 'skipped', 'busy', 'stale'] as const;
export type ComplianceReasonCode = (typeof COMPLIANCE_REASONS)[number];

export interface ServerCompliance {
  serverId: string;
  target: string;
  /** Age of the newest accepted password, in ms; undefined when rotator never rotated the server. */
  passwordAgeMs: number | undefined;
  lastSuccessAt: number | undefined;
  lastAttemptAt: number;
  lastOutcome: OutcomeKind;
  /** Huawei's or our code of the last attempt (e.g. `Ecs.0613`, `no-reset-plugin`). */
  code: string | undefined;
  runId: string;
  consecutiveFailures: number;
  failingSince: number | undefined;
  overdue: boolean;
  /** Set whenever the last attempt did not settle the server, and whenever it is overdue. */
  reason: { code: ComplianceReasonCode; text: string } | undefined;
}

export function assessServer(state: ServerState, policy: PasswordAgePolicy, nowMs: number): ServerCompliance {
  const passwordAgeMs = state.lastSuccessAt === undefined ? undefined : Math.max(0, nowMs - state.lastSuccessAt);
  const overdue = passwordAgeMs === undefined || passwordAgeMs > policy.maxAgeMs;
  return {
    serverId: state.serverId,
    target: state.target,
    passwordAgeMs,
    lastSuccessAt: state.lastSuccessAt,
    lastAttemptAt: state.lastAttemptAt,
    lastOutcome: state.status,
    code: state.errorCode,
    runId: state.runId,
    consecutiveFailures: state.consecutiveFailures,
    failingSince: state.failingSince,
    overdue,
    reason: reasonFor(state, overdue),
  };
}

function reasonFor(s: ServerState, overdue: boolean): ServerCompliance['reason'] {
  const detail = [s.errorCode, s.reason].filter((x) => x !== undefined && x !== '').join(': ');
  const status = statusReason(s, detail);
  if (status !== undefined) {
    return s.lastSuccessAt === undefined ? { code: status.code, text: `never rotated; ${status.text}` } : status;
  }
  if (!overdue) return undefined;
  if (s.lastSuccessAt === undefined) return { code: 'never-rotated', text: 'never rotated' };
  // The last attempt succeeded, long ago: nothing has tried since (target disabled, scheduler down).
  return { code: 'stale', text: `no rotation attempted since ${iso(s.lastAttemptAt)}` };
}

function statusReason(s: ServerState, detail: string): ServerCompliance['reason'] {
  switch (s.status) {
    case 'verified':
      return undefined;
    case 'rotated-unverified':
      // Accepted and restarted, but no login proved it: verification off, a Windows server, no address.
      return { code: 'unverified', text: `accepted, not verified by login${detail === '' ? '' : ` (${detail})`}` };
    case 'pending-restart':
      return {
        code: 'awaiting-restart',
        text: `awaiting restart: the password accepted ${iso(s.lastSuccessAt ?? s.lastAttemptAt)} takes effect at the next restart`,
      };
    case 'failed':
    case 'unknown': {
      const since = s.failingSince ?? s.lastAttemptAt;
      const attempts = s.consecutiveFailures === 1 ? '1 attempt' : `${s.consecutiveFailures} attempts in a row`;
      const what = s.status === 'unknown' ? 'outcome unknown' : 'failed';
      return { code: 'failing', text: `failing since ${iso(since)} (${attempts}; last ${what}${detail ? `: ${detail}` : ''})` };
    }
    case 'skipped':
      if (s.errorCode === OutcomeCode.awaitingRestart) {
        return { code: 'awaiting-restart', text: `awaiting restart${s.reason ? `: ${s.reason}` : ''}` };
      }
      return { code: 'skipped', text: `skipped because ${s.reason ?? s.errorCode ?? 'it was not eligible'}${s.reason && s.errorCode ? ` (${s.errorCode})` : ''}` };
    case 'busy':
      return { code: 'busy', text: `busy: another run held the server at ${iso(s.lastAttemptAt)}` };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One target's figures, folded server by server (memory stays flat for any fleet). */
export interface TargetCompliance {
  target: string;
  policy: PasswordAgePolicy;
  servers: number;
  overdue: number;
  /** Servers whose last attempt failed or ended unknown. */
  failing: number;
  byOutcome: Record<OutcomeKind, number>;
  byReason: Record<ComplianceReasonCode, number>;
  /** Largest known password age in ms (servers never rotated have none). */
  maxPasswordAgeMs: number | undefined;
  /** Last successful reset of any server of the target. */
  lastSuccessAt: number | undefined;
}

export function emptyTargetCompliance(
  target: string,
  policy: PasswordAgePolicy,
  outcomeKinds: readonly OutcomeKind[],
): TargetCompliance {
  return {
    target,
    policy,
    servers: 0,
    overdue: 0,
    failing: 0,
    byOutcome: Object.fromEntries(outcomeKinds.map((k) => [k, 0])) as Record<OutcomeKind, number>,
    byReason: Object.fromEntries(COMPLIANCE_REASONS.map((k) => [k, 0])) as Record<ComplianceReasonCode, number>,
    maxPasswordAgeMs: undefined,
    lastSuccessAt: undefined,
  };
}

/** Adds one server to its target's figures (mutates and returns `acc`). */
export function foldServer(acc: TargetCompliance, server: ServerCompliance): TargetCompliance {
  acc.servers += 1;
  if (server.overdue) acc.overdue += 1;
  if (server.lastOutcome === 'failed' || server.lastOutcome === 'unknown') acc.failing += 1;
  acc.byOutcome[server.lastOutcome] = (acc.byOutcome[server.lastOutcome] ?? 0) + 1;
  if (server.reason) acc.byReason[server.reason.code] += 1;
  if (server.passwordAgeMs !== undefined) acc.maxPasswordAgeMs = Math.max(acc.maxPasswordAgeMs ?? 0, server.passwordAgeMs);
  if (server.lastSuccessAt !== undefined) acc.lastSuccessAt = Math.max(acc.lastSuccessAt ?? 0, server.lastSuccessAt);
  return acc;
}
