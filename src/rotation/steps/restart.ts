import type { EcsJob } from '../../ports/ecs-api.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { errorCode, mustStopBatch } from '../batch-failures.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { withVaultRetry } from '../vault-retry.js';
import { LABEL_ACTIVE, usedUnconfirmedSlots, versionById, versionWithLabel } from '../labels.js';

/** Vault calls in flight per batch: all of them, so that the file vault groups a step of a batch into one or two commits (one fsync each); the AWS adapter queues them behind its write limiter and HTTP pool. */
const VAULT_CONCURRENCY = 1000;
/** Default for `BatchDeps.rebootDeadlineMs`. */
export const DEFAULT_REBOOT_DEADLINE_MS = 600_000;

/**
 * Step 5, restart: settles every accepted server.
 * - `none`: `pending-restart` (the old password logs in until the server restarts; labels.ts keeps both);
 * - `soft`/`hard`: one batch reboot of the accepted servers, the job polled to its end; a server whose
 *   reboot succeeded has its password confirmed active (ROTATOR_ACTIVE, older unconfirmed slots
 *   cleared) → `rotated`; a failed or unfinished reboot → `pending-restart` with the reason.
 * A re-run finds ROTATOR_ACTIVE already on the version and does not reboot again.
 */
export async function restart(ctx: BatchContext, works: readonly ServerWork[]): Promise<void> {
  const accepted = unsettled(works).filter((w) => w.acceptedVersionId !== undefined);
  const policy = ctx.input.target.restartPolicy;
  if (policy === 'none') {
    // Nothing is restarted, so nothing is audited here: the record step audits `pending-restart`.
    for (const work of accepted) {
      settle(work, 'pending-restart', { versionId: work.acceptedVersionId, requestId: work.requestId, reason: pendingReason(work) });
    }
    return;
  }

  const alreadyActive = accepted.filter((w) => versionWithLabel(w.description, LABEL_ACTIVE)?.versionId === w.acceptedVersionId);
  await mapLimit(alreadyActive, VAULT_CONCURRENCY, (work) => activate(ctx, work, 'already active (re-run)'));

  const toReboot = accepted.filter((w) => !alreadyActive.includes(w));
  const type = policy === 'hard' ? 'HARD' : 'SOFT';
  // One call: a batch holds at most MAX_SERVERS_PER_CALL servers (batch-input.ts).
  await rebootAndConfirm(ctx, toReboot, type);
  await flushAudit(ctx);
}

/** The batch reboot of the accepted servers, its job polled to the end; each server settled by its sub-job. */
async function rebootAndConfirm(ctx: BatchContext, part: readonly ServerWork[], type: 'SOFT' | 'HARD'): Promise<void> {
  if (part.length === 0) return;
  let job: EcsJob;
  try {
    const { jobId } = await ctx.deps.ecs.batchReboot(part.map((w) => w.serverId), type, { signal: ctx.deps.signal });
    job = await ctx.deps.ecs.waitForJob(jobId, {
      deadlineMs: ctx.deps.rebootDeadlineMs ?? DEFAULT_REBOOT_DEADLINE_MS,
      signal: ctx.deps.signal,
      ...(ctx.deps.rebootPollIntervalMs === undefined ? {} : { pollIntervalMs: ctx.deps.rebootPollIntervalMs }),
    });
  } catch (error) {
    if (mustStopBatch(error)) throw error;
    for (const work of part) {
      settle(work, 'pending-restart', {
        code: errorCode(error),
        versionId: work.acceptedVersionId,
        requestId: work.requestId,
        reason: `the reboot could not be confirmed (${errorCode(error)}); the new password takes effect at the next restart`,
      });
      audit(ctx, 'restart', work, 'reboot-unconfirmed', { code: errorCode(error), versionId: work.acceptedVersionId });
    }
    return;
  }
  await mapLimit(part, VAULT_CONCURRENCY, async (work) => {
    const sub = job.subJobs.find((s) => s.serverId === work.serverId);
    const status = sub?.status ?? job.status;
    if (status === 'SUCCESS') {
      await activate(ctx, work, `reboot job ${job.jobId} succeeded`);
      return;
    }
    const code = sub?.errorCode ?? job.errorCode ?? `JOB_${status}`;
    const why = sub?.failReason ?? job.failReason ?? status;
    settle(work, 'pending-restart', {
      code,
      versionId: work.acceptedVersionId,
      requestId: work.requestId,
      reason: `reboot job ${job.jobId} ended ${status} (${why}); the new password takes effect at the next restart`,
    });
    audit(ctx, 'restart', work, 'reboot-failed', { code, versionId: work.acceptedVersionId, detail: `job ${job.jobId}` });
  });
}

/** The version is now known to be in effect: ROTATOR_ACTIVE moves to it, and unconfirmed slots of it and of older versions are cleared. */
async function activate(ctx: BatchContext, work: ServerWork, detail: string): Promise<void> {
  const versionId = work.acceptedVersionId;
  if (versionId === undefined) return;
  const { vault } = ctx.deps;
  await withVaultRetry(ctx, 'restart', () => vault.moveLabel(work.key, LABEL_ACTIVE, versionId));
  const description = await withVaultRetry(ctx, 'restart', () => vault.describe(work.key));
  const createdAt = versionById(description, versionId)?.createdAt ?? Number.POSITIVE_INFINITY;
  for (const slot of usedUnconfirmedSlots(description)) {
    if (slot.version.versionId === versionId || slot.version.createdAt <= createdAt) {
      await withVaultRetry(ctx, 'restart', () => vault.removeLabel(work.key, slot.label, slot.version.versionId));
    }
  }
  const reason =
    work.phase === 'confirm'
      ? `the last accepted password was sent again and the server restarted (${detail}): it is now confirmed in effect and the unconfirmed backlog is cleared; no new password this run`
      : `accepted and restarted: ${detail}`;
  settle(work, 'rotated', { versionId, requestId: work.requestId, reason });
  audit(ctx, 'restart', work, 'activated', { versionId, detail });
}

function pendingReason(work: ServerWork): string {
  const base = 'accepted by Huawei; takes effect at the next restart (restart policy none).';
  return work.firstRotation
    ? `${base} Until then the password from before rotator managed this server still logs in; the vault never held it.`
    : `${base} Until then the password labelled ${LABEL_ACTIVE} (or an unconfirmed one) still logs in; the vault keeps them labelled.`;
}
