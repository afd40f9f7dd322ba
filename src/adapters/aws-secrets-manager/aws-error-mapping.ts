import { VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError, isRotatorError } from '../../domain/rotator-error.js';

/**
 * Translates AWS SDK failures into `RotatorError`s with stable codes. The rules are data:
 * exception names (and HTTP statuses) to a code and whether another attempt may succeed.
 * Operation-specific meanings (ResourceExistsException on PutSecretValue is a reused token, …)
 * are decided by the vault before it falls back to this table.
 */

const BY_NAME: Record<string, { code: string; retryable: boolean }> = {
  ThrottlingException: { code: VaultErrorCode.throttled, retryable: true },
  TooManyRequestsException: { code: VaultErrorCode.throttled, retryable: true },
  Throttling: { code: VaultErrorCode.throttled, retryable: true },
  RequestLimitExceeded: { code: VaultErrorCode.throttled, retryable: true },
  InternalServiceError: { code: VaultErrorCode.unavailable, retryable: true },
  InternalFailure: { code: VaultErrorCode.unavailable, retryable: true },
  ServiceUnavailable: { code: VaultErrorCode.unavailable, retryable: true },
  TimeoutError: { code: VaultErrorCode.unavailable, retryable: true },
  RequestTimeout: { code: VaultErrorCode.unavailable, retryable: true },
  RequestTimeoutException: { code: VaultErrorCode.unavailable, retryable: true },
  AccessDeniedException: { code: VaultErrorCode.accessDenied, retryable: false },
  UnrecognizedClientException: { code: VaultErrorCode.accessDenied, retryable: false },
  InvalidSignatureException: { code: VaultErrorCode.accessDenied, retryable: false },
  IncompleteSignature: { code: VaultErrorCode.accessDenied, retryable: false },
  MissingAuthenticationToken: { code: VaultErrorCode.accessDenied, retryable: false },
  InvalidClientTokenId: { code: VaultErrorCode.accessDenied, retryable: false },
  ExpiredTokenException: { code: VaultErrorCode.accessDenied, retryable: false },
  CredentialsProviderError: { code: VaultErrorCode.accessDenied, retryable: false },
  ResourceNotFoundException: { code: VaultErrorCode.secretNotFound, retryable: false },
  DecryptionFailure: { code: VaultErrorCode.kms, retryable: false },
  EncryptionFailure: { code: VaultErrorCode.kms, retryable: false },
  // Secrets Manager uses it for quotas such as versions per secret, not for request rates.
  LimitExceededException: { code: VaultErrorCode.limitExceeded, retryable: false },
};

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export interface ErrorContext {
  operation: string;
  secretName: string;
  versionId?: string | undefined;
  /** Strings that must not appear in the message (the value being written, its password). */
  secrets?: readonly string[] | undefined;
}

/** The SDK exception's name (e.g. `ResourceExistsException`), or undefined for a non-SDK error. */
export function awsErrorName(error: unknown): string | undefined {
  const name = (error as SdkErrorShape | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** Replaces every occurrence of a secret (raw or JSON-escaped) with a marker. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) out = out.split(form).join('[REDACTED]');
  }
  return out;
}

function where(context: ErrorContext): string {
  return `secrets manager ${context.operation} on ${context.secretName}${context.versionId ? ` version ${context.versionId}` : ''}`;
}

/** A RotatorError built from our own decision (no SDK message attached). */
export function vaultError(code: string, context: ErrorContext, detail: string, retryable = false, from?: unknown): RotatorError {
  const meta = (from as SdkErrorShape | undefined)?.$metadata;
  return new RotatorError({
    code,
    message: scrub(`${where(context)}: ${detail}`, context.secrets),
    retryable,
    httpStatus: meta?.httpStatusCode,
    requestId: meta?.requestId,
  });
}

/**
 * The general mapping. The SDK error is not kept as `cause`: it may carry the raw response, and
 * an error chain ends up in logs. What it says is reduced to its name, status, request id and
 * its message with every known secret removed.
 */
export function toVaultError(error: unknown, context: ErrorContext): RotatorError {
  if (isRotatorError(error)) return error;
  const sdk = (error ?? {}) as SdkErrorShape;
  const name = awsErrorName(error) ?? 'Error';
  const status = sdk.$metadata?.httpStatusCode;
  const networkCode = typeof sdk.code === 'string' && NETWORK_CODES.has(sdk.code) ? sdk.code : undefined;
  let rule = BY_NAME[name];
  if (!rule) {
    if (status === 429) rule = { code: VaultErrorCode.throttled, retryable: true };
    else if (status !== undefined && status >= 500) rule = { code: VaultErrorCode.unavailable, retryable: true };
    else if (networkCode !== undefined) rule = { code: VaultErrorCode.unavailable, retryable: true };
    else rule = { code: VaultErrorCode.requestFailed, retryable: false };
  }
  // Scrubbed before it is cut: a secret that straddled the cut would keep its first part otherwise
  // (vaultError scrubs the whole message again, which is then harmless).
  const rawMessage = typeof sdk.message === 'string' ? scrub(sdk.message, context.secrets).slice(0, 300) : '';
  const detail = [name, status !== undefined ? `HTTP ${status}` : undefined, networkCode].filter(Boolean).join(', ');
  return vaultError(rule.code, context, `${detail}${rawMessage ? `: ${rawMessage}` : ''}`, rule.retryable, error);
}
