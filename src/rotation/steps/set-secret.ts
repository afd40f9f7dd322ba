import { audit, flushAudit, type BatchContext } from '../batch-context.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, type ServerWork } from '../server-work.js';

/**
 * Reset calls in flight at once per batch (uniquePerServer makes one call per server). Enough to
 * keep Huawei's 200 requests/s busy at ~50-100 ms a call: the client's rate limiter, not this, is
 * what should bound a run.
 */
const CALL_CONCURRENCY = 16;

/**
 * Step 3, setSecret: one `batchResetPasswords` call per distinct password (invariant 3: servers are
 * grouped by the password they must receive, so a resend never mixes with a new password), each
 * server classified accepted / rejected(code) / unknown. Only servers whose password is stored and
 * verified as AWSPENDING (step 2) are sent. The client retries transient failures with the same body;
 * it throws only when the run must stop (auth, permission, malformed request), and so does this.
 */
export async function setSecret(ctx: BatchContext, works: readonly ServerWork[]): Promise<void> {
  const groups = new Map<string, ServerWork[]>();
  for (const work of unsettled(works)) {
    if (work.version === undefined || work.reset !== undefined) continue;
    const group = groups.get(work.version.password) ?? [];
    group.push(work);
    groups.set(work.version.password, group);
  }
  // One call per password: a batch holds at most MAX_SERVERS_PER_CALL servers (batch-input.ts).
  const calls = [...groups].map(([password, members]) => ({ password, members }));

  await mapLimit(calls, CALL_CONCURRENCY, async ({ password, members }) => {
    ctx.deps.signal?.throwIfAborted();
    const byId = new Map(members.map((w) => [w.serverId, w]));
    // From here on the call may reach Huawei: whatever happens next, these servers' outcome is at best unknown.
    for (const work of members) work.sent = true;
    const answer = await ctx.deps.ecs.batchResetPasswords({ password, serverIds: members.map((w) => w.serverId) }, { signal: ctx.deps.signal });
    for (const result of answer.results) {
      const work = byId.get(result.serverId);
      if (work === undefined) continue;
      work.reset = result;
      work.requestId = answer.requestId;
      // The version sent is the one createSecret audited for this server just before.
      audit(ctx, 'setSecret', work, result.kind, {
        code: result.kind === 'accepted' ? undefined : result.code,
        requestId: answer.requestId,
      });
    }
    // One info line per batch: with uniquePerServer a batch makes a call per server, and a line per
    // call was 100,000 lines a run for a 100k fleet. Each server's request id is in its outcome and
    // its audit entries; the per-call lines are at debug.
    const fields = { step: 'setSecret', servers: members.length, versionId: members[0]?.version?.versionId, requestId: answer.requestId };
    if (calls.length === 1) ctx.logger.info(fields, 'batch reset call answered');
    else ctx.logger.debug(fields, 'batch reset call answered');
  });
  if (calls.length > 1) {
    ctx.logger.info({ step: 'setSecret', calls: calls.length, servers: calls.reduce((n, c) => n + c.members.length, 0) }, 'batch reset calls answered');
  }
  await flushAudit(ctx);
}
