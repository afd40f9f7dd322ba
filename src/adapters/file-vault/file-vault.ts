/**
 * The encrypted file vault: the embedded default `Vault` (see src/ports/vault.ts), for one host.
 *
 * One file holds every secret, sealed with AES-256-GCM (vault-file-format.ts). Every mutation:
 * take the lock file, re-read the vault (another process may have written), apply, write
 * atomically (temp + fsync + rename + fsync dir), release. A SIGKILL at any instant leaves a vault
 * that opens and holds every acknowledged write. Several processes on one host may share a vault.
 *
 * Group commit: mutations that arrive while a commit is in progress are queued and applied
 * together in the next one (one lock, one read, one write), so a batch of 100 putPending calls
 * costs a few file writes, not 100. Each queued operation still succeeds or fails on its own:
 * vault-document.ts validates before it mutates, and an operation is acknowledged only after the
 * write that holds it is durable.
 *
 * Reads take no lock: the rename makes every read see one complete committed file. The last
 * decrypted document is cached and reused while the file's bytes are identical to the ones it
 * was parsed from (JSON parsing, not reading or decrypting, is what costs).
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.js';
import type {
  SecretDescription,
  SecretKey,
  SecretPayload,
  SecretVersion,
  Vault,
  VersionSelector,
} from '../../ports/vault.js';
import { removeOrphanTempFiles, writeFileAtomic } from './atomic-write.js';
import { acquireFileLock, type HeldLock } from './file-lock.js';
import * as documents from './vault-document.js';
import type { VaultDocument } from './vault-document.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { ioError, vaultError } from './vault-errors.js';
import { deriveVaultKey, keyIdHex, openDocument, sealDocument } from './vault-file-format.js';

export interface FileVaultOptions {
  /** The vault file. Its directory is created (mode 0700) if missing; the file (mode 0600) on the first write. */
  path: string;
  /** 32 bytes (see `resolveVaultKey`). */
  key: Buffer;
  /**
   * How long a mutation waits for the lock held by another process before failing with
   * `VAULT_LOCK_TIMEOUT` (retryable).
   * @defaultValue 10000
   */
  lockTimeoutMs?: number;
  clock: Clock;
  logger: Logger;
}

export interface FileVault extends Vault {
  /** The vault file's path. */
  readonly path: string;
  /** A one-way identifier of the key (hex), safe to log. */
  readonly keyId: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/**
 * Largest vault file read: about a million servers' secrets with their kept versions. A bigger file
 * is not one this service wrote (a wrong path), and reading it whole would exhaust memory.
 */
export const MAX_VAULT_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

type Mutation = (doc: VaultDocument, now: number) => boolean;

interface QueuedMutation {
  apply: Mutation;
  resolve(): void;
  reject(error: unknown): void;
}

interface CachedDocument {
  bytes: Buffer;
  doc: VaultDocument;
}

/**
 * Opens (or prepares to create) a file vault. Fails fast with `VAULT_WRONG_KEY_OR_CORRUPT` when the
 * existing file does not decrypt with `key`, and never writes to such a file.
 */
export async function openFileVault(options: FileVaultOptions): Promise<FileVault> {
  const { path, clock } = options;
  const logger = options.logger;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: lockTimeoutMs must be a non-negative number, found ${lockTimeoutMs}`);
  }
  const key = deriveVaultKey(options.key);
  const lockPath = `${path}.lock`;

  let cache: CachedDocument | undefined;
  /** Incremented by every commit of this process (see `read`). */
  let commitGeneration = 0;
  let inflightRead: { generation: number; promise: Promise<VaultDocument> } | undefined;
  const queue: QueuedMutation[] = [];
  let draining: Promise<void> | undefined;
  let closed = false;

  const lock = (): Promise<HeldLock> => acquireFileLock({ path: lockPath, timeoutMs: lockTimeoutMs, clock, logger });

  /** The committed document; `forUpdate` returns a private copy the caller may mutate. */
  async function readCommitted(forUpdate: boolean): Promise<VaultDocument> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        cache = undefined;
        return documents.emptyDocument();
      }
      throw ioError('opening', path, error);
    }
    try {
      // The handle pins one inode: a concurrent rename cannot mix two versions into what we read.
      const { size } = await handle.stat();
      if (size > MAX_VAULT_FILE_BYTES) {
        throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${path} is larger than ${MAX_VAULT_FILE_BYTES} bytes; not a vault file of this service`);
      }
      const bytes = Buffer.alloc(size);
      await readFully(handle, bytes, 0);
      // Reuse the parsed document only when the file is byte-for-byte the one it came from: any
      // other change (even bit rot past the header) must go through authentication again.
      if (cache !== undefined && cache.bytes.equals(bytes)) {
        return forUpdate ? structuredClone(cache.doc) : cache.doc;
      }
      const doc = documents.parseDocument(openDocument(bytes, key, path), path);
      cache = { bytes, doc };
      return forUpdate ? structuredClone(doc) : doc;
    } catch (error) {
      if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('VAULT_')) throw error;
      throw ioError('reading', path, error);
    } finally {
      await handle.close();
    }
  }

  async function persist(doc: VaultDocument): Promise<void> {
    const sealed = sealDocument(JSON.stringify(doc), key);
    try {
      await writeFileAtomic(path, sealed, 0o600);
    } catch (error) {
      cache = undefined;
      throw error;
    } finally {
      commitGeneration += 1;
    }
    cache = { bytes: sealed, doc };
  }

  async function commit(batch: QueuedMutation[]): Promise<void> {
    let held: HeldLock;
    try {
      held = await lock();
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    // Outcomes are settled only after the lock is released, so that a caller who got its answer
    // never races our own release (e.g. a process that exits right after its last write).
    const outcomes = new Map<QueuedMutation, { error: unknown } | undefined>();
    try {
      const doc = await readCommitted(true);
      const now = clock.now();
      let changed = false;
      for (const op of batch) {
        try {
          if (op.apply(doc, now)) changed = true;
          outcomes.set(op, undefined);
        } catch (error) {
          outcomes.set(op, { error });
        }
      }
      if (changed) await persist(doc);
      if (changed) logger.debug({ vault: path, operations: batch.length }, 'file vault: committed');
    } catch (error) {
      // Nothing of this batch is durable: operations that failed on their own keep their error.
      for (const op of batch) if (outcomes.get(op) === undefined) outcomes.set(op, { error });
    } finally {
      await held.release().catch((error: unknown) => {
        logger.error({ lock: lockPath, err: error }, 'file vault: could not release the lock');
      });
    }
    for (const op of batch) {
      const outcome = outcomes.get(op);
      if (outcome === undefined) op.resolve();
      else op.reject(outcome.error);
    }
  }

  function drain(): Promise<void> {
    draining ??= (async () => {
      try {
        while (queue.length > 0) await commit(queue.splice(0));
      } finally {
        // Reset synchronously at the loop's end, so that a mutation queued from now on starts a new drain.
        draining = undefined;
      }
    })();
    return draining;
  }

  function mutate(apply: Mutation): Promise<void> {
    if (closed) return Promise.reject(vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`));
    return new Promise<void>((resolve, reject) => {
      queue.push({ apply, resolve, reject });
      void drain();
    });
  }

  /**
   * Concurrent reads share one file read (a batch of 1000 lookups must not hold 1000 copies of a
   * large vault in memory). A read may join one already in flight only if no commit of this
   * process completed since it started, so a caller always sees its own acknowledged writes.
   */
  function read(): Promise<VaultDocument> {
    if (closed) return Promise.reject(vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`));
    if (inflightRead !== undefined && inflightRead.generation === commitGeneration) return inflightRead.promise;
    const entry = {
      generation: commitGeneration,
      promise: readCommitted(false).finally(() => {
        if (inflightRead === entry) inflightRead = undefined;
      }),
    };
    inflightRead = entry;
    return entry.promise;
  }

  // Start-up: create the directory, prove the key opens the existing file, clear temp files left
  // by writers that were killed mid-write.
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError('creating the directory of', path, error);
  }
  const initial = await readCommitted(false);
  const held = await lock();
  try {
    const removed = await removeOrphanTempFiles(path);
    if (removed > 0) logger.info({ vault: path, removed }, 'file vault: removed temp files of interrupted writes');
  } finally {
    await held.release();
  }
  // Field names avoid "secret": the logger scrubs any such key (see src/observability/logger.ts).
  logger.debug({ vault: path, keyId: keyIdHex(key), servers: Object.keys(initial.secrets).length }, 'file vault: opened');

  const vault: FileVault = {
    path,
    keyId: keyIdHex(key),

    async ensureSecret(secretKey: SecretKey): Promise<void> {
      // Fast path: a secret already in the committed file is durable; no lock, no write.
      const doc = await read();
      if (documents.describe(doc, secretKey) !== undefined) return;
      await mutate((d, now) => documents.ensureSecret(d, secretKey, now));
    },

    putPending(secretKey: SecretKey, token: string, value: SecretPayload): Promise<void> {
      return mutate((d, now) => documents.putPending(d, secretKey, token, value, now));
    },

    async getVersion(secretKey: SecretKey, selector: VersionSelector): Promise<SecretVersion | undefined> {
      return documents.getVersion(await read(), secretKey, selector);
    },

    async describe(secretKey: SecretKey): Promise<SecretDescription | undefined> {
      return documents.describe(await read(), secretKey);
    },

    promote(secretKey: SecretKey, versionId: string, expectedCurrent: string | undefined): Promise<void> {
      return mutate((d, now) => documents.promote(d, secretKey, versionId, expectedCurrent, now));
    },

    removeLabel(secretKey: SecretKey, label: string, versionId: string): Promise<void> {
      return mutate((d, now) => documents.removeLabel(d, secretKey, label, versionId, now));
    },

    moveLabel(secretKey: SecretKey, label: string, versionId: string): Promise<void> {
      return mutate((d, now) => documents.moveLabel(d, secretKey, label, versionId, now));
    },

    async *list(filter?: { region?: string; projectId?: string }): AsyncIterable<SecretDescription> {
      const doc = await read();
      const names = Object.keys(doc.secrets).sort();
      for (const name of names) {
        const secret = doc.secrets[name]!;
        if (filter?.region !== undefined && secret.key.region !== filter.region) continue;
        if (filter?.projectId !== undefined && secret.key.projectId !== filter.projectId) continue;
        yield documents.describeSecret(secret);
      }
    },

    async close(): Promise<void> {
      closed = true;
      // Queued mutations were accepted before close: let them finish (and be acknowledged).
      while (draining !== undefined) await draining;
      cache = undefined;
    },
  };
  return vault;
}

async function readFully(handle: import('node:fs/promises').FileHandle, into: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < into.length) {
    const { bytesRead } = await handle.read(into, offset, into.length - offset, position + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  if (offset < into.length) {
    throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, 'file vault: the vault file ended before its stated size');
  }
}
