import { HuaweiCode } from '../../domain/error-codes.js';
import type { RandomSource } from '../../ports/random-source.js';

/**
 * When and how long the ECS client waits before resending a failed request. Data, not branches
 * (as undici's RetryHandler): the client asks `retryDelay(policy, failure, attempt, random)` and
 * never decides on its own. Retries resend the same body bytes (the same password): the design
 * forbids sending a second, different password to a server whose first outcome is unknown.
 */
export interface RetryPolicy {
  /** Attempts per call, the first included. 1 disables retries. */
  maxAttempts: number;
  /** Backoff base: attempt n (1-based) waits a uniform random time in [0, min(cap, base * 2^(n-1))] (full jitter). */
  baseDelayMs: number;
  /** Upper bound of one backoff delay. */
  maxDelayMs: number;
  /** HTTP statuses that are transient whatever the body says. */
  retryableStatuses: readonly number[];
  /** Statuses transient only with one of these Huawei codes (a 501 is permanent unless its code is Ecs.0603, "other commands running"). */
  retryableStatusCodes: Readonly<Record<number, readonly string[]>>;
  /** Huawei codes that are transient whatever the status (except `neverRetryStatuses`). */
  retryableHuaweiCodes: readonly string[];
  /**
   * Network failure codes (Node `err.code`, or our `TIMEOUT`); an entry ending in `*` is a prefix
   * (`UND_ERR_*`).
   */
  retryableNetworkCodes: readonly string[];
  /** Never retried, whatever the code: resending a bad signature counts towards Huawei's AK lock-out. */
  neverRetryStatuses: readonly number[];
  /** Minimum wait before retrying a given Huawei code (Huawei: "other commands running", retry about a minute later). */
  minDelayMsByCode: Readonly<Record<string, number>>;
  /**
   * The longest `Retry-After` the client waits for in-process. A longer one ends the retries (the
   * error carries `retryAfterMs` so the queue layer can reschedule the job instead of holding a worker).
   */
  maxRetryAfterMs: number;
}

/**
 * The policy used unless the caller passes another. 5 attempts, 0.5 s base, 20 s cap: at most about
 * 0.5 + 1 + 2 + 4 s of backoff on throttling, far inside a BullMQ job's lock. 401 APIGW.0307 (token
 * expired) is NOT retried here: the same token would fail again; refreshing it is the caller's job
 * (the client takes a token, it does not fetch one).
 */
export const DEFAULT_ECS_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  retryableStatuses: Object.freeze([429, 500, 502, 503, 504]),
  retryableStatusCodes: Object.freeze({ 501: Object.freeze([HuaweiCode.otherCommandsRunning]) }),
  retryableHuaweiCodes: Object.freeze([HuaweiCode.throttled, HuaweiCode.serviceBusy, HuaweiCode.otherCommandsRunning, 'Common.0001', 'Ecs.0615', 'APIGW.0201']),
  retryableNetworkCodes: Object.freeze([
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ENETUNREACH',
    'EHOSTUNREACH',
    'ECONNABORTED',
    'TIMEOUT',
    'UND_ERR_*',
  ]),
  neverRetryStatuses: Object.freeze([401, 403]),
  minDelayMsByCode: Object.freeze({ [HuaweiCode.otherCommandsRunning]: 60_000 }),
  maxRetryAfterMs: 120_000,
});

/** What went wrong in one attempt, as the policy needs to see it. */
export type AttemptFailure =
  | { kind: 'http'; status: number; code: string | undefined; retryAfterMs: number | undefined }
  | { kind: 'network'; code: string };

/**
 * Network failures that happen before a request can have reached Huawei: no connection was made
 * (refused, no route, name not resolved), so nothing was sent. Any other network failure (a reset,
 * a timeout, a broken pipe) may come after Huawei received the request and acted on it.
 */
const NOT_SENT_NETWORK_CODES: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'];

/**
 * Whether Huawei may have carried out the request of a failed attempt: a 5xx (Huawei's
 * "after-processing" failures: the reset applied, the answer lost) or a network failure other than
 * one before any connection. A 4xx, throttling included, is Huawei saying it did not. A resend of a
 * reset after such an attempt can be refused *because* the first one was applied (the server is
 * now locked or busy), so that refusal is no longer a definite answer about the password
 * (batch-reset-classification.ts).
 */
export function mayHaveBeenProcessed(failure: AttemptFailure): boolean {
  if (failure.kind === 'network') return !NOT_SENT_NETWORK_CODES.includes(failure.code);
  return failure.status >= 500;
}

/** Whether this failure is transient under the policy (ignores the attempt count). */
export function isRetryableFailure(policy: RetryPolicy, failure: AttemptFailure): boolean {
  if (failure.kind === 'network') return policy.retryableNetworkCodes.some((c) => matchesCode(c, failure.code));
  if (policy.neverRetryStatuses.includes(failure.status)) return false;
  if (policy.retryableStatuses.includes(failure.status)) return true;
  if (failure.code !== undefined) {
    if (policy.retryableStatusCodes[failure.status]?.includes(failure.code)) return true;
    if (policy.retryableHuaweiCodes.includes(failure.code)) return true;
  }
  return false;
}

/**
 * Milliseconds to wait before attempt `attempt + 1`, or undefined when the failure is final: not
 * transient, attempts used up, or a `Retry-After` longer than the policy waits for.
 * `attempt` is the 1-based number of the attempt that just failed.
 */
export function retryDelay(
  policy: RetryPolicy,
  failure: AttemptFailure,
  attempt: number,
  random: RandomSource,
): number | undefined {
  if (attempt >= policy.maxAttempts || !isRetryableFailure(policy, failure)) return undefined;
  const floor = failure.kind === 'http' && failure.code !== undefined ? (policy.minDelayMsByCode[failure.code] ?? 0) : 0;
  if (failure.kind === 'http' && failure.retryAfterMs !== undefined) {
    // The server said when: wait exactly that (no jitter on top), a date in the past meaning now.
    const asked = Math.max(failure.retryAfterMs, 0);
    if (asked > policy.maxRetryAfterMs) return undefined;
    return Math.max(asked, floor);
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = ceiling <= 0 ? 0 : random.int(Math.floor(ceiling) + 1);
  return Math.max(jittered, floor);
}

/**
 * `Retry-After` as milliseconds from `nowMs`: delta-seconds or an HTTP date. Undefined when absent or
 * unparseable (then the policy backs off with jitter).
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names a weekday and month; without letters Date.parse reads "-3" as a year.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(date - nowMs, 0);
}

function matchesCode(pattern: string, code: string): boolean {
  return pattern.endsWith('*') ? code.startsWith(pattern.slice(0, -1)) : pattern === code;
}
