import { VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';

export function vaultError(code: string, message: string, retryable = false, cause?: unknown): RotatorError {
  return new RotatorError({ code, message, retryable, cause });
}

/** File-system error codes that may pass on their own (another attempt may succeed). */
const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ENOSPC', 'EINTR', 'ETIMEDOUT', 'EIO']);

/**
 * Wraps a file-system failure. The cause is reduced to its code and syscall: Node's fs errors
 * carry paths only, but we never forward an arbitrary object into an error chain that may be logged.
 */
export function ioError(action: string, path: string, error: unknown): RotatorError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
  return new RotatorError({
    code: VaultErrorCode.io,
    message: `file vault: ${action} ${path} failed (${code})`,
    retryable: TRANSIENT_FS_CODES.has(code),
  });
}
