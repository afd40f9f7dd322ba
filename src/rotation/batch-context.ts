import type { Logger } from 'pino';
import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { EcsServer } from '../domain/server.js';
import type { AuditEvent, AuditStep } from '../ports/audit-log.js';
import type { ServerResetResult } from '../ports/ecs-api.js';
import type { SecretDescription, SecretKey } from '../ports/vault.js';
import type { BatchDeps, BatchInput } from './run-batch.js';
import { DEFAULT_KEEP_CANDIDATES, type CandidatePolicy } from './labels.js';
import { loginTargetOf, type VerifySettings } from './verify-server.js';

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
  /** A reset call naming this server went out in this execution (its outcome may be unknown). */
  sent: boolean;
  /** An inherited pending version refused with `Ecs.0011` and kept as a candidate instead (finish-secret.ts). */
  keptAsCandidate?: string | undefined;
  outcome: ServerOutcome | undefined;
}

export interface BatchContext {
  deps: BatchDeps;
  input: BatchInput;
  logger: Logger;
  /** Audit events of the current step, flushed by `flushAudit`. */
  pendingAudit: AuditEvent[];
}

export function settle(work: ServerWork, outcome: OutcomeKind, details: Omit<ServerOutcome, 'serverId' | 'outcome'> = {}): void {
  work.outcome = { serverId: work.serverId, outcome, ...details };
}

export function audit(
  ctx: BatchContext,
  step: AuditStep,
  work: ServerWork,
  outcome: string,
  extra: Pick<AuditEvent, 'code' | 'versionId' | 'requestId' | 'detail'> = {},
): void {
  ctx.pendingAudit.push({
    ts: ctx.deps.clock.now(),
    runId: ctx.input.runId,
    target: ctx.input.target.name,
    batchIndex: ctx.input.batchIndex,
    step,
    serverId: work.serverId,
    outcome,
    ...extra,
  });
}

export async function flushAudit(ctx: BatchContext): Promise<void> {
  const events = ctx.pendingAudit.splice(0);
  await ctx.deps.audit.append(events);
}

/** Servers still in play (not settled). */
export function open(works: readonly ServerWork[]): ServerWork[] {
  return works.filter((w) => w.outcome === undefined);
}

/** Gateway/ECS codes meaning "too many requests": the batch stops and the queue pauses. */
export const THROTTLE_CODES: readonly string[] = ['APIGW.0308', 'Common.1503'];

/**
 * Whether an ECS failure must stop the batch rather than settle one server: authentication and
 * permission (401/403; retrying feeds Huawei's AK lock-out), and throttling (the queue pauses and
 * retries the job later). Anything that is not a RotatorError is a bug and stops it too.
 */
export function mustStopBatch(error: unknown): boolean {
  if (!(error instanceof RotatorError)) return true;
  if (error.httpStatus === 401 || error.httpStatus === 403 || error.httpStatus === 429) return true;
  return THROTTLE_CODES.includes(error.code);
}

/**
 * Runs a vault operation with a bounded number of attempts on retryable failures (the failure
 * policy: "vault write/throttle error: retry"); the last error is rethrown for the job to retry.
 */
export async function withVaultRetry<T>(ctx: BatchContext, what: string, operation: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const retryable = error instanceof RotatorError && error.retryable;
      if (!retryable || attempt >= attempts) throw error;
      const code = error instanceof RotatorError ? error.code : 'unknown';
      ctx.logger.warn({ step: what, code, attempt }, 'vault operation failed; retrying');
      // Full jitter on an exponential base: 200 ms, 400 ms, … capped at 5 s.
      const base = Math.min(5_000, 200 * 2 ** (attempt - 1));
      await ctx.deps.clock.sleep(ctx.deps.random.int(base) + 1, ctx.deps.signal);
    }
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. On a failure no new item starts, and it
 * rejects with the first error only once every started call has ended: a step must never return
 * (and the batch release its locks) while some of its vault or ECS calls are still running.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  });
  await Promise.all(workers);
  if (failed) throw firstError;
  return results;
}

export function errorCode(error: unknown): string {
  return error instanceof RotatorError ? error.code : 'INTERNAL';
}

/**
 * The label policy (labels.ts) for a server: verification counts only where a login is possible (a
 * Windows server, or one without the configured address, is treated as verification off).
 */
export function candidatePolicy(ctx: BatchContext, work?: ServerWork): CandidatePolicy {
  const settings = verifySettings(ctx);
  const verifiable = settings !== undefined && (work?.server === undefined || 'address' in loginTargetOf(work.server, settings));
  return {
    keep: ctx.input.target.keepCandidates ?? DEFAULT_KEEP_CANDIDATES,
    verification: verifiable,
    restartPolicy: ctx.input.target.restartPolicy,
  };
}

/** The target's verification settings when it verifies by login. */
export function verifySettings(ctx: BatchContext): VerifySettings | undefined {
  const settings = ctx.input.target.verify;
  return settings?.method === 'ssh' && ctx.deps.verifier !== undefined ? settings : undefined;
}
