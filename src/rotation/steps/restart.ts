import { OutcomeCode, VerificationCode } from '../../domain/error-codes.js';
import type { EcsJob } from '../../ports/ecs-api.js';
import { audit, candidatePolicy, flushAudit, verifySettings, type BatchContext } from '../batch-context.js';
import { errorCode, mustStopBatch } from '../batch-failures.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { withVaultRetry } from '../vault-retry.js';
import { candidatesBeyondWindow, LABEL_ACTIVE, LABEL_RESTARTED, versionWithLabel } from '../labels.js';
import { verifyServer, type ServerVerification } from '../verify-server.js';

/** Vault calls in flight per batch: all of them, so that the file vault groups a step of a batch into one or two commits (one fsync each); the AWS adapter queues them behind its write limiter and HTTP pool. */
const VAULT_CONCURRENCY = 1000;
/** Default for `BatchDeps.rebootDeadlineMs`. */
export const DEFAULT_REBOOT_DEADLINE_MS = 600_000;
/** Default for `BatchDeps.verifyRetryDelayMs`. */
export const DEFAULT_VERIFY_RETRY_DELAY_MS = 5_000;
/** Verifications of a freshly rebooted server that found it unreachable are tried this many times in all. */
const VERIFY_ATTEMPTS_AFTER_REBOOT = 3;

/**
 * Step 5, restart and verify: settles every accepted server.
 * - `none`: `pending-restart` (the old password logs in until the server restarts; labels.ts keeps
 *   both; with verification on, the next run verifies which one logs in before anything else);
 * - `soft`/`hard`: one batch reboot of the accepted servers, the job polled to its end. A reboot that
 *   succeeded is NOT proof that the new password is in effect (Huawei's in-guest reset can fail
 *   silently): it marks the version ROTATOR_RESTARTED (so a replay does not reboot twice) and moves no
 *   other label. Then, with verification on, a login decides: `verified`, or `failed` when the new
 *   password does not log in (`NOT_IN_EFFECT`: another labelled one does, and now holds ROTATOR_ACTIVE;
 *   `NO_LABELLED_PASSWORD_LOGS_IN`: none does). Without verification, or when the server cannot be
 *   reached, `rotated-unverified`. A failed or unfinished reboot → `pending-restart` with the reason.
 * Vault failures here settle the server (its labels stay as they were, which keeps every candidate);
 * they never leave it without an outcome.
 */
export async function restart(
  ctx: BatchContext,
  works: readonly ServerWork[],
  lostLocks: () => Promise<ReadonlySet<string>> = async () => new Set(),
): Promise<void> {
  const policy = ctx.input.target.restartPolicy;
  if (policy !== 'none' && unsettled(works).some((w) => w.acceptedVersionId !== undefined)) {
    // Asked only when there is something to reboot (a Redis round trip).
    const lost = await lostLocks();
    // Its lock expired since the reset (another run may now be resetting it): not rebooted by this
    // batch; the accepted password takes effect at its next restart, as with policy none.
    for (const work of unsettled(works)) {
      if (work.acceptedVersionId === undefined || !lost.has(work.serverId)) continue;
      settle(work, 'pending-restart', {
        code: OutcomeCode.lockLost,
        versionId: work.acceptedVersionId,
        requestId: work.requestId,
        reason: 'accepted; the server lock expired before the restart, so this batch did not restart it: the new password takes effect at its next restart',
      });
    }
  }
  const accepted = unsettled(works).filter((w) => w.acceptedVersionId !== undefined);
  if (policy === 'none') {
    // Nothing is restarted, so nothing is audited here: the record step audits `pending-restart`.
    for (const work of accepted) {
      settle(work, 'pending-restart', { versionId: work.acceptedVersionId, requestId: work.requestId, reason: pendingReason(ctx, work) });
    }
    return;
  }

  // ROTATOR_RESTARTED on the accepted version marks a reboot by an earlier attempt of this batch. Not
  // for a confirmation: it resends a version accepted (and maybe rebooted, the label still on it) by
  // an earlier run, and the reboot after this resend is the point of it.
  const restarted: { work: ServerWork; detail: string }[] = accepted
    .filter((w) => w.phase !== 'confirm' && versionWithLabel(w.description, LABEL_RESTARTED)?.versionId === w.acceptedVersionId)
    .map((work) => ({ work, detail: 'rebooted by an earlier attempt of this batch' }));
  const toReboot = accepted.filter((w) => !restarted.some((r) => r.work === w));
  const type = policy === 'hard' ? 'HARD' : 'SOFT';
  // One call: a batch holds at most MAX_SERVERS_PER_CALL servers (batch-input.ts).
  await reboot(ctx, toReboot, type, restarted);
  await flushAudit(ctx);

  const concurrency = verifySettings(ctx)?.concurrency ?? VAULT_CONCURRENCY;
  await mapLimit(restarted, concurrency, ({ work, detail }) => settleRestarted(ctx, work, detail));
  await flushAudit(ctx);
}

/**
 * The batch reboot of the accepted servers, its job polled to the end. A server whose sub-job
 * succeeded is marked restarted and added to `restarted` (verified or trimmed next); any other ends
 * `pending-restart` with the reason.
 */
async function reboot(ctx: BatchContext, part: readonly ServerWork[], type: 'SOFT' | 'HARD', restarted: { work: ServerWork; detail: string }[]): Promise<void> {
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
      await markRestarted(ctx, work);
      audit(ctx, 'restart', work, 'rebooted', { versionId: work.acceptedVersionId, detail: `job ${job.jobId}` });
      restarted.push({ work, detail: `reboot job ${job.jobId} succeeded` });
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

/** The replay marker; a failure to set it only costs a second reboot on a replay, so it is logged, not fatal. */
async function markRestarted(ctx: BatchContext, work: ServerWork): Promise<void> {
  const versionId = work.acceptedVersionId;
  if (versionId === undefined) return;
  try {
    await withVaultRetry(ctx, 'restart', () => ctx.deps.vault.moveLabel(work.key, LABEL_RESTARTED, versionId));
  } catch (error) {
    ctx.logger.warn({ step: 'restart', serverId: work.serverId, code: errorCode(error) }, 'could not mark the version restarted');
  }
}

/** After a successful reboot: verify by login when the target asks for it, and settle. */
async function settleRestarted(ctx: BatchContext, work: ServerWork, detail: string): Promise<void> {
  const versionId = work.acceptedVersionId;
  const settings = verifySettings(ctx);
  const what = work.phase === 'confirm' ? 'the last accepted password was sent again and the server restarted' : 'accepted and restarted';
  if (settings === undefined || work.server === undefined || ctx.deps.verifier === undefined) {
    await trimCandidates(ctx, work);
    settle(work, 'rotated-unverified', {
      versionId,
      requestId: work.requestId,
      reason:
        `${what} (${detail}); not verified by login (verification off for this target): the earlier candidates stay labelled ` +
        `until they are older than the last ${candidatePolicy(ctx, work).keep}`,
    });
    audit(ctx, 'verify', work, 'not-verified', { versionId, detail: 'verification off' });
    return;
  }
  let result: ServerVerification | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      result = await verifyServer(
        { vault: ctx.deps.vault, verifier: ctx.deps.verifier, logger: ctx.logger, signal: ctx.deps.signal },
        { key: work.key, server: work.server, settings, expectedVersionId: versionId },
      );
      // sshd may come up a little after the reboot job ends; a changed host key is not worth a retry.
      if (result.kind !== 'unreachable' || result.code === VerificationCode.hostKeyChanged || attempt >= VERIFY_ATTEMPTS_AFTER_REBOOT) break;
      await ctx.deps.clock.sleep(ctx.deps.verifyRetryDelayMs ?? DEFAULT_VERIFY_RETRY_DELAY_MS, ctx.deps.signal);
    }
  } catch (error) {
    if (ctx.deps.signal?.aborted) throw error;
    settle(work, 'rotated-unverified', {
      code: errorCode(error),
      versionId,
      requestId: work.requestId,
      reason: `${what} (${detail}); the verification could not finish (${errorCode(error)}): labels were left keeping every candidate`,
    });
    audit(ctx, 'verify', work, 'verify-error', { code: errorCode(error), versionId });
    return;
  }
  if (result === undefined) return;
  audit(ctx, 'verify', work, result.kind, {
    versionId: result.kind === 'verified' ? result.versionId : versionId,
    ...(result.kind === 'verified' ? {} : { code: result.code }),
  });
  switch (result.kind) {
    case 'verified':
      if (result.expected) {
        settle(work, 'verified', {
          versionId,
          requestId: work.requestId,
          reason:
            work.phase === 'confirm'
              ? `${what} (${detail}); a login proved it in effect, so the older candidates left their labels; no new password this run`
              : `${what} (${detail}); a login with the new password succeeded (it holds ${LABEL_ACTIVE}; older candidates left their labels)`,
        });
      } else {
        settle(work, 'failed', {
          code: VerificationCode.notInEffect,
          versionId,
          requestId: work.requestId,
          reason:
            `Huawei accepted the reset and the server restarted (${detail}), but the new password does not log in: the in-guest reset ` +
            `did not apply it. Version ${result.versionId} does and holds ${LABEL_ACTIVE}; the new one stays labelled as a candidate`,
        });
      }
      return;
    case 'none-works':
      settle(work, 'failed', { code: result.code, versionId, requestId: work.requestId, reason: `${what} (${detail}), but ${result.reason}` });
      return;
    case 'unreachable':
    case 'unverifiable':
      // A server no login can reach (Windows, no address) follows the rules of verification off.
      if (!candidatePolicy(ctx, work).verification) await trimCandidates(ctx, work);
      settle(work, 'rotated-unverified', {
        code: result.code,
        versionId,
        requestId: work.requestId,
        reason: `${what} (${detail}); not verified: ${result.reason}. Every candidate stays labelled`,
      });
      return;
  }
}

/**
 * Verification off, after a successful reboot: candidates older than the newest `keepCandidates`
 * (counting the one just made expected) leave their slots (labels.ts). Best effort: a failure keeps
 * more labelled, never fewer, and the next slide or confirm trims again.
 */
async function trimCandidates(ctx: BatchContext, work: ServerWork): Promise<void> {
  const versionId = work.acceptedVersionId;
  if (versionId === undefined) return;
  try {
    const description = await withVaultRetry(ctx, 'restart', () => ctx.deps.vault.describe(work.key));
    for (const slot of candidatesBeyondWindow(description, candidatePolicy(ctx, work).keep, versionId)) {
      await withVaultRetry(ctx, 'restart', () => ctx.deps.vault.removeLabel(work.key, slot.label, slot.versionId));
      audit(ctx, 'restart', work, 'candidate-left', { versionId: slot.versionId, detail: `older than the last ${candidatePolicy(ctx, work).keep} candidates (verification off)` });
    }
  } catch (error) {
    ctx.logger.warn({ step: 'restart', serverId: work.serverId, code: errorCode(error) }, 'could not trim old candidates; they stay labelled');
  }
}

function pendingReason(ctx: BatchContext, work: ServerWork): string {
  const base = 'accepted by Huawei; takes effect at the next restart (restart policy none).';
  const next = verifySettings(ctx) === undefined ? '' : ' The next run verifies by login which password is in effect before anything else.';
  return work.firstRotation
    ? `${base} Until then the password from before rotator managed this server still logs in; the vault never held it.${next}`
    : `${base} Until then the password labelled ${LABEL_ACTIVE} (or an unconfirmed one) still logs in; the vault keeps them labelled.${next}`;
}
