/**
 * Honest outcomes (invariant 5, docs/architecture.md): each requested server ends a run as exactly one.
 * - verified: accepted, and the new password was proven in effect by a login (verification by login);
 * - rotated-unverified: accepted and restarted, but no login proved it (verification off, or the
 *   server could not be reached / is Windows); earlier candidates stay labelled;
 * - pending-restart: accepted; the new password takes effect at the next restart;
 * - failed: a definite rejection, with Huawei's code;
 * - unknown: sent, no definite answer; the next attempt resends the same password;
 * - skipped: ineligible (reason given);
 * - busy: held by another in-flight run.
 * "Accepted" (or "restarted") is never reported as "verified".
 */
export const OUTCOME_KINDS = ['verified', 'rotated-unverified', 'pending-restart', 'failed', 'unknown', 'skipped', 'busy'] as const;
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

/** Outcomes that mean Huawei accepted the new password (a success for `consecutiveFailures`, `lastSuccessAt` and the CLI's exit code). */
export const ACCEPTED_OUTCOMES: readonly OutcomeKind[] = ['verified', 'rotated-unverified', 'pending-restart'];

/**
 * Accepted outcomes whose reason is not kept in Redis (batch results, server states): it is a sentence
 * about the restart policy that the outcome itself implies, and a fleet of them would hold the same
 * prose once per server. `rotated-unverified` keeps its reason: it says why no login proved the password.
 */
export const REASON_IMPLIED_OUTCOMES: readonly OutcomeKind[] = ['verified', 'pending-restart'];
