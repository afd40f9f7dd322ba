import { HuaweiCode } from '../../domain/error-codes.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { MAX_GENERATION, REGENERATED_GENERATION } from '../batch-token.js';
import { LABEL_PENDING } from '../labels.js';
import { unsettled, type ServerWork } from '../server-work.js';
import { withVaultRetry } from '../vault-retry.js';
import { createSecret } from './create-secret.js';
import { setSecret } from './set-secret.js';

/**
 * Part of step 3 (setSecret): a definite `Ecs.0011` (the password broke Huawei's rules) gets one
 * new password: the regenerated generation, with its own token, stored and sent like the first.
 */
export async function regenerateRejectedPasswords(ctx: BatchContext, works: ServerWork[]): Promise<void> {
  const again = unsettled(works).filter(
    (w) =>
      w.phase !== 'confirm' && // a confirmation resends an accepted password: never replace it here
      w.reset?.kind === 'rejected' && w.reset.code === HuaweiCode.passwordRules && w.version !== undefined && w.version.generation < MAX_GENERATION,
  );
  if (again.length === 0) return;
  ctx.logger.warn({ step: 'setSecret', servers: again.length }, `${HuaweiCode.passwordRules}: generating a new password once`);
  for (const work of again) {
    const version = work.version;
    if (version === undefined) continue;
    // Safe even for an inherited version: a password that breaks the rules was never set.
    await withVaultRetry(ctx, 'createSecret', () => ctx.deps.vault.removeLabel(work.key, LABEL_PENDING, version.versionId));
    audit(ctx, 'finishSecret', work, 'pending-dropped', { code: HuaweiCode.passwordRules, versionId: version.versionId, detail: 'regenerating' });
    work.version = undefined;
    work.reset = undefined;
    work.phase = 'new';
  }
  await flushAudit(ctx);
  await createSecret(ctx, works, REGENERATED_GENERATION);
  await setSecret(ctx, works);
}
