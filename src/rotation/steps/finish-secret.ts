import { HuaweiCode, OutcomeCode, VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import { audit, candidatePolicy, flushAudit, type BatchContext } from '../batch-context.js';
import { errorCode } from '../batch-failures.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { withVaultRetry, writeManyWithRetry } from '../vault-retry.js';
import {
  afterPromotion,
  freeUnconfirmedSlot,
  isUnconfirmedLabel,
  usedUnconfirmedSlots,
  LABEL_CURRENT,
  LABEL_PENDING,
  slotForAccepted,
  versionById,
  versionWithLabel,
  withVersionLabels,
} from '../labels.js';
import type { SecretDescription, VaultWrite, VaultWriteResult } from '../../ports/vault.js';

/** Vault calls in flight per batch: all of them, so that the file vault groups a step of a batch into one or two commits (one fsync each); the AWS adapter queues them behind its write limiter and HTTP pool. */
const VAULT_CONCURRENCY = 1000;
const PASSWORD_RULES_CODE = HuaweiCode.passwordRules;

/**
 * Step 4, finishSecret (labels per ../labels.ts):
 * - accepted → an unconfirmed slot label (a free one, or the oldest candidate's when the window
 *   slides), then promote (compare-and-swap of AWSCURRENT; AWSPREVIOUS follows; AWSPENDING dropped);
 * - rejected → AWSPENDING dropped (the password was never set), except for a resend of an inherited
 *   pending password, whatever the code (`Ecs.0011` included: a proxy may answer it, or Huawei's rules
 *   may have changed since the first, unanswered call, which may have been accepted): it stays labelled;
 * - unknown → AWSPENDING kept: the next attempt sends the same password.
 * A vault failure (after retries) settles that server `unknown`: Huawei may have accepted the password,
 * which is still AWSPENDING, and the next run resends it. Other servers go on.
 * Accepted servers are not settled here: step 5 decides between verified, rotated-unverified and pending-restart.
 */
export async function finishSecret(ctx: BatchContext, works: readonly ServerWork[]): Promise<void> {
  // The common case for the whole batch in one batch-level call: an accepted version that already
  // holds its slot (reserved when it was stored) is promoted. Everything else, one server at a time.
  const promoted = await promoteMany(ctx, unsettled(works));
  await mapLimit(unsettled(works).filter((w) => !promoted.has(w)), VAULT_CONCURRENCY, async (work) => {
    try {
      await finishOne(ctx, work);
    } catch (error) {
      if (ctx.deps.signal?.aborted) throw error;
      vaultFailed(ctx, work, error);
    }
  });
  await flushAudit(ctx);
}

/** The vault failed (after retries) once Huawei answered: `unknown`, the password stays pending for the next run. */
function vaultFailed(ctx: BatchContext, work: ServerWork, error: unknown): void {
  const versionId = work.version?.versionId ?? work.acceptedVersionId;
  const code = errorCode(error);
  settle(work, 'unknown', {
    code,
    versionId,
    requestId: work.requestId,
    reason:
      `the vault could not record this server's reset answer (${code}); its password stays pending (AWSPENDING) and the next run ` +
      'resends it (a server that accepted it takes it again)',
  });
  audit(ctx, 'finishSecret', work, 'vault-failed', { code, versionId });
}

/**
 * `acceptVersion` for the servers whose accepted version already holds its slot and whose secret was
 * read: one compare-and-swap each, all in one `writeMany`. Returns the servers it finished; a
 * promotion refused for any reason (another writer moved AWSCURRENT, a vault failure) is left to
 * `finishOne`, which re-reads and decides for that server as before.
 */
async function promoteMany(ctx: BatchContext, works: readonly ServerWork[]): Promise<Set<ServerWork>> {
  const ready = works.flatMap((work) => {
    const version = work.version;
    const description = work.description;
    if (work.phase === 'promoted' || version === undefined || description === undefined || work.reset?.kind !== 'accepted') return [];
    const slot = slotForAccepted(description, version.versionId, candidatePolicy(ctx, work));
    if (slot === undefined || !(versionById(description, version.versionId)?.labels.includes(slot) ?? false)) return [];
    return [{ work, versionId: version.versionId, description }];
  });
  const done = new Set<ServerWork>();
  if (ready.length === 0) return done;
  let results: VaultWriteResult[];
  try {
    // Retryable failures are retried as withVaultRetry would for one server.
    results = await writeManyWithRetry(ctx, 'finishSecret', writesOf(ready));
  } catch (error) {
    if (ctx.deps.signal?.aborted) throw error;
    for (const { work } of ready) vaultFailed(ctx, work, error);
    return done;
  }
  ready.forEach(({ work, versionId, description }, i) => {
    const result = results[i]!;
    if (!result.ok) {
      // Another writer moved AWSCURRENT since it was read: finishOne re-reads and promotes over the
      // new holder once (acceptVersion). Any other failure is final for this run, as with one call.
      if (!(result.error instanceof RotatorError && result.error.code === VaultErrorCode.currentChanged)) vaultFailed(ctx, work, result.error);
      return;
    }
    work.acceptedVersionId = versionId;
    // What the compare-and-swap left, known without reading it back.
    work.description = afterPromotion(description, versionId);
    audit(ctx, 'finishSecret', work, 'promoted', { versionId, requestId: work.requestId });
    done.add(work);
  });
  return done;
}

function writesOf(ready: readonly { work: ServerWork; versionId: string; description: SecretDescription }[]): VaultWrite[] {
  return ready.map(({ work, versionId, description }): VaultWrite => ({
      kind: 'promote',
      key: work.key,
      versionId,
      // A no-op when versionId holds AWSCURRENT already (a replay).
      expectedCurrent: versionWithLabel(description, LABEL_CURRENT)?.versionId,
  }));
}

async function finishOne(ctx: BatchContext, work: ServerWork): Promise<void> {
  const version = work.version;
  if (work.phase === 'promoted' || version === undefined) return;
  const result = work.reset ?? { serverId: work.serverId, kind: 'unknown', code: OutcomeCode.noResult, message: 'no classification for this server' };
  if (result.kind === 'accepted') {
    await acceptVersion(ctx, work, version.versionId);
    return;
  }
  if (result.kind === 'rejected') {
    if (version.inherited && result.code === PASSWORD_RULES_CODE && work.phase === 'resend') {
      // regenerateOnce handled the others; this one is past its last generation: keep it, no new password.
      settle(work, 'failed', {
        code: result.code,
        versionId: version.versionId,
        requestId: work.requestId,
        reason: `${result.message} (the pending password was sent before without a definite answer and may be in effect: it stays pending)`,
      });
      audit(ctx, 'finishSecret', work, 'pending-kept', { code: result.code, versionId: version.versionId });
      return;
    }
    const keep = version.inherited;
    if (!keep) await dropRejected(ctx, work, version.versionId);
    settle(work, 'failed', {
      code: result.code,
      reason: keep ? `${result.message} (pending password kept: an earlier attempt sent it without a definite answer)` : result.message,
      requestId: work.requestId,
      versionId: version.versionId,
    });
    audit(ctx, 'finishSecret', work, keep ? 'pending-kept' : 'pending-dropped', { code: result.code, versionId: version.versionId });
    return;
  }
  settle(work, 'unknown', {
    code: result.code,
    reason: `${result.message}; the password stays pending and is sent again on the next attempt`,
    requestId: work.requestId,
    versionId: version.versionId,
  });
  audit(ctx, 'finishSecret', work, 'pending-kept', { code: result.code, versionId: version.versionId });
}

/**
 * A password first sent by this execution and definitely rejected was never set: AWSPENDING leaves
 * it, then the slot it reserved. In that order: a crash in between leaves a spare candidate slot on
 * a password that never logs in (kept until a login or a trim frees it), never an unsettled pending
 * password that the next runs would resend.
 */
export async function dropRejected(ctx: BatchContext, work: ServerWork, versionId: string): Promise<void> {
  const { vault } = ctx.deps;
  await withVaultRetry(ctx, 'finishSecret', () => vault.removeLabel(work.key, LABEL_PENDING, versionId));
  const slot = versionById(work.description, versionId)?.labels.find(isUnconfirmedLabel);
  if (slot !== undefined) await withVaultRetry(ctx, 'finishSecret', () => vault.removeLabel(work.key, slot, versionId));
  if (work.description !== undefined) {
    const left = versionById(work.description, versionId)?.labels.filter((l) => l !== LABEL_PENDING && l !== slot) ?? [];
    work.description = withVersionLabels(work.description, versionId, left, ctx.deps.clock.now());
  }
}

/**
 * A resent inherited password answered `Ecs.0011`: it may still be in effect (the first call may have
 * been accepted), so it is never dropped on this answer. With a free slot it becomes a candidate (kept
 * like any accepted, unverified password) and leaves AWSPENDING, so that `regenerateOnce` can give the
 * server a new password in this batch; without one it stays pending and the server fails this run.
 */
export async function keepRefusedInherited(ctx: BatchContext, work: ServerWork, versionId: string, message: string): Promise<void> {
  const { vault } = ctx.deps;
  const description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
  const keep = candidatePolicy(ctx, work).keep;
  // Its own slot, if it reserved one when stored (labels.ts), else a free one.
  const own = versionById(description, versionId)?.labels.find(isUnconfirmedLabel);
  const slot = own ?? freeUnconfirmedSlot(description, keep);
  // Room for two: the kept password, and the new password that replaces it.
  if (slot === undefined || usedUnconfirmedSlots(description).length + (own === undefined ? 2 : 1) > keep) {
    settle(work, 'failed', {
      code: PASSWORD_RULES_CODE,
      versionId,
      requestId: work.requestId,
      reason: `${message} (the pending password was sent before without a definite answer and may be in effect: it stays pending; there is no room for a new candidate until a password is verified or the server restarts)`,
    });
    audit(ctx, 'finishSecret', work, 'pending-kept', { code: PASSWORD_RULES_CODE, versionId });
    return;
  }
  if (own === undefined) await withVaultRetry(ctx, 'finishSecret', () => vault.moveLabel(work.key, slot, versionId));
  await withVaultRetry(ctx, 'finishSecret', () => vault.removeLabel(work.key, LABEL_PENDING, versionId));
  work.description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
  audit(ctx, 'finishSecret', work, 'kept-as-candidate', { code: PASSWORD_RULES_CODE, versionId, detail: `moved to ${slot}` });
}

async function acceptVersion(ctx: BatchContext, work: ServerWork, versionId: string): Promise<void> {
  const { vault } = ctx.deps;
  let description = work.description ?? (await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key)));
  // Normally its own, reserved when it was stored (labels.ts); a version stored by an older release
  // takes one now.
  const slot = slotForAccepted(description, versionId, candidatePolicy(ctx, work));
  if (slot === undefined) {
    // plan admitted the server with a free slot or a slide; none now means another writer, and the
    // version is still kept by AWSCURRENT below.
    ctx.logger.warn({ step: 'finishSecret', serverId: work.serverId, versionId }, 'no unconfirmed slot for the accepted version');
  } else if (!(versionById(description, versionId)?.labels.includes(slot) ?? false)) {
    await withVaultRetry(ctx, 'finishSecret', () => vault.moveLabel(work.key, slot, versionId));
    description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
  }
  for (let attempt = 1; ; attempt++) {
    const current = versionWithLabel(description, LABEL_CURRENT)?.versionId;
    try {
      // A no-op when versionId holds AWSCURRENT already (a replay). AWSPENDING stays: on AWSCURRENT's
      // version it reads as settled (labels.ts), and the next new password takes it over.
      await withVaultRetry(ctx, 'finishSecret', () => vault.promote(work.key, versionId, current));
      break;
    } catch (error) {
      if (!(error instanceof RotatorError) || error.code !== VaultErrorCode.currentChanged || attempt >= 2) throw error;
      // Someone moved AWSCURRENT since we read it. Huawei accepted *this* password, so it is the one
      // in effect after the next restart: re-read and promote over the new holder (once).
      description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
    }
  }
  work.acceptedVersionId = versionId;
  // What the compare-and-swap left, known without reading it back.
  work.description = description === undefined ? await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key)) : afterPromotion(description, versionId);
  audit(ctx, 'finishSecret', work, 'promoted', { versionId, requestId: work.requestId });
}
