import { OutcomeCode } from '../../domain/error-codes.js';
import type { ServerOutcome } from '../../domain/outcome.js';
import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import type { ServerWork } from '../server-work.js';

/**
 * Step 6, record: each server's outcome in the OutcomeStore (what `rotator status` shows) and one
 * audit event per server (outcome and code). A dry run is audited only: it must not overwrite the state of servers
 * it did not touch.
 */
export async function record(ctx: BatchContext, works: readonly ServerWork[]): Promise<ServerOutcome[]> {
  const outcomes = works.map((w) => w.outcome ?? { serverId: w.serverId, outcome: 'unknown' as const, code: OutcomeCode.unsettled, reason: 'no step settled this server' });
  if (!ctx.input.dryRun) {
    const at = ctx.deps.clock.now();
    await ctx.deps.outcomes.recordMany(outcomes.map((outcome) => ({ target: ctx.input.target.name, runId: ctx.input.runId, at, outcome })));
  }
  works.forEach((work, i) => {
    const o = outcomes[i] as ServerOutcome;
    // Codes, not prose: the reason of an accepted server is a fixed sentence; the outcome store keeps
    // the reason of the others, and the audit keeps their code (the version and request are audited by the steps that produced them).
    audit(ctx, 'record', work, o.outcome, { code: o.code });
  });
  await flushAudit(ctx);
  return outcomes;
}
