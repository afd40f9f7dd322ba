import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ECS_RETRY_POLICY,
  isRetryableFailure,
  mayHaveBeenProcessed,
  parseRetryAfter,
  retryDelay,
} from '../../src/adapters/huawei-ecs/retry-policy.js';
import type { AttemptFailure, RetryPolicy } from '../../src/adapters/huawei-ecs/retry-policy.js';
import type { RandomSource } from '../../src/ports/random-source.js';

const policy = DEFAULT_ECS_RETRY_POLICY;
const http = (status: number, code?: string, retryAfterMs?: number): AttemptFailure => ({ kind: 'http', status, code, retryAfterMs });
const net = (code: string): AttemptFailure => ({ kind: 'network', code });
/** Always draws the top of the range, so delays equal the backoff ceiling. */
const maxRandom: RandomSource = { int: (n) => n - 1 };
const zeroRandom: RandomSource = { int: () => 0 };

describe('DEFAULT_ECS_RETRY_POLICY as data', () => {
  it.each([
    [http(429, 'APIGW.0308'), true],
    [http(429), true],
    [http(500, 'Common.0001'), true],
    [http(500, 'Ecs.0615'), true],
    [http(502, 'APIGW.0201'), true],
    [http(503, 'Common.1503'), true],
    [http(504), true],
    [http(501, 'Ecs.0603'), true],
    [http(501), false],
    [http(501, 'Ecs.0001'), false],
    [http(400, 'Ecs.0011'), false],
    [http(400, 'Ecs.0118'), false],
    [http(400, 'Ecs.0611'), false],
    [http(404, 'Ecs.0114'), false],
    [http(401, 'APIGW.0301'), false],
    // Token expiry: the same token fails again; refreshing it is the caller's job.
    [http(401, 'APIGW.0307'), false],
    [http(403, 'Ecs.0003'), false],
    // Never 401/403, even with a code that is otherwise transient.
    [http(403, 'Common.1503'), false],
    [http(401, 'APIGW.0308'), false],
    [net('ECONNRESET'), true],
    [net('ECONNREFUSED'), true],
    [net('ETIMEDOUT'), true],
    [net('EPIPE'), true],
    [net('TIMEOUT'), true],
    [net('UND_ERR_SOCKET'), true],
    [net('UND_ERR_HEADERS_TIMEOUT'), true],
    [net('ERR_TLS_CERT_ALTNAME_INVALID'), false],
    [net('RESPONSE_TOO_LARGE'), false],
  ])('%j retryable: %s', (failure, expected) => {
    expect(isRetryableFailure(policy, failure)).toBe(expected);
  });

  it('backs off exponentially with full jitter under a cap', () => {
    const ceilings = [1, 2, 3, 4].map((attempt) => retryDelay(policy, http(503), attempt, maxRandom));
    expect(ceilings).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelay(policy, http(503), attempt, zeroRandom))).toEqual([0, 0, 0, 0]);
    const capped: RetryPolicy = { ...policy, maxAttempts: 20 };
    expect(retryDelay(capped, http(503), 15, maxRandom)).toBe(policy.maxDelayMs);
  });

  it('draws the jitter uniformly from [0, ceiling]', () => {
    const bounds: number[] = [];
    retryDelay(policy, http(429), 3, { int: (n) => (bounds.push(n), 0) });
    expect(bounds).toEqual([2001]);
  });

  it('stops after maxAttempts and on non-retryable failures', () => {
    expect(retryDelay(policy, http(503), policy.maxAttempts, maxRandom)).toBeUndefined();
    expect(retryDelay(policy, http(503), policy.maxAttempts - 1, maxRandom)).toBeDefined();
    expect(retryDelay(policy, http(401, 'APIGW.0301'), 1, maxRandom)).toBeUndefined();
    expect(retryDelay({ ...policy, maxAttempts: 1 }, http(503), 1, maxRandom)).toBeUndefined();
  });

  it('honours Retry-After exactly (no jitter), a past date meaning now, and gives up beyond maxRetryAfterMs', () => {
    expect(retryDelay(policy, http(429, 'APIGW.0308', 3000), 1, zeroRandom)).toBe(3000);
    expect(retryDelay(policy, http(429, 'APIGW.0308', 3000), 4, maxRandom)).toBe(3000);
    expect(retryDelay(policy, http(429, 'APIGW.0308', -5000), 1, maxRandom)).toBe(0);
    expect(retryDelay(policy, http(429, 'APIGW.0308', policy.maxRetryAfterMs + 1), 1, maxRandom)).toBeUndefined();
    // Retry-After never makes a permanent failure retryable.
    expect(retryDelay(policy, http(400, 'Ecs.0011', 1000), 1, maxRandom)).toBeUndefined();
  });

  it('waits at least a minute on Ecs.0603 ("other commands running")', () => {
    expect(retryDelay(policy, http(501, 'Ecs.0603'), 1, zeroRandom)).toBe(60_000);
    expect(retryDelay(policy, http(501, 'Ecs.0603', 1000), 1, zeroRandom)).toBe(60_000);
  });

  it('is frozen data', () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.retryableStatuses)).toBe(true);
  });
});

describe('mayHaveBeenProcessed', () => {
  it.each([
    // Huawei said it did not act: a refusal, throttling included.
    [http(429, 'APIGW.0308'), false],
    [http(400, 'Ecs.0011'), false],
    [http(401), false],
    // A 5xx may come after the work was done (answer lost); a dropped or timed-out exchange too.
    [http(500, 'Common.0001'), true],
    [http(501, 'Ecs.0603'), true],
    [http(503, 'Common.1503'), true],
    [net('ECONNRESET'), true],
    [net('TIMEOUT'), true],
    [net('EPIPE'), true],
    [net('UND_ERR_SOCKET'), true],
    // No connection was ever made: nothing was sent.
    [net('ECONNREFUSED'), false],
    [net('ENOTFOUND'), false],
    [net('EAI_AGAIN'), false],
  ])('%j → %s', (failure, expected) => {
    expect(mayHaveBeenProcessed(failure)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter(new Date(now + 7000).toUTCString(), now)).toBe(7000);
    expect(parseRetryAfter(new Date(now - 7000).toUTCString(), now)).toBe(0);
  });
  it('ignores absent or garbage values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
  });
});
