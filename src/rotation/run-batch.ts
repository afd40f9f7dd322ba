/**
 * runBatch: one batch of one run, the use case the queue layer's batch processor calls.
 *
 * The API is the one in the task brief, plus optional deps `lockTtlMs` and `rebootPollIntervalMs`. Contract for the caller:
 * - Every requested server ends with exactly one outcome in the summary (invariant 5); per-server
 *   failures are outcomes, not exceptions.
 * - It throws a `RotatorError` only when the batch must stop: authentication/permission (not
 *   retryable: map to UnrecoverableError), throttling with no server answered (retryable with
 *   `retryAfterMs`: pause the queue and retry the job), vault unavailable (retryable), bugs.
 * - It is safe to call again after a crash at any line, and after completion: each step first reads
 *   the vault's state (see plan.ts phases) and resumes; a completed batch replays as a no-op (no
 *   second reset, no second promote, no second reboot once the version is marked active).
 * - The summary holds ids, codes and version ids only: never a password (it becomes a job return value).
 * - With `dryRun`, nothing is written to the vault and nothing is reset: plan + `dry_run` preflight;
 *   eligible servers end `skipped` with code `dry-run`; outcomes are audited but not stored as status.
 *
 * Labels and why no password is ever lost: ./labels.ts.
 */
import type { Logger } from 'pino';
import { OUTCOME_KINDS, type OutcomeKind, type ServerOutcome } from '../domain/outcome.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { EcsServer } from '../domain/server.js';
import type { PasswordPolicy } from '../policy/password-policy.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { Clock } from '../ports/clock.js';
import type { EcsApi } from '../ports/ecs-api.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RandomSource } from '../ports/random-source.js';
import type { ServerLocks } from '../ports/server-locks.js';
import type { Vault } from '../ports/vault.js';
import { audit, flushAudit, open, settle, THROTTLE_CODES, withVaultRetry, type BatchContext, type ServerWork } from './batch-context.js';
import { MAX_GENERATION } from './batch-token.js';
import { createSecret } from './create-secret.js';
import { finishSecret, PASSWORD_RULES_CODE } from './finish-secret.js';
import { LABEL_PENDING } from './labels.js';
import { startLockRenewal } from './lock-renewal.js';
import { lockOwner, MAX_SERVERS_PER_CALL, plan } from './plan.js';
import { record } from './record.js';
import { restart } from './restart.js';
import { setSecret } from './set-secret.js';

export interface BatchTarget {
  name: string;
  region: string;
  projectId: string;
  passwordPolicy: PasswordPolicy;
  /** One password (and one reset call) per server instead of one per batch. */
  uniquePerServer: boolean;
  restartPolicy: 'none' | 'soft' | 'hard';
  /** Send a `dry_run` reset before writing any secret. */
  dryRunPreflight: boolean;
}

export interface BatchInput {
  runId: string;
  target: BatchTarget;
  batchIndex: number;
  /** 1 to 1000 server ids (duplicates are ignored). */
  serverIds: string[];
  /**
   * What the run's listing said of some of these servers (status, OS type, lock), so that plan needs
   * no GET per server; a server not described here is read from ECS. It may be minutes old: the
   * `dry_run` preflight (or the reset itself, which refuses per server) has the last word.
   */
  servers?: readonly EcsServer[] | undefined;
  dryRun: boolean;
}

export interface BatchDeps {
  ecs: EcsApi;
  vault: Vault;
  locks: ServerLocks;
  outcomes: OutcomeStore;
  audit: AuditLog;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  signal?: AbortSignal;
  /** How long to wait for a reboot job to end before reporting `pending-restart`. @defaultValue 600000 */
  rebootDeadlineMs?: number;
  /** How often the reboot job is polled. @defaultValue the ECS client's (2000) */
  rebootPollIntervalMs?: number;
  /** Per-server lock time-to-live; renewed every third of it while the batch runs. @defaultValue 120000 */
  lockTtlMs?: number;
}

export interface BatchSummary {
  runId: string;
  batchIndex: number;
  outcomes: ServerOutcome[];
  counts: Record<OutcomeKind, number>;
}

export const DEFAULT_LOCK_TTL_MS = 120_000;
/** Delay suggested to the queue when every reset call was throttled (Huawei sends no Retry-After). */
export const THROTTLED_RETRY_AFTER_MS = 30_000;

export async function runBatch(deps: BatchDeps, input: BatchInput): Promise<BatchSummary> {
  validateInput(input);
  const logger = deps.logger.child({ runId: input.runId, batchIndex: input.batchIndex, target: input.target.name });
  const ctx: BatchContext = { deps, input, logger, pendingAudit: [] };
  const ids = [...new Set(input.serverIds)];
  const owner = lockOwner(input.runId, input.batchIndex);
  const ttl = deps.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;

  const { held, busy } = await deps.locks.acquireMany(ids, owner, ttl);
  // From here on, every exit releases the locks this call holds.
  const renewal = startLockRenewal({ locks: deps.locks, clock: deps.clock, logger }, held, owner, ttl);
  try {
    const works = await plan(ctx, ids, new Set(busy));
    deps.signal?.throwIfAborted();

    if (input.dryRun) {
      for (const work of open(works)) {
        settle(work, 'skipped', { code: 'dry-run', reason: 'dry run: eligible and not refused by the preflight; nothing was written or reset' });
      }
      return summarize(input, await record(ctx, works));
    }

    await createSecret(ctx, works, 0);
    await dropLostLocks(ctx, works, await renewal.renewNow());
    deps.signal?.throwIfAborted();
    await setSecret(ctx, works);
    await regenerateOnce(ctx, works);

    await finishSecret(ctx, works);
    const throttled = allThrottled(works);
    await restart(ctx, works);
    const outcomes = await record(ctx, works);
    if (throttled) {
      throw new RotatorError({
        code: 'APIGW.0308',
        message: `every reset call of batch ${input.batchIndex} of run ${input.runId} was throttled; passwords stay pending and are resent on retry`,
        retryable: true,
        retryAfterMs: THROTTLED_RETRY_AFTER_MS,
      });
    }
    const summary = summarize(input, outcomes);
    logger.info({ step: 'record', counts: summary.counts }, 'batch finished');
    return summary;
  } finally {
    await renewal.stop();
    await deps.locks.releaseMany(held, owner);
  }
}

/** A definite `Ecs.0011` (the password broke Huawei's rules) gets one new password: generation + 1, new token. */
async function regenerateOnce(ctx: BatchContext, works: ServerWork[]): Promise<void> {
  const again = open(works).filter(
    (w) =>
      w.phase !== 'confirm' && // a confirmation resends an accepted password: never replace it here
      w.reset?.kind === 'rejected' && w.reset.code === PASSWORD_RULES_CODE && w.version !== undefined && w.version.generation < MAX_GENERATION,
  );
  if (again.length === 0) return;
  ctx.logger.warn({ step: 'setSecret', servers: again.length }, `${PASSWORD_RULES_CODE}: generating a new password once`);
  for (const work of again) {
    const version = work.version;
    if (version === undefined) continue;
    // Safe even for an inherited version: a password that breaks the rules was never set.
    await withVaultRetry(ctx, 'createSecret', () => ctx.deps.vault.removeLabel(work.key, LABEL_PENDING, version.versionId));
    audit(ctx, 'finishSecret', work, 'pending-dropped', { code: PASSWORD_RULES_CODE, versionId: version.versionId, detail: 'regenerating' });
    work.version = undefined;
    work.reset = undefined;
    work.phase = 'new';
  }
  await flushAudit(ctx);
  await createSecret(ctx, works, MAX_GENERATION);
  await setSecret(ctx, works);
}

async function dropLostLocks(ctx: BatchContext, works: ServerWork[], lost: ReadonlySet<string>): Promise<void> {
  if (lost.size === 0) return;
  for (const work of open(works)) {
    if (!lost.has(work.serverId)) continue;
    // Its password may be stored as pending: kept, and resent first by whichever run gets the server next.
    settle(work, 'busy', { code: 'lock-lost', reason: 'the server lock expired before the reset; not reset in this batch', versionId: work.version?.versionId });
    audit(ctx, 'setSecret', work, 'busy', { code: 'lock-lost' });
  }
  await flushAudit(ctx);
}

/** True when reset calls were made and every answer was throttling: nothing progressed. */
function allThrottled(works: readonly ServerWork[]): boolean {
  const sent = works.filter((w) => w.reset !== undefined);
  return sent.length > 0 && sent.every((w) => w.reset?.kind === 'unknown' && THROTTLE_CODES.includes(w.reset.code));
}

function summarize(input: BatchInput, outcomes: ServerOutcome[]): BatchSummary {
  const counts = Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
  for (const o of outcomes) counts[o.outcome] += 1;
  return { runId: input.runId, batchIndex: input.batchIndex, outcomes, counts };
}

function validateInput(input: BatchInput): void {
  const bad = (field: string, expected: string): never => {
    throw new RotatorError({ code: 'INVALID_BATCH', message: `batch input: ${field} must be ${expected}`, retryable: false });
  };
  if (typeof input.runId !== 'string' || input.runId.length === 0) bad('runId', 'a non-empty string');
  if (!Number.isInteger(input.batchIndex) || input.batchIndex < 0) bad('batchIndex', 'an integer >= 0');
  if (!Array.isArray(input.serverIds) || input.serverIds.length === 0 || input.serverIds.length > MAX_SERVERS_PER_CALL) {
    bad('serverIds', `a list of 1 to ${MAX_SERVERS_PER_CALL} server ids`);
  }
  if (input.serverIds.some((id) => typeof id !== 'string' || id.length === 0)) bad('serverIds', 'non-empty strings');
  if (!['none', 'soft', 'hard'].includes(input.target.restartPolicy)) bad('target.restartPolicy', 'none, soft or hard');
}
