/**
 * runBatch: one batch of one run, the use case the queue layer's batch processor calls (through
 * ./rotation-service.ts). It only sequences the steps (./steps/, named after the AWS rotation
 * protocol); each step asks the vault what is already done before it acts.
 *
 * Contract for the caller (input, ports and summary: ./batch-input.ts):
 * - Every requested server ends with exactly one outcome in the summary (invariant 5); per-server
 *   failures are outcomes, not exceptions.
 * - It throws a `RotatorError` only when the batch must stop: authentication/permission (not
 *   retryable: map to UnrecoverableError), throttling with no server answered (retryable with
 *   `retryAfterMs`: pause the queue and retry the job), vault unavailable (retryable), bugs.
 * - It is safe to call again after a crash at any line, and after completion: each step first reads
 *   the vault's state (see steps/plan.ts phases) and resumes; a completed batch replays as a no-op (no
 *   second reset, no second promote, no second reboot once the version is marked active).
 * - The summary holds ids, codes and version ids only: never a password (it becomes a job return value).
 * - With `dryRun`, nothing is written to the vault and nothing is reset: plan + `dry_run` preflight;
 *   eligible servers end `skipped` with code `dry-run`; outcomes are audited but not stored as status.
 *
 * Labels and why no password is ever lost: ./labels.ts.
 */
import { setMaxListeners } from 'node:events';
import { MAX_SERVERS_PER_CALL } from '../domain/batch-limits.js';
import { HuaweiCode, OutcomeCode, ServiceErrorCode } from '../domain/error-codes.js';
import { batchJobId } from '../domain/job-ids.js';
import { RotatorError } from '../domain/rotator-error.js';
import { DRY_RUN_REASON } from '../domain/standard-reasons.js';
import type { BatchContext } from './batch-context.js';
import { allThrottled, errorCode } from './batch-failures.js';
import { summarizeBatch, validateBatchInput, type BatchDeps, type BatchInput, type BatchSummary } from './batch-input.js';
import { FIRST_GENERATION } from './batch-token.js';
import { startLockRenewal } from './lock-renewal.js';
import { settle, unsettled, type ServerWork } from './server-work.js';
import { createSecret } from './steps/create-secret.js';
import { dropLostLocks } from './steps/drop-lost-locks.js';
import { finishSecret } from './steps/finish-secret.js';
import { plan } from './steps/plan.js';
import { record } from './steps/record.js';
import { regenerateRejectedPasswords } from './steps/regenerate-password.js';
import { restart } from './steps/restart.js';
import { setSecret } from './steps/set-secret.js';

export const DEFAULT_LOCK_TTL_MS = 120_000;
/** Delay suggested to the queue when every reset call was throttled (Huawei sends no Retry-After). */
export const THROTTLED_RETRY_AFTER_MS = 30_000;

export async function runBatch(deps: BatchDeps, input: BatchInput): Promise<BatchSummary> {
  validateBatchInput(input);
  if (input.target.verify?.method === 'ssh' && deps.verifier === undefined) {
    throw new RotatorError({ code: ServiceErrorCode.invalidBatch, message: `target ${input.target.name} verifies by ssh but no verifier was given to runBatch`, retryable: false });
  }
  // Every vault and ECS call of the batch (up to a batch's worth at once) and every SSH login listens
  // on the job's one signal: not a leak, so not worth Node's warning past 10 listeners.
  if (deps.signal !== undefined) setMaxListeners(2 * MAX_SERVERS_PER_CALL + (input.target.verify?.concurrency ?? 0) + 32, deps.signal);
  const logger = deps.logger.child({ runId: input.runId, batchIndex: input.batchIndex, target: input.target.name });
  const ctx: BatchContext = { deps, input, logger, pendingAudit: [] };
  const ids = [...new Set(input.serverIds)];
  // The batch's job id is the family of its locks: a re-run after a crash takes its own locks back.
  // Each execution has its own owner within it, so an earlier execution that still runs (its job
  // handed to another worker while it was cut off) finds its locks lost rather than sharing them,
  // and can neither renew nor release the re-run's (src/ports/server-locks.ts).
  const owner = `${batchJobId(input.runId, input.batchIndex)}#${deps.random.int(2 ** 30).toString(36)}${deps.random.int(2 ** 30).toString(36)}`;
  const ttl = deps.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;

  // Milliseconds per step, in the "batch finished" line: where a slow batch spent its time (store:
  // createSecret, reset: setSecret, finish: finishSecret; a key with "secret" in it would be redacted).
  const steps: Record<string, number> = {};
  let mark = deps.clock.now();
  const lap = (step: string): void => {
    const now = deps.clock.now();
    steps[step] = (steps[step] ?? 0) + (now - mark);
    mark = now;
  };
  const { held, busy } = await deps.locks.acquireMany(ids, owner, ttl);
  lap('locks');
  // From here on, every exit releases the locks this call holds.
  const renewal = startLockRenewal({ locks: deps.locks, clock: deps.clock, logger }, held, owner, ttl);
  let works: ServerWork[] | undefined;
  let recorded = false;
  try {
    works = await plan(ctx, ids, new Set(busy));
    lap('plan');
    deps.signal?.throwIfAborted();

    if (input.dryRun) {
      for (const work of unsettled(works)) {
        settle(work, 'skipped', { code: OutcomeCode.dryRun, reason: DRY_RUN_REASON });
      }
      return summarizeBatch(input, await record(ctx, works));
    }

    await createSecret(ctx, works, FIRST_GENERATION);
    lap('store');
    await dropLostLocks(ctx, works, await renewal.renewNow());
    lap('locks');
    deps.signal?.throwIfAborted();
    await setSecret(ctx, works);
    // A second, new password goes only to servers whose lock this batch still holds (another run may
    // have taken one that expired during a long reset call).
    await regenerateRejectedPasswords(ctx, works, renewal.renewNow);
    lap('reset');

    await finishSecret(ctx, works);
    lap('finish');
    const throttled = allThrottled(works);
    // Nor is a server rebooted whose lock was lost meanwhile: its new run may be resetting it.
    await restart(ctx, works, renewal.renewNow);
    lap('restart');
    const outcomes = await record(ctx, works);
    lap('record');
    recorded = true;
    if (throttled) {
      throw new RotatorError({
        code: HuaweiCode.throttled,
        message: `every reset call of batch ${input.batchIndex} of run ${input.runId} was throttled; passwords stay pending and are resent on retry`,
        retryable: true,
        retryAfterMs: THROTTLED_RETRY_AFTER_MS,
      });
    }
    const summary = summarizeBatch(input, outcomes);
    logger.info({ step: 'record', counts: summary.counts, ms: steps }, 'batch finished');
    return summary;
  } catch (error) {
    // Exactly one outcome per server whatever failed: what this execution reached is recorded
    // before the error goes up (the job may be retried, and its replay then records again).
    if (works !== undefined && !input.dryRun && !recorded) await recordAfterFailure(ctx, works, error);
    throw error;
  } finally {
    await renewal.stop();
    await deps.locks.releaseMany(held, owner);
  }
}

/**
 * Settles every open server after a step threw: a server whose reset call went out is `unknown` (its
 * password stays pending; the next attempt resends the same one), the others `failed` (nothing was
 * changed on them). Recording is best effort: when Redis is the thing that failed, the job's replay
 * records instead.
 */
async function recordAfterFailure(ctx: BatchContext, works: ServerWork[], error: unknown): Promise<void> {
  const code = errorCode(error);
  for (const work of unsettled(works)) {
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
