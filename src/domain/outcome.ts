/**
 * Honest outcomes (invariant 5, docs/architecture.md): each requested server ends a run as exactly one.
 * - rotated: accepted and, with a restart policy, restarted;
 * - pending-restart: accepted; the new password takes effect at the next restart;
 * - failed: a definite rejection, with Huawei's code;
 * - unknown: sent, no definite answer; the next attempt resends the same password;
 * - skipped: ineligible (reason given);
 * - busy: held by another in-flight run.
 * "Accepted" is never reported as "verified".
 */
export const OUTCOME_KINDS = ['rotated', 'pending-restart', 'failed', 'unknown', 'skipped', 'busy'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export interface ServerOutcome {
  serverId: string;
  outcome: OutcomeKind;
  /** Huawei or vault error code, or a short reason code for skipped/busy. */
  code?: string | undefined;
  /** Human-readable reason; never contains a password. */
  reason?: string | undefined;
  requestId?: string | undefined;
  /** Vault version id of the password this outcome concerns. */
  versionId?: string | undefined;
}
