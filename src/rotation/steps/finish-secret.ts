import { HuaweiCode, OutcomeCode, VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { withVaultRetry } from '../vault-retry.js';
import { freeUnconfirmedSlot, holdsUnconfirmedSlot, LABEL_CURRENT, LABEL_PENDING, versionById, versionWithLabel } from '../labels.js';

/** Vault calls in flight per batch: all of them, so that the file vault groups a step of a batch into one or two commits (one fsync each); the AWS adapter queues them behind its write limiter and HTTP pool. */
const VAULT_CONCURRENCY = 1000;

/**
 * Step 4, finishSecret (labels per ./labels.ts):
 * - accepted → an unconfirmed slot label, then promote (compare-and-swap of AWSCURRENT; AWSPREVIOUS
 *   follows; AWSPENDING dropped). A vault failure here is retried, then thrown for the job to retry:
 *   the slot and AWSPENDING still hold the password, and the re-run resumes at the promotion;
 * - rejected → AWSPENDING dropped (the password was never set), except for a resend of an inherited
 *   pending password: its first, unanswered call may have been accepted, so it stays pending;
 * - unknown → AWSPENDING kept: the next attempt sends the same password.
 * Accepted servers are not settled here: step 5 decides between `rotated` and `pending-restart`.
 */
export async function finishSecret(ctx: BatchContext, works: readonly ServerWork[]): Promise<void> {
  await mapLimit(unsettled(works), VAULT_CONCURRENCY, async (work) => {
    if (work.phase === 'accepted' && work.acceptedVersionId !== undefined) {
      await acceptVersion(ctx, work, work.acceptedVersionId);
      return;
    }
    const version = work.version;
    if (work.phase === 'promoted' || version === undefined) return;
    const result = work.reset ?? { serverId: work.serverId, kind: 'unknown', code: OutcomeCode.noResult, message: 'no classification for this server' };
    if (result.kind === 'accepted') {
      await acceptVersion(ctx, work, version.versionId);
      return;
    }
    if (result.kind === 'rejected') {
      const keep = version.inherited && result.code !== HuaweiCode.passwordRules;
      if (!keep) await withVaultRetry(ctx, 'finishSecret', () => ctx.deps.vault.removeLabel(work.key, LABEL_PENDING, version.versionId));
      settle(work, 'failed', {
        code: result.code,
        reason: keep
          ? `${result.message} (pending password kept: an earlier attempt sent it without a definite answer)`
          : result.message,
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
  });
  await flushAudit(ctx);
}

async function acceptVersion(ctx: BatchContext, work: ServerWork, versionId: string): Promise<void> {
  const { vault } = ctx.deps;
  let description = work.description ?? (await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key)));
  if (!holdsUnconfirmedSlot(versionById(description, versionId))) {
    const slot = freeUnconfirmedSlot(description);
    // plan refused servers without a free slot; a missing slot here means another writer, and the
    // version is still kept by AWSCURRENT below.
    if (slot !== undefined) await withVaultRetry(ctx, 'finishSecret', () => vault.moveLabel(work.key, slot, versionId));
    else ctx.logger.warn({ step: 'finishSecret', serverId: work.serverId, versionId }, 'no free unconfirmed slot');
  }
  for (let attempt = 1; ; attempt++) {
    const current = versionWithLabel(description, LABEL_CURRENT)?.versionId;
    try {
      // promote is a no-op for AWSCURRENT when versionId holds it already (a replay), and drops AWSPENDING.
      await withVaultRetry(ctx, 'finishSecret', () => vault.promote(work.key, versionId, current === versionId ? versionId : current));
      break;
    } catch (error) {
      if (!(error instanceof RotatorError) || error.code !== VaultErrorCode.currentChanged || attempt >= 2) throw error;
      // Someone moved AWSCURRENT since we read it. Huawei accepted *this* password, so it is the one
      // in effect after the next restart: re-read and promote over the new holder (once).
      description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
    }
  }
  work.acceptedVersionId = versionId;
  work.description = await withVaultRetry(ctx, 'finishSecret', () => vault.describe(work.key));
  audit(ctx, 'finishSecret', work, 'promoted', { versionId, requestId: work.requestId });
}
