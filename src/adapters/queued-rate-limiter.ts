import type { RateLimiter } from '../ports/rate-limiter.js';

/**
 * Puts this process's callers of a shared limiter in one queue: only the caller at its head asks
 * the shared limiter, the others wait their turn here, in call order.
 *
 * Why: the Redis-backed limiter (GCRA without reservations) answers each caller "wait this long";
 * hundreds of concurrent callers (a batch's vault writes) then all sleep the same time, wake
 * together, each run the script again, and only one wins: a round trip per waiter per slot, most of
 * them for nothing, and the slot goes to whoever's timer fires first rather than to the oldest
 * caller. Queued, a slot costs one or two round trips and callers are served first come, first served.
 */
export class QueuedRateLimiter implements RateLimiter {
  readonly #inner: RateLimiter;
  /** Settles when the caller ahead of the next one has its slot (or gave up). */
  #tail: Promise<void> = Promise.resolve();

  constructor(inner: RateLimiter) {
    this.#inner = inner;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    const ahead = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((resolve) => (done = resolve));
    const turn = (async (): Promise<void> => {
      // An aborted caller leaves the queue at once; the ones behind it still wait for the one ahead.
      if (signal === undefined) await ahead;
      else await untilOrAborted(ahead, signal);
      await this.#inner.acquire(signal);
    })();
    // The next caller goes once this one has its slot, or failed, or was aborted while queued (then
    // only after the callers ahead: the order of the others is kept).
    turn.then(done, () => void ahead.then(done));
    return turn;
  }
}

/** Resolves with `promise`, or rejects when `signal` aborts first; leaves no listener behind. */
function untilOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
