import type { Logger } from 'pino';
import type { AuditEvent, AuditStep } from '../ports/audit-log.js';
import type { BatchDeps, BatchInput } from './batch-input.js';
import type { ServerWork } from './server-work.js';

/** What every step of one batch execution shares: its ports, its input, its logger, its audit buffer. */
export interface BatchContext {
  deps: BatchDeps;
  input: BatchInput;
  logger: Logger;
  /** Audit events of the current step, flushed by `flushAudit`. */
  pendingAudit: AuditEvent[];
}

/** Buffers one audit event of `step` for `work`; `flushAudit` writes the buffer. */
export function audit(
  ctx: BatchContext,
  step: AuditStep,
  work: ServerWork,
  outcome: string,
  extra: Pick<AuditEvent, 'code' | 'versionId' | 'requestId' | 'detail'> = {},
): void {
  ctx.pendingAudit.push({
    ts: ctx.deps.clock.now(),
    runId: ctx.input.runId,
    target: ctx.input.target.name,
    batchIndex: ctx.input.batchIndex,
    step,
    serverId: work.serverId,
    outcome,
    ...extra,
  });
}

export async function flushAudit(ctx: BatchContext): Promise<void> {
  const events = ctx.pendingAudit.splice(0);
  await ctx.deps.audit.append(events);
}
