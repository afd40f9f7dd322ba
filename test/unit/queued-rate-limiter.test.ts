/**
 * The queue in front of a shared limiter (src/adapters/queued-rate-limiter.ts): one caller at a time
 * asks it, in call order; an aborted caller leaves the queue without reordering the others.
 */
import { describe, expect, it } from 'vitest';
import { QueuedRateLimiter } from '../../src/adapters/queued-rate-limiter.js';
import type { RateLimiter } from '../../src/ports/rate-limiter.js';

/** A limiter whose grants the test hands out one by one; it records how many callers wait in it at once. */
class ManualLimiter implements RateLimiter {
  waiting: (() => void)[] = [];
  maxWaiting = 0;
  acquire(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.maxWaiting = Math.max(this.maxWaiting, this.waiting.length);
    });
  }
  grant(): void {
    this.waiting.shift()?.();
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('QueuedRateLimiter', () => {
  it('lets one caller at a time ask the shared limiter, first come first served', async () => {
    const inner = new ManualLimiter();
    const queued = new QueuedRateLimiter(inner);
    const order: number[] = [];
    const all = [0, 1, 2, 3].map((i) => queued.acquire().then(() => order.push(i)));
    for (let i = 0; i < 4; i++) {
      await tick();
      expect(inner.waiting).toHaveLength(1);
      inner.grant();
    }
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(inner.maxWaiting).toBe(1);
  });

  it('an aborted caller leaves the queue with the signal\'s reason; the others keep their order', async () => {
    const inner = new ManualLimiter();
    const queued = new QueuedRateLimiter(inner);
    const controller = new AbortController();
    const order: number[] = [];
    const first = queued.acquire().then(() => order.push(0));
    const aborted = queued.acquire(controller.signal);
    const third = queued.acquire().then(() => order.push(2));
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await tick();
    inner.grant();
    await tick();
    inner.grant();
    await Promise.all([first, third]);
    expect(order).toEqual([0, 2]);
    await expect(queued.acquire(controller.signal)).rejects.toThrow('stop');
  });
});
