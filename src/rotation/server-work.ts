/**
 * One server's working state as it goes through the steps of a batch: what the plan learnt from the
 * vault (its phase), the password it must receive, how the reset call classified it, and its
 * outcome once settled. Lives in memory only, for the duration of one batch execution.
 */
import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';
import type { EcsServer } from '../domain/server.js';
import type { ServerResetResult } from '../ports/ecs-api.js';
import type { SecretDescription, SecretKey } from '../ports/vault.js';

/**
 * Where a server stands, as read from the vault at plan time (the "is this step already done?"):
 * - `new`: nothing pending: store a new password, then reset;
 * - `resend`: AWSPENDING holds a password from an earlier attempt whose outcome is not settled (not
 *   on AWSCURRENT's version): send exactly that one again;
 * - `promoted`: this batch's password is AWSCURRENT already: only the restart/record remain;
 * - `confirm`: every unconfirmed slot is taken and the restart policy reboots: send the AWSCURRENT
 *   password again (no new password, so no new possibly-active one), reboot, and verify it by login
 *   (or, verification off, trim the candidates beyond the last N): see labels.ts.
 */
export type ServerPhase = 'new' | 'resend' | 'promoted' | 'confirm';

/** The password a server must receive. Lives in memory only, for the duration of the batch. */
export interface PasswordVersion {
  versionId: string;
  password: string;
  /** True when it was pending before this execution started (it may have been sent already). */
  inherited: boolean;
  generation: number;
}

/** One server's working state through the steps. `outcome` set means the server is settled. */
export interface ServerWork {
  serverId: string;
  key: SecretKey;
  server: EcsServer | undefined;
  description: SecretDescription | undefined;
  phase: ServerPhase;
  version: PasswordVersion | undefined;
  /** Version id of this batch's password once accepted (also set for the `promoted` phase). */
  acceptedVersionId: string | undefined;
  requestId: string | undefined;
  /** No password of this server was in the vault before this batch (the one in effect was never known). */
  firstRotation: boolean;
  /** How the last reset call of this execution classified the server. */
  reset: ServerResetResult | undefined;
  /** A reset call naming this server went out in this execution (its outcome may be unknown). */
  sent: boolean;
  outcome: ServerOutcome | undefined;
}

/** Gives the server its outcome: no later step touches it. */
export function settle(work: ServerWork, outcome: OutcomeKind, details: Omit<ServerOutcome, 'serverId' | 'outcome'> = {}): void {
  work.outcome = { serverId: work.serverId, outcome, ...details };
}

/** Servers not settled yet (still in play for the next step). */
export function unsettled(works: readonly ServerWork[]): ServerWork[] {
  return works.filter((w) => w.outcome === undefined);
}
