import { EcsClientErrorCode } from '../../domain/error-codes.js';
import type { ServerResetResult } from '../../ports/ecs-api.js';
import type { EcsApiError, EcsInternalError } from './ecs-api-error.js';

/**
 * How the answer to a batch reset maps onto each requested server. The guiding hazard: a server
 * wrongly called `rejected` has its pending password dropped while that password may be in effect
 * (a lock-out), so `rejected` needs a definite statement from Huawei about that server or about
 * the whole call; everything in between is `unknown` (the next attempt resends the same password).
 */
export type BatchResetAnswer =
  /** A 2xx answer with a valid `response` list (and possibly an `internalError` list). */
  | { kind: 'answered'; acceptedIds: readonly string[]; internalErrors: readonly EcsInternalError[]; requestId: string | undefined }
  /** The final error after retries (or a non-retryable one). */
  | { kind: 'failed'; error: EcsApiError };

/** Codes that summarise per-server failures ("reset failed", "batch operation failed"): they say nothing definite about servers not listed. */
export const PER_SERVER_SUMMARY_CODES: readonly string[] = ['Ecs.0610', 'Ecs.0611'];

/** Request errors no single server can cause: the run must stop (a bug or a bad config), not mark servers failed. */
export const REQUEST_ERROR_CODES: readonly string[] = ['Ecs.0118', 'Ecs.0005', 'Ecs.0000', 'Common.0002'];

/**
 * Whether `batchResetPasswords` must throw instead of classifying: authentication/permission
 * failures (401/403: stop and alert; retrying feeds Huawei's AK lock-out), request errors that no
 * server causes, and non-transient gateway refusals (`APIGW.*` other than throttling: routing or
 * auth problems of the whole account). A per-server list, if present, wins over the request error.
 */
export function mustStopRun(error: EcsApiError): boolean {
  if (error.httpStatus === 401 || error.httpStatus === 403) return true;
  // The credentials could not even be read: nothing was sent, and nothing will be until fixed.
  if (error.code === EcsClientErrorCode.credentialsUnavailable) return true;
  if (error.internalErrors.length > 0) return false;
  const code = error.huaweiCode;
  if (code === undefined) return false;
  if (REQUEST_ERROR_CODES.includes(code)) return true;
  return code.startsWith('APIGW.') && !error.retryable && error.httpStatus !== undefined && error.httpStatus < 500;
}

/**
 * One result per requested id, in request order. Rules (call `mustStopRun` first; this never throws):
 * 1. Answered (2xx): id in `response` → accepted; id in `internalError` → rejected with its code;
 *    listed in both (contradiction) or in neither → unknown (`NOT_IN_RESPONSE`): Huawei does not
 *    document partial success, so silence is not a refusal.
 * 2. Failed with an `internalError` list: listed → rejected with their own code; others → unknown with
 *    the call's code (a 400 `Ecs.0611` partial failure may have accepted them).
 * 3. Failed, transient (retries exhausted), network, timeout, unreadable answer, or any 5xx → unknown
 *    with the last code: the request may have been processed.
 * 4. Failed with a per-server summary code (`Ecs.0610`/`Ecs.0611`) but no list → unknown.
 * 5. Failed with a 4xx and a Huawei code (e.g. `Ecs.0011` password rules, `Ecs.0100` status) → every
 *    server rejected with that code: Huawei refused the call as a whole.
 * 6. When an earlier attempt of the same call may have been carried out (`earlierAttemptMayHaveBeenProcessed`:
 *    a 5xx or a lost answer, then a resend), every refusal of rules 1, 2 and 5 is unknown instead
 *    (`REFUSED_AFTER_UNCERTAIN_ATTEMPT`, with Huawei's code in the message): the resend may be refused
 *    *because* the first attempt was applied (the server now locked, busy or in another state), and
 *    dropping the pending password would then lose the one in effect. The next run resends it.
 */
export function classifyBatchReset(
  serverIds: readonly string[],
  answer: BatchResetAnswer,
  options: { earlierAttemptMayHaveBeenProcessed?: boolean } = {},
): ServerResetResult[] {
  const results = classifyAnswer(serverIds, answer);
  if (options.earlierAttemptMayHaveBeenProcessed !== true) return results;
  return results.map((r): ServerResetResult =>
    r.kind === 'rejected'
      ? {
          serverId: r.serverId,
          kind: 'unknown',
          code: EcsClientErrorCode.refusedAfterUncertainAttempt,
          message: `refused with ${r.code} (${r.message}) on a resend, after an earlier attempt that Huawei may have carried out`,
        }
      : r,
  );
}

function classifyAnswer(serverIds: readonly string[], answer: BatchResetAnswer): ServerResetResult[] {
  if (answer.kind === 'answered') {
    const accepted = new Set(answer.acceptedIds);
    const rejected = new Map(answer.internalErrors.map((e) => [e.serverId, e] as const));
    return serverIds.map((serverId): ServerResetResult => {
      const refusal = rejected.get(serverId);
      if (accepted.has(serverId) && refusal) {
        return { serverId, kind: 'unknown', code: EcsClientErrorCode.contradictoryAnswer, message: 'listed both as accepted and in internalError' };
      }
      if (accepted.has(serverId)) return { serverId, kind: 'accepted' };
      if (refusal) return { serverId, kind: 'rejected', code: refusal.code, message: refusal.message };
      return { serverId, kind: 'unknown', code: EcsClientErrorCode.notInResponse, message: 'not listed in the answer of an accepted call' };
    });
  }

  const { error } = answer;
  const summary = `${error.code}${error.httpStatus !== undefined ? ` (HTTP ${error.httpStatus})` : ''}`;
  if (error.internalErrors.length > 0) {
    const rejected = new Map(error.internalErrors.map((e) => [e.serverId, e] as const));
    return serverIds.map((serverId): ServerResetResult => {
      const refusal = rejected.get(serverId);
      if (refusal) return { serverId, kind: 'rejected', code: refusal.code, message: refusal.message };
      return { serverId, kind: 'unknown', code: error.code, message: `not listed in internalError of a partial failure ${summary}` };
    });
  }
  const status = error.httpStatus;
  const definite =
    error.huaweiCode !== undefined &&
    !error.retryable &&
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    !PER_SERVER_SUMMARY_CODES.includes(error.huaweiCode);
  const message = error.huaweiMessage ?? error.message;
  return serverIds.map(
    (serverId): ServerResetResult =>
      definite
        ? { serverId, kind: 'rejected', code: error.code, message }
        : { serverId, kind: 'unknown', code: error.code, message: `no definite answer: ${summary}` },
  );
}
