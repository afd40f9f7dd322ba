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
 * - `resend`: AWSPENDING holds a password from an earlier attempt: send exactly that one again;
 * - `accepted`: this batch's password holds an unconfirmed slot: Huawei accepted it, promote it;
 * - `promoted`: this batch's password is AWSCURRENT already: only the restart/record remain;
 * - `confirm`: every unconfirmed slot is taken and the restart policy reboots: send the AWSCURRENT
 *   password again (no new password, so no new possibly-active one) and reboot, which confirms it
 *   active and frees the slots; the next run rotates normally.
 */
export type ServerPhase = 'new' | 'resend' | 'accepted' | 'promoted' | 'confirm';

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
  /** Version id of this batch's password once accepted (also set for `accepted`/`promoted` phases). */
  acceptedVersionId: string | undefined;
  requestId: string | undefined;
  /** No password of this server was in the vault before this batch (the one in effect was never known). */
  firstRotation: boolean;
  /** How the last reset call of this execution classified the server. */
  reset: ServerResetResult | undefined;
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
