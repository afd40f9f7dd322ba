import { OutcomeCode } from '../../domain/error-codes.js';
import { awaitingRestartReason, NO_PLUGIN_CODES, noResetPluginAnsweredReason, type PreflightSource } from '../../domain/standard-reasons.js';
import { checkEligibility } from '../eligibility.js';
import { audit, candidatePolicy, flushAudit, verifySettings, type BatchContext } from '../batch-context.js';
import { errorCode, mustStopBatch } from '../batch-failures.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { describeManyWithRetry, withVaultRetry } from '../vault-retry.js';
import { batchToken, MAX_GENERATION } from '../batch-token.js';
import { admission, holdsUnconfirmedSlot, isFirstRotation, isUnsettledPending, LABEL_CURRENT, unsettledPendingVersion, usedUnconfirmedSlots, versionWithLabel } from '../labels.js';
import { isFreshPreflight, isSilentAbout, type PreflightRefusal } from '../run-preflight.js';
import { verifyServer } from '../verify-server.js';

/** Concurrent ECS GETs per batch (servers the listing did not describe); the client's rate limiter still applies. */
const READ_CONCURRENCY = 16;

/** The tokens this batch may have used for `serverId` (every generation). */
export function tokensOfBatch(ctx: BatchContext, serverId: string): Set<string> {
  const tokens = new Set<string>();
  for (let generation = 0; generation <= MAX_GENERATION; generation++) {
    tokens.add(batchToken({ runId: ctx.input.runId, batchIndex: ctx.input.batchIndex, generation, serverId: ctx.input.target.uniquePerServer ? serverId : undefined }));
  }
  return tokens;
}

/**
 * Step 1, plan: per-server locks (busy → `busy`), the server from ECS (missing → `skipped
 * not-found`), the vault's state (which phase the server is in: this is where a re-run learns what
 * is already done), eligibility for servers that still need a reset, and the optional `dry_run`
 * preflight. Nothing is written to the vault and nothing is reset here.
 * `busy` are the ids whose locks another run holds. Returns one work entry per id.
 */
export async function plan(ctx: BatchContext, ids: readonly string[], busy: ReadonlySet<string>): Promise<ServerWork[]> {
  const { deps, input } = ctx;
  const works: ServerWork[] = ids.map((serverId) => ({
    serverId,
    key: { region: input.target.region, projectId: input.target.projectId, serverId },
    server: undefined,
    description: undefined,
    phase: 'new',
    version: undefined,
    acceptedVersionId: undefined,
    requestId: undefined,
    reset: undefined,
    sent: false,
    firstRotation: true,
    outcome: undefined,
  }));

  for (const work of works) {
    if (busy.has(work.serverId)) settle(work, 'busy', { code: OutcomeCode.busy, reason: 'another in-flight run holds this server' });
  }

  // The run's listing already described most servers (input.servers): only the others cost a GET
  // (and a promise: the listed ones are taken synchronously).
  const listed = new Map((input.servers ?? []).map((server) => [server.id, server]));
  const unlisted: ServerWork[] = [];
  for (const work of unsettled(works)) {
    const known = listed.get(work.serverId);
    if (known === undefined) unlisted.push(work);
    else work.server = known;
  }
  await mapLimit(unlisted, READ_CONCURRENCY, async (work) => {
    try {
      work.server = await deps.ecs.getServer(work.serverId, { signal: deps.signal });
    } catch (error) {
      if (mustStopBatch(error)) throw error;
      settle(work, 'skipped', { code: errorCode(error), reason: 'could not read the server from ECS' });
      return;
    }
    if (work.server === undefined) settle(work, 'skipped', { code: OutcomeCode.notFound, reason: 'ECS reports no such server' });
  });

  // One batch-level read of every open server's secret (the file vault: one catch-up, no per-server call).
  const open = unsettled(works);
  const descriptions = await describeManyWithRetry(ctx, 'plan', open.map((w) => w.key));
  // Shared mode: one set of tokens for the whole batch.
  const sharedTokens = input.target.uniquePerServer ? undefined : tokensOfBatch(ctx, '');
  open.forEach((work, i) => {
    work.description = descriptions[i];
    const ours = sharedTokens ?? tokensOfBatch(ctx, work.serverId);
    work.firstRotation = isFirstRotation(work.description, ours);
    const current = versionWithLabel(work.description, LABEL_CURRENT);
    // Acceptance and promotion are one write (labels.ts): this batch's password is accepted exactly
    // when it holds AWSCURRENT. An unsettled pending version, ours or not, is resent as it is (a
    // slot on it was reserved before its reset and proves nothing).
    if (current !== undefined && ours.has(current.versionId)) {
      work.phase = 'promoted';
      work.acceptedVersionId = current.versionId;
    } else if (unsettledPendingVersion(work.description) !== undefined) {
      work.phase = 'resend';
    } else {
      work.phase = 'new';
    }
  });

  // Verification by login first (e.g. restart policy none: the previous run's password takes effect
  // at an out-of-band restart): a candidate proven in effect frees the older ones' slots.
  const settings = verifySettings(ctx);
  const verifier = deps.verifier;
  if (settings !== undefined && verifier !== undefined) {
    await mapLimit(
      unsettled(works).filter((w) => (w.phase === 'new' || w.phase === 'resend') && usedUnconfirmedSlots(w.description).some((s) => !isUnsettledPending(s.version))),
      settings.concurrency,
      async (work) => {
        if (work.server === undefined) return;
        try {
          const result = await verifyServer(
            { vault: deps.vault, verifier, logger: ctx.logger, signal: deps.signal },
            { key: work.key, server: work.server, settings, description: work.description },
          );
          audit(ctx, 'verify', work, result.kind, result.kind === 'verified' ? { versionId: result.versionId } : { code: result.code });
          if (result.kind === 'verified') work.description = await withVaultRetry(ctx, 'plan', () => deps.vault.describe(work.key));
        } catch (error) {
          if (deps.signal?.aborted) throw error;
          // Labels are left as they were (every candidate kept); the admission below sees them all.
          audit(ctx, 'verify', work, 'verify-error', { code: errorCode(error) });
          work.description = await withVaultRetry(ctx, 'plan', () => deps.vault.describe(work.key));
        }
      },
    );
  }

  // Eligibility only for servers that still need a reset: a server this batch already reset is
  // finished whatever its state now. The reset plug-in flag costs one rate-limited GET per server;
  // when the dry_run preflight runs it answers the same question for the whole batch in one call
  // (Ecs.0613/Ecs.0612 per server, see `preflight`), so the GET is only made without it.
  const preflightRuns = input.target.dryRunPreflight || input.dryRun;
  const toAdmit = unsettled(works).filter((w) => w.phase === 'new' || w.phase === 'resend');
  if (preflightRuns) {
    // No flag to read: decided synchronously, without a promise per server.
    for (const work of toAdmit) if (work.server !== undefined) admit(ctx, work, checkEligibility(work.server, undefined));
  } else {
    await mapLimit(toAdmit, READ_CONCURRENCY, async (work) => {
      const server = work.server;
      if (server === undefined) return;
      let eligibility = checkEligibility(server, undefined);
      if (eligibility.eligible) {
        let flag: boolean;
        try {
          flag = await deps.ecs.getResetPasswordFlag(work.serverId, { signal: deps.signal });
        } catch (error) {
          if (mustStopBatch(error)) throw error;
          settle(work, 'skipped', { code: errorCode(error), reason: 'could not read the reset plug-in flag' });
          return;
        }
        eligibility = checkEligibility(server, flag);
      }
      admit(ctx, work, eligibility);
    });
  }

  if (preflightRuns) await preflight(ctx, works);

  // Audited: what plan decided for a server (settled, or resuming an earlier attempt); a server
  // simply going on to a new password is audited by the steps that change something.
  for (const work of works) {
    if (work.outcome !== undefined) audit(ctx, 'plan', work, work.outcome.outcome, { code: work.outcome.code });
    else if (work.phase !== 'new') audit(ctx, 'plan', work, work.phase, { versionId: work.acceptedVersionId });
  }
  await flushAudit(ctx);
  return works;
}

/**
 * Settles a server that is not eligible, or that has no slot for one more possibly-active password;
 * leaves the others to go on (possibly in phase `confirm`).
 */
function admit(ctx: BatchContext, work: ServerWork, eligibility: ReturnType<typeof checkEligibility>): void {
  if (!eligibility.eligible) {
    settle(work, 'skipped', { code: eligibility.code, reason: eligibility.reason });
    return;
  }
  // A resend whose version reserved its slot before its reset needs no other.
  if (work.phase === 'resend' && holdsUnconfirmedSlot(unsettledPendingVersion(work.description))) return;
  const decision = admission(work.description, candidatePolicy(ctx, work));
  if (decision === 'slot' || decision === 'slide') return;
  // No slot to keep one more possibly-active password in. With a reboot to come, settle the
  // backlog instead of adding to it: resend AWSCURRENT's password, reboot, then verify or trim (phase `confirm`).
  // (AWSPENDING on AWSCURRENT's own version, e.g. a confirmation cut short by a crash, is settled: phase `new`.)
  const current = versionWithLabel(work.description, LABEL_CURRENT);
  if (decision === 'confirm' && work.phase === 'new' && current !== undefined) {
    work.phase = 'confirm';
    return;
  }
  const policy = candidatePolicy(ctx, work);
  settle(work, 'skipped', {
    code: OutcomeCode.awaitingRestart,
    reason: awaitingRestartReason(policy.keep, policy.verification),
  });
}

/**
 * `dry_run: true`: Huawei checks the call and changes nothing. Definite rejections settle the server
 * before any secret is written: a missing plug-in is ineligibility (`skipped no-reset-plugin`, as the
 * flag would have said), anything else `failed` with Huawei's code. The run's preflight, when the
 * planner made one for these servers and it is fresh, is that answer already (../run-preflight.ts);
 * otherwise one call: a batch holds at most MAX_SERVERS_PER_CALL servers (batch-input.ts).
 */
async function preflight(ctx: BatchContext, works: ServerWork[]): Promise<void> {
  const candidates = unsettled(works).filter((w) => w.phase === 'new' || w.phase === 'resend' || w.phase === 'confirm');
  if (candidates.length === 0) return;
  const given = ctx.input.preflight;
  // Servers the dry run gave no definite answer about: it did not check their reset plug-in for
  // them, and nothing else has (plan skips the flag's GET when a preflight runs).
  const unsure: ServerWork[] = [];
  if (given !== undefined && isFreshPreflight(given, ctx.deps.clock.now())) {
    for (const work of candidates) {
      const refusal = given.refused.get(work.serverId);
      if (refusal !== undefined) refuse(work, refusal, given.requestId, "run's dry-run preflight");
      else if (given.unsure?.has(work.serverId) === true) unsure.push(work);
    }
  } else {
    const byId = new Map(candidates.map((w) => [w.serverId, w]));
    const ids = candidates.map((w) => w.serverId);
    const result = await ctx.deps.ecs.batchResetPasswords({ password: undefined, serverIds: ids, dryRun: true }, { signal: ctx.deps.signal });
    for (const r of result.results) {
      const work = byId.get(r.serverId);
      if (work === undefined) continue;
      if (r.kind === 'rejected') refuse(work, r, result.requestId, 'dry-run preflight');
      else if (isSilentAbout(r)) unsure.push(work);
    }
  }
  // A confirmation resends a password Huawei accepted before: its plug-in was there.
  await mapLimit(unsure.filter((w) => w.phase !== 'confirm' && w.outcome === undefined), READ_CONCURRENCY, async (work) => {
    let flag: boolean;
    try {
      flag = await ctx.deps.ecs.getResetPasswordFlag(work.serverId, { signal: ctx.deps.signal });
    } catch (error) {
      if (mustStopBatch(error)) throw error;
      settle(work, 'skipped', { code: errorCode(error), reason: 'the dry-run preflight gave no answer and the reset plug-in flag could not be read' });
      return;
    }
    if (work.server !== undefined) admit(ctx, work, checkEligibility(work.server, flag));
  });
}

function refuse(work: ServerWork, refusal: PreflightRefusal, requestId: string | undefined, by: PreflightSource): void {
  if (NO_PLUGIN_CODES.includes(refusal.code)) {
    settle(work, 'skipped', { code: OutcomeCode.noResetPlugin, reason: noResetPluginAnsweredReason(by, refusal.code) });
    return;
  }
  settle(work, 'failed', { code: refusal.code, reason: `${by} refused: ${refusal.message}`, requestId });
}
