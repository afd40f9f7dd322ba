import { RotatorError } from '../domain/rotator-error.js';
import type { SecretDescription, SecretKey, VaultWrite, VaultWriteResult } from '../ports/vault.js';
import type { BatchContext } from './batch-context.js';

/**
 * Runs a vault operation with a bounded number of attempts on retryable failures (the failure
 * policy: "vault write/throttle error: retry"); the last error is rethrown for the job to retry.
 */
export async function withVaultRetry<T>(ctx: BatchContext, what: string, operation: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const retryable = error instanceof RotatorError && error.retryable;
      if (!retryable || attempt >= attempts) throw error;
      const code = error instanceof RotatorError ? error.code : 'unknown';
      ctx.logger.warn({ step: what, code, attempt }, 'vault operation failed; retrying');
      // Full jitter on an exponential base: 200 ms, 400 ms, … capped at 5 s.
      const base = Math.min(5_000, 200 * 2 ** (attempt - 1));
      await ctx.deps.clock.sleep(ctx.deps.random.int(base) + 1, ctx.deps.signal);
    }
  }
}

/**
 * `vault.writeMany` under the same policy: the writes that failed retryably (a secret's failed write
 * and, with it, that secret's later writes) are attempted again, up to `attempts` calls in all;
 * every other result stands. One result per write, in order.
 */
export async function writeManyWithRetry(ctx: BatchContext, what: string, writes: readonly VaultWrite[], attempts = 3): Promise<VaultWriteResult[]> {
  const results = new Array<VaultWriteResult>(writes.length);
  let pending = writes.map((_, i) => i);
  for (let attempt = 1; pending.length > 0; attempt++) {
    const answers = await ctx.deps.vault.writeMany(pending.map((i) => writes[i]!));
    const again: number[] = [];
    answers.forEach((answer, j) => {
      const i = pending[j]!;
      results[i] = answer;
      if (!answer.ok && answer.error instanceof RotatorError && answer.error.retryable && attempt < attempts) again.push(i);
    });
    if (again.length > 0) {
      const first = results[again[0]!];
      const code = first !== undefined && !first.ok && first.error instanceof RotatorError ? first.error.code : 'unknown';
      ctx.logger.warn({ step: what, code, attempt, writes: again.length }, 'vault writes failed; retrying them');
      const base = Math.min(5_000, 200 * 2 ** (attempt - 1));
      await ctx.deps.clock.sleep(ctx.deps.random.int(base) + 1, ctx.deps.signal);
    }
    pending = again;
  }
  return results;
}

/** `vault.describeMany` under the same policy as a single read. */
export function describeManyWithRetry(ctx: BatchContext, what: string, keys: readonly SecretKey[]): Promise<(SecretDescription | undefined)[]> {
  return keys.length === 0 ? Promise.resolve([]) : withVaultRetry(ctx, what, () => ctx.deps.vault.describeMany(keys));
}
