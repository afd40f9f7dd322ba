import type { Clock } from '../ports/clock.js';
import type { RateLimiter } from '../ports/rate-limiter.js';

export interface TokenBucketOptions {
  /** Sustained rate, requests per second (> 0). */
  requestsPerSecond: number;
  /** Requests that may go at once after a quiet period. @defaultValue max(1, ceil(requestsPerSecond)) */
  burst?: number | undefined;
  clock: Clock;
}

/**
 * An in-process token bucket (one process only; the Redis-backed limiter serves a deployment).
 *
 * Implemented as GCRA: each `acquire` reserves the next free slot at once and then waits for it,
 * so concurrent callers are served in call order and never wake up together to race for one token.
 * A caller aborted while waiting keeps its reservation spent: the limiter errs towards sending less.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  private readonly clock: Clock;
  /** Theoretical arrival time of the next request, ms since the epoch. */
  private tat = Number.NEGATIVE_INFINITY;

  constructor(options: TokenBucketOptions) {
    const { requestsPerSecond } = options;
    if (!Number.isFinite(requestsPerSecond) || requestsPerSecond <= 0) {
      throw new RangeError(`requestsPerSecond: expected a positive number, found ${requestsPerSecond}`);
    }
    const burst = options.burst ?? Math.max(1, Math.ceil(requestsPerSecond));
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst: expected an integer >= 1, found ${burst}`);
    this.intervalMs = 1000 / requestsPerSecond;
    this.toleranceMs = (burst - 1) * this.intervalMs;
    this.clock = options.clock;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const now = this.clock.now();
    const tat = Math.max(this.tat, now);
    const allowedAt = tat - this.toleranceMs;
    this.tat = tat + this.intervalMs;
    const wait = allowedAt - now;
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}
