/**
 * The one error type every adapter translates its failures into.
 *
 * `code` is stable and machine-readable (a Huawei code such as `Ecs.0011`, an AWS exception name,
 * or one of ours such as `VAULT_TOKEN_REUSED`); `retryable` tells the queue layer whether another
 * attempt may succeed. The message must never contain a password: adapters build it from codes,
 * statuses and ids only, and `toJSON` exposes nothing else.
 */
export interface RotatorErrorOptions {
  code: string;
  message: string;
  retryable: boolean;
  /** Delay the remote side asked for (e.g. `Retry-After`), in milliseconds. */
  retryAfterMs?: number | undefined;
  httpStatus?: number | undefined;
  requestId?: string | undefined;
  cause?: unknown;
}

export class RotatorError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;

  constructor(options: RotatorErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RotatorError';
    this.code = options.code;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.httpStatus = options.httpStatus;
    this.requestId = options.requestId;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      httpStatus: this.httpStatus,
      requestId: this.requestId,
    };
  }
}

export function isRotatorError(error: unknown): error is RotatorError {
  return error instanceof RotatorError;
}
