import { OutcomeCode } from '../../domain/error-codes.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { settle, unsettled, type ServerWork } from '../server-work.js';

/**
 * Between createSecret and setSecret: a server whose lock expired (a long pause, a Redis failover)
 * may already be taken by another run, so it is not reset here (invariant 4).
 */
export async function dropLostLocks(ctx: BatchContext, works: ServerWork[], lost: ReadonlySet<string>): Promise<void> {
  if (lost.size === 0) return;
  for (const work of unsettled(works)) {
    if (!lost.has(work.serverId)) continue;
    // Its password may be stored as pending: kept, and resent first by whichever run gets the server next.
    settle(work, 'busy', { code: OutcomeCode.lockLost, reason: 'the server lock expired before the reset; not reset in this batch', versionId: work.version?.versionId });
    audit(ctx, 'setSecret', work, 'busy', { code: OutcomeCode.lockLost });
  }
  await flushAudit(ctx);
}
