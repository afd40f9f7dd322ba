/**
 * One notification delivery over HTTP(S): POST, retried with exponential backoff and full jitter on
 * network errors, timeouts, 408, 429 (honouring Retry-After) and 5xx; any other answer is final.
 * The retry rules are data ({@link DeliveryPolicy}); the clock and randomness are injected.
 * Errors name the status or the network error code, never the URL (a Slack URL is a secret).
 */
import type { Clock } from '../ports/clock.js';
import type { RandomSource } from '../ports/random-source.js';
import type { WireRequest } from './channel-formats.js';

export interface DeliveryPolicy {
  /** @defaultValue 5 */
  maxAttempts: number;
  /** Per attempt. @defaultValue 10000 */
  timeoutMs: number;
  /** First backoff ceiling; doubles per attempt. @defaultValue 1000 */
  baseDelayMs: number;
  /** Largest wait between attempts, Retry-After included. @defaultValue 60000 */
  maxDelayMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { maxAttempts: 5, timeoutMs: 10_000, baseDelayMs: 1000, maxDelayMs: 60_000 };

export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
  /** HTTP status of the last answer, if any. */
  status: number | undefined;
  /** Why the last attempt failed (status or error code). */
  error: string | undefined;
}

const RETRY_STATUSES = new Set([408, 425, 429]);

export async function deliver(
  url: string,
  request: WireRequest,
  policy: DeliveryPolicy,
  deps: { clock: Clock; random: RandomSource; signal?: AbortSignal | undefined },
): Promise<DeliveryResult> {
  let last: DeliveryResult = { delivered: false, attempts: 0, status: undefined, error: undefined };
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let retryAfterMs: number | undefined;
    let retry: boolean;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'error',
        signal: deps.signal ? AbortSignal.any([deps.signal, AbortSignal.timeout(policy.timeoutMs)]) : AbortSignal.timeout(policy.timeoutMs),
      });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, status: response.status, error: undefined };
      retry = response.status >= 500 || RETRY_STATUSES.has(response.status);
      const header = Number(response.headers.get('retry-after'));
      if (Number.isFinite(header) && header >= 0) retryAfterMs = header * 1000;
      last = { delivered: false, attempts: attempt, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      if (deps.signal?.aborted) return { ...last, attempts: attempt, error: 'cancelled' };
      const e = error as { name?: string; cause?: { code?: string } };
      const code = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name ?? 'network error');
      last = { delivered: false, attempts: attempt, status: undefined, error: String(code) };
      retry = true;
    }
    if (!retry || attempt === policy.maxAttempts) break;
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    const jittered = deps.random.int(Math.max(1, Math.floor(ceiling)) + 1);
    await deps.clock.sleep(Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)), deps.signal);
  }
  return last;
}
