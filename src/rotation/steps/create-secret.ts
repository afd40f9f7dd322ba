import { OutcomeCode, VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import { usernameFor } from '../../domain/server.js';
import { generatePassword } from '../../policy/password-generator.js';
import type { SecretDescription, SecretPayload, VaultWrite } from '../../ports/vault.js';
import { audit, candidatePolicy, flushAudit, type BatchContext } from '../batch-context.js';
import { errorCode } from '../batch-failures.js';
import { mapLimit } from '../map-limit.js';
import { unsettled, settle, type ServerWork } from '../server-work.js';
import { describeManyWithRetry, withVaultRetry, writeManyWithRetry } from '../vault-retry.js';
import { batchToken, MAX_GENERATION } from '../batch-token.js';
import { LABEL_CURRENT, LABEL_PENDING, slotForAccepted, versionWithLabel, withVersionLabels } from '../labels.js';

/** Vault calls in flight per batch: all of them, so that the file vault groups a step of a batch into one or two commits (one fsync each); the AWS adapter queues them behind its write limiter and HTTP pool. */
const VAULT_CONCURRENCY = 1000;

/**
 * Step 2, createSecret: gives every server still in play the password it must receive, stored as
 * AWSPENDING and acknowledged by the vault before step 3 may send it.
 * - `resend`: the pending version from an earlier attempt (never a new password while its fate is unknown);
 * - `confirm`: the AWSCURRENT version (all unconfirmed slots taken; the reboot will confirm it);
 * - `new`: this batch's password of `generation`: reused from any server of the batch that already
 *   holds it (a re-run after a crash), else generated; per server when `uniquePerServer`.
 * A server whose write is not acknowledged is settled `failed` and never reset.
 */
export async function createSecret(ctx: BatchContext, works: readonly ServerWork[], generation: number): Promise<void> {
  const { deps, input } = ctx;
  const candidates = unsettled(works).filter((w) => (w.phase === 'new' || w.phase === 'resend' || w.phase === 'confirm') && w.version === undefined);
  let lastRetryable: RotatorError | undefined;
  /** The labels each server's version to send holds, as this step's write or read answered. */
  const stored = new Map<ServerWork, string[]>();
  const fail = (work: ServerWork, error: unknown): void => {
    if (error instanceof RotatorError && error.retryable) lastRetryable = error;
    settle(work, 'failed', { code: errorCode(error), reason: 'the password could not be stored in the vault; the server was not reset' });
    audit(ctx, 'createSecret', work, 'failed', { code: errorCode(error) });
  };

  // Resends: read the pending password back; it must be exactly the version plan saw.
  await mapLimit(candidates.filter((w) => w.phase === 'resend'), VAULT_CONCURRENCY, async (work) => {
    try {
      // Idempotent; lets the vault repair a secret an earlier release left with AWSCURRENT on a
      // never-accepted first version (see labels.ts) before this password is sent again.
      await withVaultRetry(ctx, 'createSecret', () => deps.vault.ensureSecret(work.key));
      const pending = await withVaultRetry(ctx, 'createSecret', () => deps.vault.getVersion(work.key, { label: LABEL_PENDING }));
      if (pending === undefined) {
        // Settled between plan and now (another process): treat as nothing pending.
        work.phase = 'new';
        return;
      }
      work.version = { versionId: pending.versionId, password: pending.value.password, inherited: true, generation: generationOf(ctx, work.serverId, pending.versionId) };
      stored.set(work, pending.labels);
      audit(ctx, 'createSecret', work, 'reused-pending', { versionId: pending.versionId });
    } catch (error) {
      fail(work, error);
    }
  });

  // Confirmations: AWSCURRENT's password, already accepted by Huawei once, is sent again (plan.ts).
  await mapLimit(candidates.filter((w) => w.phase === 'confirm'), VAULT_CONCURRENCY, async (work) => {
    try {
      const current = await withVaultRetry(ctx, 'createSecret', () => deps.vault.getVersion(work.key, { label: LABEL_CURRENT }));
      if (current === undefined) {
        settle(work, 'skipped', { code: OutcomeCode.awaitingRestart, reason: 'no current password to confirm (the vault changed since plan)' });
        return;
      }
      work.version = { versionId: current.versionId, password: current.value.password, inherited: true, generation: 0 };
      audit(ctx, 'createSecret', work, 'reused-current', { versionId: current.versionId, detail: 'confirming the last accepted password' });
    } catch (error) {
      fail(work, error);
    }
  });

  const fresh = candidates.filter((w) => w.phase === 'new' && w.outcome === undefined);
  const shared = input.target.uniquePerServer ? undefined : await sharedPassword(ctx, works, generation);

  // Fresh passwords, for the whole batch in one batch-level call (the file vault: one group commit):
  // each secret ensured, then its password stored. writeMany stops a secret at its first failure, so
  // a secret that could not be ensured gets no putPending.
  const stores: { work: ServerWork; token: string; password: string; payload: SecretPayload; slot: string | undefined }[] = [];
  // One time for the batch's passwords, generated together here.
  const createdAt = new Date(deps.clock.now()).toISOString();
  for (const work of fresh) {
    const server = work.server;
    if (server === undefined || server.osType === undefined) continue; // plan settled these
    const token = batchToken({ runId: input.runId, batchIndex: input.batchIndex, generation, serverId: input.target.uniquePerServer ? work.serverId : undefined });
    const password = shared ?? generatePassword(input.target.passwordPolicy, deps.random);
    const payload: SecretPayload = {
      username: usernameFor(server.osType),
      password,
      serverId: work.serverId,
      serverName: server.name,
      osType: server.osType,
      region: input.target.region,
      projectId: input.target.projectId,
      runId: input.runId,
      createdAt,
      activation: input.target.restartPolicy === 'none' ? 'next-restart' : 'after-reboot',
    };
    // The slot it holds in case it is accepted, reserved in the same write (labels.ts): plan
    // admitted the server with a free slot or a slide.
    const slot = slotForAccepted(work.description, token, candidatePolicy(ctx, work));
    stores.push({ work, token, password, payload, slot });
  }
  const results = await writeManyWithRetry(
    ctx,
    'createSecret',
    stores.flatMap(({ work, token, payload, slot }): VaultWrite[] => [
      { kind: 'ensureSecret', key: work.key },
      { kind: 'putPending', key: work.key, token, value: payload, alsoLabels: slot === undefined ? [] : [slot] },
    ]),
  );
  const reused: { work: ServerWork; token: string; error: RotatorError }[] = [];
  stores.forEach(({ work, token, password }, i) => {
    const put = results[2 * i + 1]!;
    if (put.ok) {
      work.version = { versionId: token, password, inherited: false, generation };
      stored.set(work, put.labels ?? []);
      audit(ctx, 'createSecret', work, 'stored', { versionId: token });
    } else if (put.error instanceof RotatorError && put.error.code === VaultErrorCode.tokenReused && results[2 * i]!.ok) {
      reused.push({ work, token, error: put.error });
    } else {
      fail(work, put.error);
    }
  });
  // This token already holds a password for this server (an earlier attempt stored it with another
  // createdAt, or raced us): that stored password is the one to send, never ours.
  await mapLimit(reused, VAULT_CONCURRENCY, async ({ work, token, error }) => {
    try {
      const earlier = await withVaultRetry(ctx, 'createSecret', () => deps.vault.getVersion(work.key, { versionId: token }));
      if (earlier === undefined) throw error;
      work.version = { versionId: token, password: earlier.value.password, inherited: true, generation };
      stored.set(work, earlier.labels);
      audit(ctx, 'createSecret', work, 'reused-stored', { versionId: token });
    } catch (readError) {
      fail(work, readError);
    }
  });

  // Verify rather than trust: the version to send must hold AWSPENDING now (a replayed putPending on
  // an existing version is a no-op and does not re-attach the label). The write or read above says
  // which labels it holds; only where AWSPENDING is missing is the secret read again and the label
  // moved. A confirmation resends AWSCURRENT's password: that version needs no AWSPENDING (plan finds
  // it current and decides again), and no other version holds it unsettled (plan would resend that).
  // The common case (the write answered with AWSPENDING held) synchronously, without a promise per server.
  const reread: ServerWork[] = [];
  for (const work of unsettled(works)) {
    const version = work.version;
    if (version === undefined || work.phase === 'confirm') continue;
    const labels = stored.get(work);
    if (!labels?.includes(LABEL_PENDING) || work.description === undefined) {
      reread.push(work);
      continue;
    }
    try {
      work.description = withVersionLabels(work.description, version.versionId, labels, deps.clock.now());
    } catch (error) {
      work.version = undefined;
      fail(work, error);
    }
  }
  // One batch-level read for all of them (the file vault: one catch-up, not one per server): on a
  // first rotation every server is here, as plan found no secret to describe.
  const toReread = reread.filter((w) => w.version !== undefined);
  let reads: (SecretDescription | undefined)[] | undefined;
  try {
    reads = await describeManyWithRetry(ctx, 'createSecret', toReread.map((w) => w.key));
  } catch (error) {
    for (const work of toReread) {
      work.version = undefined;
      fail(work, error);
    }
  }
  const relabel: ServerWork[] = [];
  toReread.forEach((work, i) => {
    if (reads === undefined) return;
    const description = reads[i];
    if (versionWithLabel(description, LABEL_PENDING)?.versionId === work.version?.versionId) work.description = description;
    else relabel.push(work);
  });
  await mapLimit(relabel, VAULT_CONCURRENCY, async (work) => {
    const version = work.version;
    if (version === undefined) return;
    try {
      await withVaultRetry(ctx, 'createSecret', () => deps.vault.moveLabel(work.key, LABEL_PENDING, version.versionId));
      work.description = await withVaultRetry(ctx, 'createSecret', () => deps.vault.describe(work.key));
    } catch (error) {
      work.version = undefined;
      fail(work, error);
    }
  });
  await flushAudit(ctx);

  // The vault is unreachable for everyone: no progress possible, let the job retry.
  if (lastRetryable !== undefined && candidates.every((w) => w.outcome?.outcome === 'failed')) throw lastRetryable;
}

/** Shared mode: the password already stored under this generation's token on any server of the batch, else a new one. */
async function sharedPassword(ctx: BatchContext, works: readonly ServerWork[], generation: number): Promise<string> {
  const token = batchToken({ runId: ctx.input.runId, batchIndex: ctx.input.batchIndex, generation });
  for (const work of works) {
    if (!work.description?.versions.some((v) => v.versionId === token)) continue;
    const stored = await withVaultRetry(ctx, 'createSecret', () => ctx.deps.vault.getVersion(work.key, { versionId: token }));
    if (stored !== undefined) return stored.value.password;
  }
  return generatePassword(ctx.input.target.passwordPolicy, ctx.deps.random);
}

/** The generation of this batch that `versionId` belongs to; a version from an earlier run counts as generation 0. */
function generationOf(ctx: BatchContext, serverId: string, versionId: string): number {
  for (let generation = MAX_GENERATION; generation > 0; generation--) {
    const token = batchToken({ runId: ctx.input.runId, batchIndex: ctx.input.batchIndex, generation, serverId: ctx.input.target.uniquePerServer ? serverId : undefined });
    if (token === versionId) return generation;
  }
  return 0;
}
