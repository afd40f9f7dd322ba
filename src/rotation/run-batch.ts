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
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { OUTCOME_KINDS, type OutcomeKind, type ServerOutcome } from '../domain/outcome.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { PasswordPolicy } from '../policy/password-policy.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { Clock } from '../ports/clock.js';
import type { EcsApi } from '../ports/ecs-api.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RandomSource } from '../ports/random-source.js';
import type { ServerLocks } from '../ports/server-locks.js';
import type { PasswordVerifier } from '../ports/password-verifier.js';
import type { Vault } from '../ports/vault.js';
import type { VerifySettings } from './verify-server.js';
import { audit, errorCode, flushAudit, open, settle, THROTTLE_CODES, withVaultRetry, type BatchContext, type ServerWork } from './batch-context.js';
import { MAX_GENERATION } from './batch-token.js';
import { createSecret } from './create-secret.js';
import { finishSecret, keepRefusedInherited, PASSWORD_RULES_CODE } from './finish-secret.js';
import { DEFAULT_KEEP_CANDIDATES, LABEL_PENDING, MAX_KEEP_CANDIDATES } from './labels.js';
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
  /** Verification by login. @defaultValue method `none` */
  verify?: VerifySettings | undefined;
  /** Accepted passwords kept labelled while none is verified (labels.ts). @defaultValue DEFAULT_KEEP_CANDIDATES (3) */
  keepCandidates?: number | undefined;
}

export interface BatchInput {
  runId: string;
  target: BatchTarget;
  batchIndex: number;
  /** 1 to 1000 server ids (duplicates are ignored). */
  serverIds: string[];
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
  /** Logs in with candidate passwords; required when the target's `verify.method` is `ssh`. */
  verifier?: PasswordVerifier | undefined;
  /**
   * Pause before trying a verification again that found the server unreachable right after its
   * reboot (sshd may come up some seconds after the reboot job ends); 2 more tries. @defaultValue 5000
   */
  verifyRetryDelayMs?: number | undefined;
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
  if (input.target.verify?.method === 'ssh' && deps.verifier === undefined) {
    throw new RotatorError({ code: 'INVALID_BATCH', message: `target ${input.target.name} verifies by ssh but no verifier was given to runBatch`, retryable: false });
  }
  // Every concurrent ECS call and SSH login listens on the job's signal for its own abort (up to
  // the verification concurrency plus the ECS calls in flight): more than Node's default warning level of 10.
  if (deps.signal !== undefined) setMaxListeners(Math.max(64, (input.target.verify?.concurrency ?? 0) + 32), deps.signal);
  const logger = deps.logger.child({ runId: input.runId, batchIndex: input.batchIndex, target: input.target.name });
  const ctx: BatchContext = { deps, input, logger, pendingAudit: [] };
  const ids = [...new Set(input.serverIds)];
  const owner = lockOwner(input.runId, input.batchIndex);
  const ttl = deps.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;

  const { held, busy } = await deps.locks.acquireMany(ids, owner, ttl);
  // From here on, every exit releases the locks this call holds.
  const renewal = startLockRenewal({ locks: deps.locks, clock: deps.clock, logger }, held, owner, ttl);
  let works: ServerWork[] | undefined;
  let recorded = false;
  try {
    works = await plan(ctx, ids, new Set(busy));
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
    recorded = true;
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
  } catch (error) {
    // Exactly one outcome per server whatever failed: what this execution reached is recorded
    // before the error goes up (the job may be retried, and its replay then records again).
    if (works !== undefined && !input.dryRun && !recorded) {
      await recordAfterFailure(ctx, works, error);
    }
    throw error;
  } finally {
    await renewal.stop();
    await deps.locks.releaseMany(held, owner);
  }
}

/**
 * A definite `Ecs.0011` (the password broke Huawei's rules) gets one new password: generation + 1, new
 * token. A password first sent by this execution was never set: its AWSPENDING is dropped. An
 * inherited pending password (sent before without a definite answer) may be in effect whatever this
 * answer says: it is kept as a candidate (finish-secret.ts `keepRefusedInherited`), or stays pending
 * and gets no successor when there is no room for both.
 */
async function regenerateOnce(ctx: BatchContext, works: ServerWork[]): Promise<void> {
  const refused = open(works).filter(
    (w) =>
      w.phase !== 'confirm' && // a confirmation resends an accepted password: never replace it here
      w.reset?.kind === 'rejected' && w.reset.code === PASSWORD_RULES_CODE && w.version !== undefined && w.version.generation < MAX_GENERATION,
  );
  if (refused.length === 0) return;
  ctx.logger.warn({ step: 'setSecret', servers: refused.length }, `${PASSWORD_RULES_CODE}: generating a new password once`);
  for (const work of refused) {
    const version = work.version;
    if (version === undefined || work.reset?.kind !== 'rejected') continue;
    if (version.inherited) {
      await keepRefusedInherited(ctx, work, version.versionId, work.reset.message);
      if (work.outcome !== undefined) continue;
    } else {
      await withVaultRetry(ctx, 'createSecret', () => ctx.deps.vault.removeLabel(work.key, LABEL_PENDING, version.versionId));
      audit(ctx, 'finishSecret', work, 'pending-dropped', { code: PASSWORD_RULES_CODE, versionId: version.versionId, detail: 'regenerating' });
    }
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

/**
 * Settles every open server after a step threw: a server whose reset call went out is `unknown` (its
 * password stays pending; the next attempt resends the same one), the others `failed` (nothing was
 * changed on them). Recording is best effort: when Redis is the thing that failed, the job's replay
 * records instead.
 */
async function recordAfterFailure(ctx: BatchContext, works: ServerWork[], error: unknown): Promise<void> {
  const code = errorCode(error);
  for (const work of open(works)) {
    if (work.sent) {
      settle(work, 'unknown', {
        code,
        versionId: work.version?.versionId ?? work.acceptedVersionId,
        requestId: work.requestId,
        reason: `the batch stopped after this server's reset call (${code}); its password stays pending and the next attempt resends or verifies it`,
      });
    } else {
      settle(work, 'failed', { code, reason: `the batch stopped before this server was reset (${code}); nothing was changed on it` });
    }
  }
  try {
    await record(ctx, works);
  } catch (recordError) {
    ctx.logger.error({ step: 'record', code: errorCode(recordError) }, 'outcomes could not be recorded after a failed batch; the retry records them');
  }
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
  const keep = input.target.keepCandidates ?? DEFAULT_KEEP_CANDIDATES;
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP_CANDIDATES) bad('target.keepCandidates', `an integer from 1 to ${MAX_KEEP_CANDIDATES}`);
}
