import { RotatorError } from '../../domain/rotator-error.js';

/**
 * Stable error codes of the vault port and of the file vault. Messages name secrets, versions,
 * labels and paths only: never a value.
 */
export const VaultErrorCode = {
  /** Port: the secret does not exist (call ensureSecret first). */
  secretNotFound: 'VAULT_SECRET_NOT_FOUND',
  /** Port: the version id is unknown. */
  versionNotFound: 'VAULT_VERSION_NOT_FOUND',
  /** Port: a token was reused with another value (a bug in the caller). */
  tokenReused: 'VAULT_TOKEN_REUSED',
  /** Port: promote's compare-and-swap lost (AWSCURRENT is not on the expected version). */
  currentChanged: 'VAULT_CURRENT_CHANGED',
  /** A request the vault refuses whatever its state (bad token, label, …). */
  invalidRequest: 'VAULT_INVALID_REQUEST',
  /** File vault: the key does not decrypt the file, or the file was altered/truncated. */
  wrongKeyOrCorrupt: 'VAULT_WRONG_KEY_OR_CORRUPT',
  /** File vault: another process held the lock for longer than lockTimeoutMs. */
  lockTimeout: 'VAULT_LOCK_TIMEOUT',
  /** File vault: the key is missing, malformed or the wrong length. */
  invalidKey: 'VAULT_INVALID_KEY',
  /** File vault: a file-system call failed. */
  io: 'VAULT_IO_ERROR',
  /** The vault was closed. */
  closed: 'VAULT_CLOSED',
} as const;

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
