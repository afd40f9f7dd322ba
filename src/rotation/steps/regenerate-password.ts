import { HuaweiCode } from '../../domain/error-codes.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { MAX_GENERATION, REGENERATED_GENERATION } from '../batch-token.js';
import { unsettled, type ServerWork } from '../server-work.js';
import { createSecret } from './create-secret.js';
import { setSecret } from './set-secret.js';
import { dropRejected, keepRefusedInherited } from './finish-secret.js';

/**
 * Part of step 3 (setSecret): a definite `Ecs.0011` (the password broke Huawei's rules) gets one
 * new password: the regenerated generation, with its own token, stored and sent like the first. A
 * password first sent by this execution was never set: its AWSPENDING and its slot are dropped. An inherited
 * pending password (sent before without a definite answer) may be in effect whatever this answer
 * says (a proxy may answer it, Huawei's rules may have changed): it is kept as a candidate
 * (finish-secret.ts `keepRefusedInherited`), or stays pending and gets no successor when there is no
 * room for both.
 */
export async function regenerateRejectedPasswords(
  ctx: BatchContext,
  works: ServerWork[],
  lostLocks: () => Promise<ReadonlySet<string>> = async () => new Set(),
): Promise<void> {
  const candidates = unsettled(works).filter(
    (w) =>
      w.phase !== 'confirm' && // a confirmation resends an accepted password: never replace it here
      w.reset?.kind === 'rejected' && w.reset.code === HuaweiCode.passwordRules && w.version !== undefined && w.version.generation < MAX_GENERATION,
  );
  if (candidates.length === 0) return;
  // Asked only now (a Redis round trip): a server whose lock expired during the reset call may be
  // another run's; it gets no second password and ends failed with Huawei's code.
  const lost = await lostLocks();
  const refused = candidates.filter((w) => !lost.has(w.serverId));
  if (refused.length === 0) return;
  ctx.logger.warn({ step: 'setSecret', servers: refused.length }, `${HuaweiCode.passwordRules}: generating a new password once`);
  for (const work of refused) {
    const version = work.version;
    if (version === undefined || work.reset?.kind !== 'rejected') continue;
    if (version.inherited) {
      await keepRefusedInherited(ctx, work, version.versionId, work.reset.message);
      if (work.outcome !== undefined) continue;
    } else {
      await dropRejected(ctx, work, version.versionId);
      audit(ctx, 'finishSecret', work, 'pending-dropped', { code: HuaweiCode.passwordRules, versionId: version.versionId, detail: 'regenerating' });
    }
    work.version = undefined;
    work.reset = undefined;
    work.phase = 'new';
  }
  await flushAudit(ctx);
  await createSecret(ctx, works, REGENERATED_GENERATION);
  await setSecret(ctx, works);
}
