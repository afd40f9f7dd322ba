/**
 * How an error thrown by a use case becomes a BullMQ outcome. Control flow through error types, as
 * BullMQ intends: `UnrecoverableError` skips the remaining attempts; a rate-limit error returns the
 * job to the queue without spending an attempt; anything else spends one attempt and backs off.
 */
import { UnrecoverableError } from 'bullmq';
import { isThrottleCode } from '../domain/error-codes.js';
import { isRotatorError } from '../domain/rotator-error.js';

export type JobFailure =
  /** Another attempt cannot succeed (auth/permission, a bug in the request, bad payload). */
  | { kind: 'unrecoverable'; error: UnrecoverableError }
  /** The remote side throttles: pause the whole queue for `delayMs`, keep the attempt. */
  | { kind: 'throttled'; delayMs: number; code: string }
  /** Transient: spend an attempt, BullMQ backs off exponentially. */
  | { kind: 'retry'; error: unknown };

/** Options of {@link classifyJobFailure}. */
export interface JobFailureOptions {
  /** Pause used when a throttling error carries no `Retry-After`. @defaultValue 5000 */
  throttleFallbackMs?: number;
  /** Upper bound on any pause, so a bogus `Retry-After` cannot stall the queue for hours. @defaultValue 300000 */
  maxThrottleMs?: number;
}


export function classifyJobFailure(error: unknown, options: JobFailureOptions = {}): JobFailure {
  if (error instanceof UnrecoverableError) return { kind: 'unrecoverable', error };
  if (!isRotatorError(error)) return { kind: 'retry', error };
  if (!error.retryable) {
    // The RotatorError contract keeps passwords out of code and message, so the reason may show
    // on the dashboard.
    return { kind: 'unrecoverable', error: new UnrecoverableError(`${error.code}: ${error.message}`) };
  }
  const throttled = isThrottleCode(error.code) || error.httpStatus === 429;
  if (throttled || error.retryAfterMs !== undefined) {
    const fallback = options.throttleFallbackMs ?? 5000;
    const max = options.maxThrottleMs ?? 300_000;
    const delayMs = Math.min(Math.max(error.retryAfterMs ?? fallback, 1), max);
    return { kind: 'throttled', delayMs, code: error.code };
  }
  return { kind: 'retry', error };
}
