/**
 * The queues in front of the AWS adapter's requests: the one in front of a shared limiter
 * (src/adapters/queued-rate-limiter.ts: one caller at a time asks it, in call order; an aborted caller
 * leaves the queue without reordering the others), and the read gate
 * (src/adapters/aws-secrets-manager/read-gate.ts: bounded reads, first come first served).
 */
import { describe, expect, it } from 'vitest';
import { ReadGate } from '../../src/adapters/aws-secrets-manager/read-gate.js';
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

describe('ReadGate (AWS adapter)', () => {
  it('keeps at most `limit` calls in flight and starts the others in call order', async () => {
    const gate = new ReadGate(2);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    let inFlight = 0;
    let most = 0;
    const calls = [0, 1, 2, 3, 4].map((i) =>
      gate.run(async () => {
        started.push(i);
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => finish.push(resolve));
        inFlight -= 1;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    finish.shift()?.();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    while (finish.length > 0 || started.length < 5) {
      finish.shift()?.();
      await tick();
    }
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('a call that fails gives its place to the next one', async () => {
    const gate = new ReadGate(1);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});
