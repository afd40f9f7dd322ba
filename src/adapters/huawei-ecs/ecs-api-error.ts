import { RotatorError, type RotatorErrorOptions } from '../../domain/rotator-error.js';

/** One entry of a batch response's `internalError` list. */
export interface EcsInternalError {
  serverId: string;
  code: string;
  message: string;
}

export interface EcsApiErrorOptions extends RotatorErrorOptions {
  /**
   * Huawei's code (`Ecs.0011`, `APIGW.0308`, …) when the answer carried one, else one of ours:
   * `BAD_RESPONSE` (unparseable or malformed answer), `TIMEOUT`, a network code such as `ECONNRESET`,
   * `HTTP_<status>` (an error status without a recognisable body), `BATCH_EMPTY`, `BATCH_TOO_LARGE`,
   * `INVALID_ARGUMENT`, `JOB_DEADLINE`, `ABORTED`.
   */
  code: string;
  /** Built from statuses, codes, ids and Huawei's (scrubbed) message only: never a request body. */
  message: string;
  /** The code as Huawei sent it; undefined when `code` is one of ours (no parseable answer). */
  huaweiCode?: string | undefined;
  /** Huawei's own message, scrubbed of the request's password and truncated. */
  huaweiMessage?: string | undefined;
  /** The API operation, e.g. `batchResetPasswords`. */
  operation?: string | undefined;
  /** How many attempts were made before this error was final (1 when it was not retried). */
  attempts?: number | undefined;
  /** Per-server failures from `internalError`, when the answer listed any. */
  internalErrors?: readonly EcsInternalError[] | undefined;
  /** `error.details[]` of job-style APIs. */
  details?: readonly { code: string; message: string }[] | undefined;
  /**
   * Only ever a Node network error (ECONNRESET, …) or another EcsApiError: such causes carry codes
   * and addresses, never the request's headers or body.
   */
  cause?: unknown;
}

/**
 * A failed call to the Huawei ECS API. Unlike the official SDK's errors, it carries the per-server
 * `internalError` list, the request id, and whether (and when) to retry; and it never carries the
 * request (whose body may hold `new_password` and whose headers hold the signature or token).
 */
export class EcsApiError extends RotatorError {
  readonly huaweiCode: string | undefined;
  readonly huaweiMessage: string | undefined;
  readonly operation: string | undefined;
  readonly attempts: number;
  readonly internalErrors: readonly EcsInternalError[];
  readonly details: readonly { code: string; message: string }[];

  constructor(options: EcsApiErrorOptions) {
    super(options);
    this.name = 'EcsApiError';
    this.huaweiCode = options.huaweiCode;
    this.huaweiMessage = options.huaweiMessage;
    this.operation = options.operation;
    this.attempts = options.attempts ?? 1;
    this.internalErrors = options.internalErrors ?? [];
    this.details = options.details ?? [];
  }

  /** The same failure, recording how many attempts were spent (the retry loop knows, the parser does not). */
  withAttempts(attempts: number): EcsApiError {
    return new EcsApiError({
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      httpStatus: this.httpStatus,
      requestId: this.requestId,
      huaweiCode: this.huaweiCode,
      huaweiMessage: this.huaweiMessage,
      operation: this.operation,
      attempts,
      internalErrors: this.internalErrors,
      details: this.details,
      cause: this.cause,
    });
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      huaweiCode: this.huaweiCode,
      huaweiMessage: this.huaweiMessage,
      operation: this.operation,
      attempts: this.attempts,
      internalErrors: this.internalErrors,
      details: this.details,
    };
  }
}

export function isEcsApiError(error: unknown): error is EcsApiError {
  return error instanceof EcsApiError;
}
