import { RotatorError } from '../domain/rotator-error.js';
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
