/**
 * How a failure inside a batch is handled: whether it stops the whole batch, or settles one server
 * with its code. Codes come from the catalogue (src/domain/error-codes.ts).
 */
import { ServiceErrorCode, isThrottleCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { ServerWork } from './server-work.js';

/**
 * Whether an ECS failure must stop the batch rather than settle one server: authentication and
 * permission (401/403; retrying feeds Huawei's AK lock-out), and throttling (the queue pauses and
 * retries the job later). Anything that is not a RotatorError is a bug and stops it too.
 */
export function mustStopBatch(error: unknown): boolean {
  if (!(error instanceof RotatorError)) return true;
  if (error.httpStatus === 401 || error.httpStatus === 403 || error.httpStatus === 429) return true;
  return isThrottleCode(error.code);
}

/** The code an outcome records for `error`. */
export function errorCode(error: unknown): string {
  return error instanceof RotatorError ? error.code : ServiceErrorCode.internal;
}

/** True when reset calls were made and every answer was throttling: nothing progressed. */
export function allThrottled(works: readonly ServerWork[]): boolean {
  const sent = works.filter((w) => w.reset !== undefined);
  return sent.length > 0 && sent.every((w) => w.reset?.kind === 'unknown' && isThrottleCode(w.reset.code));
}
