import { describe, expect, it } from 'vitest';
import { TokenBucketRateLimiter } from '../../src/adapters/token-bucket-rate-limiter.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import type { Clock } from '../../src/ports/clock.js';

/** A manual clock: sleeps park until `advance` moves time past them. */
function manualClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let sleepers: { until: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        sleepers.push({ until: now + ms, resolve });
      }),
    advance(ms) {
      now += ms;
      const due = sleepers.filter((s) => s.until <= now);
      sleepers = sleepers.filter((s) => s.until > now);
      for (const s of due) s.resolve();
    },
    pending: () => sleepers.length,
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('TokenBucketRateLimiter', () => {
  it('lets a burst through at once, then one request per interval, in call order', async () => {
    const clock = manualClock();
    const limiter = new TokenBucketRateLimiter({ requestsPerSecond: 10, burst: 3, clock });
    const done: number[] = [];
    for (let i = 0; i < 6; i += 1) void limiter.acquire().then(() => done.push(i));
    await flush();
    expect(done).toEqual([0, 1, 2]);
    clock.advance(99);
    await flush();
    expect(done).toEqual([0, 1, 2]);
    clock.advance(1);
    await flush();
    expect(done).toEqual([0, 1, 2, 3]);
    clock.advance(200);
    await flush();
    expect(done).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refills after a quiet period up to the burst only', async () => {
    const clock = manualClock();
    const limiter = new TokenBucketRateLimiter({ requestsPerSecond: 2, burst: 2, clock });
    clock.advance(60_000);
    await limiter.acquire();
    await limiter.acquire();
    let third = false;
    void limiter.acquire().then(() => (third = true));
    await flush();
    expect(third).toBe(false);
    expect(clock.pending()).toBe(1);
  });

  it('rejects when the signal aborts while waiting (with the real clock)', async () => {
    const limiter = new TokenBucketRateLimiter({ requestsPerSecond: 0.001, burst: 1, clock: systemClock });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('validates its options', () => {
    expect(() => new TokenBucketRateLimiter({ requestsPerSecond: 0, clock: systemClock })).toThrow(/requestsPerSecond/);
    expect(() => new TokenBucketRateLimiter({ requestsPerSecond: 5, burst: 0, clock: systemClock })).toThrow(/burst/);
  });
});
