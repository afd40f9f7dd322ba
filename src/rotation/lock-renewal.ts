import type { Logger } from 'pino';
import type { Clock } from '../ports/clock.js';
import type { ServerLocks } from '../ports/server-locks.js';

export interface LockRenewal {
  /** Ids whose lock was found lost by a renewal (expired, e.g. after a long GC pause or a Redis failover). */
  readonly lost: ReadonlySet<string>;
  /** Renews once now and returns the ids lost so far. */
  renewNow(): Promise<ReadonlySet<string>>;
  /** Stops the timer (idempotent); resolves when the loop has ended. */
  stop(): Promise<void>;
}

/**
 * Keeps the batch's locks alive while it runs: renews every `ttlMs / 3`, so two renewals can fail
 * before a lock expires. Uses the injected clock's `sleep`, stopped through an AbortSignal.
 */
export function startLockRenewal(deps: { locks: ServerLocks; clock: Clock; logger: Logger }, serverIds: readonly string[], owner: string, ttlMs: number): LockRenewal {
  const controller = new AbortController();
  const lost = new Set<string>();
  const still = (): string[] => serverIds.filter((id) => !lost.has(id));
  const renewNow = async (): Promise<ReadonlySet<string>> => {
    const ids = still();
    if (ids.length === 0) return lost;
    const result = await deps.locks.renewMany(ids, owner, ttlMs);
    if (result.lost.length > 0) {
      for (const id of result.lost) lost.add(id);
      deps.logger.error({ step: 'locks', lost: result.lost.length }, 'server locks lost while the batch runs');
    }
    return lost;
  };
  const loop = (async () => {
    while (!controller.signal.aborted) {
      try {
        await deps.clock.sleep(Math.max(1, Math.floor(ttlMs / 3)), controller.signal);
      } catch {
        return; // stopped
      }
      try {
        await renewNow();
      } catch (error) {
        // A failed renewal is not fatal by itself: the lock lives until its TTL; the next tick retries.
        deps.logger.warn({ step: 'locks', err: error instanceof Error ? error.message : String(error) }, 'lock renewal failed');
      }
    }
  })();
  return {
    lost,
    renewNow,
    async stop() {
      controller.abort();
      await loop;
    },
  };
}
