/**
 * The encrypted file vault: the embedded default `Vault` (see src/ports/vault.ts), for one host.
 *
 * Two files, both sealed with AES-256-GCM: the snapshot `<path>` (vault-file-format.ts), the whole
 * document as of its last compaction, and the journal `<path>.journal` (vault-journal.ts), the
 * changes committed since, appended one record per group commit. The document lives in memory;
 * a commit costs what it changes, not the size of the vault, so a run is linear in its servers.
 *
 * Every mutation: take the lock file, catch up with what other processes committed (cheaply, see
 * below), apply the operations to private copies of the secrets they touch, append one record
 * and fsync it, release. A SIGKILL at any instant leaves a vault that opens and holds every
 * acknowledged write: a record is acknowledged only once fsynced, and a record cut short by a kill
 * is never acknowledged (vault-journal.ts). Once the journal outgrows both the snapshot and
 * `journalCompactBytes`, it is folded into a new snapshot (atomic replace), then a new journal naming
 * that snapshot is started; a journal naming another snapshot is ignored, so a kill between the two
 * steps loses nothing. The fold waits for a quiet moment (`compactIdleMs` without a commit of this
 * process: between runs, not in the middle of one), unless the journal has grown to
 * COMPACT_NOW_FACTOR times that; it takes the lock like a commit. Several processes on one host may
 * share a vault.
 *
 * Group commit: mutations that arrive while a commit is in progress are queued and applied
 * together in the next one (one lock, one record, one fsync), so a batch of 1000 putPending calls
 * costs a few journal appends, not 1000. Each queued operation still succeeds or fails on its own:
 * vault-document.ts validates before it mutates, and an operation is acknowledged only after the
 * record that holds it is durable.
 *
 * Reads take no lock. Revalidation is cheap: the snapshot's header (a random id per write, and its
 * authentication tag) and size tell whether it changed; if not, only the journal's bytes past the
 * ones already applied are read and decrypted.
 */
import { mkdir, open } from 'node:fs/promises';
import { statSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.js';
import type {
  SecretDescription,
  SecretKey,
  SecretPayload,
  SecretVersion,
  StoredPending,
  Vault,
  VaultWrite,
  VaultWriteResult,
  VersionSelector,
} from '../../ports/vault.js';
import { removeOrphanTempFiles, writeFileAtomic, writeFileAtomicWith } from './atomic-write.js';
import { acquireFileLock, type HeldLock } from './file-lock.js';
import * as documents from './vault-document.js';
import type { DraftDocument, StoredSecret, VaultDocument } from './vault-document.js';
import { residentProjectId, residentRegion } from './stored-secret.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { ioError, vaultError } from './vault-errors.js';
import { deriveVaultKey, HEADER_LENGTH, keyIdHex, openDocumentPieces, sealDocumentPieces, snapshotId } from './vault-file-format.js';
import { JOURNAL_FORMAT_VERSION, JOURNAL_HEADER_LENGTH, journalHeader, readJournalHeader, replayRecords, sealRecord } from './vault-journal.js';

export interface FileVaultOptions {
  /**
   * The vault file (the snapshot); its journal is `<path>.journal` beside it (back up both). Its
   * directory is created (mode 0700) if missing; the files (mode 0600) on the first write.
   */
  path: string;
  /** 32 bytes (see `resolveVaultKey`). */
  key: Buffer;
  /**
   * How long a mutation waits for the lock held by another process before failing with
   * `VAULT_LOCK_TIMEOUT` (retryable).
   * @defaultValue 10000
   */
  lockTimeoutMs?: number;
  /**
   * The journal is folded into a new snapshot once it is larger than this and than the snapshot
   * (so compaction stays a constant factor of the bytes journalled): when the vault has had no
   * commit for `compactIdleMs`, or at once when the journal has grown to
   * {@link COMPACT_NOW_FACTOR} times that. A compaction rewrites the whole vault while commits
   * wait; at 4 MiB a first rotation of 20,000 servers compacted four times (0.56 s of stalled
   * commits), at 16 MiB once, and a 100k-server run stalled about 1 s per compaction. Bounded at
   * start-up too: a process replays at most COMPACT_NOW_FACTOR times the larger of this and the
   * snapshot.
   * @defaultValue 16 MiB
   */
  journalCompactBytes?: number;
  /**
   * Quiet time (no commit of this process) after which a journal past `journalCompactBytes` is
   * compacted: between runs rather than in the middle of one.
   * @defaultValue 1000
   */
  compactIdleMs?: number;
  clock: Clock;
  logger: Logger;
}

export interface FileVault extends Vault {
  /** The vault file's path (the snapshot; the journal is `<path>.journal`). */
  readonly path: string;
  /** A one-way identifier of the key (hex), safe to log. */
  readonly keyId: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
export const DEFAULT_JOURNAL_COMPACT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_COMPACT_IDLE_MS = 1_000;
/**
 * A journal this many times the compaction threshold is compacted in the commit that got it there,
 * quiet or not: a vault written without pause (a long run of a large fleet) still compacts, and
 * replay at start-up stays bounded. Replay goes record by record (vault-journal.ts), so its memory
 * is the document's, but its time grows with the journal: a 100k-secret vault opened in 1.5 s from
 * its snapshot alone, in about 4 s with a 155 MB journal beside it.
 */
export const COMPACT_NOW_FACTOR = 2;
/** Catch-up attempts while other processes keep compacting under a lock-free reader. */
const REFRESH_ATTEMPTS = 10;

/**
 * Largest vault file read: about a million servers' secrets with their kept versions. A bigger file
 * is not one this service wrote (a wrong path), and reading it whole would exhaust memory.
 */
export const MAX_VAULT_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

type Mutation = (doc: DraftDocument, now: number) => boolean;

interface QueuedMutation {
  /** The one secret the mutation may touch. */
  key: SecretKey;
  apply: Mutation;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A file as `stat` saw it: inode, size and change times (ns). A file replaced (a new inode, possibly
 * a reused number) or written since (size, mtime, ctime) does not compare equal; see `refresh`.
 */
interface FileIdentity {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const identityOf = (s: BigIntStats): FileIdentity => ({ ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs });
const sameIdentity = (a: FileIdentity | undefined, b: FileIdentity): boolean =>
  a !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

/**
 * The file's identity now; undefined when it cannot be had (the caller then reads the file as before).
 * Synchronous: one stat of a local file is a single short system call, while the promise form costs
 * a thread-pool round trip, many times that on the event loop, for every read and commit.
 */
function identityAt(path: string): FileIdentity | undefined {
  try {
    const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
    return stats === undefined ? undefined : identityOf(stats);
  } catch {
    return undefined;
  }
}

/** What this process holds of the committed vault. */
interface LoadedVault {
  doc: VaultDocument;
  /**
   * The snapshot as read: its header (random id and tag), size and id, and its identity when read
   * (undefined: not known, e.g. after this process wrote it); undefined when there is no snapshot file.
   */
  snapshot: { header: Buffer; size: number; id: Buffer; identity?: FileIdentity | undefined } | undefined;
  /**
   * The journal of that snapshot, applied up to `end`, and its identity at that point (undefined:
   * not known); undefined when there is none, or only a stale one.
   */
  journal: { header: Buffer; version: number; ino: number; end: number; tornTail: boolean; identity?: FileIdentity | undefined } | undefined;
}

type CatchUp = 'ok' | 'reload' | 'other-snapshot';

const isVaultError = (error: unknown): boolean =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('VAULT_');

/**
 * Opens (or prepares to create) a file vault. Fails fast with `VAULT_WRONG_KEY_OR_CORRUPT` when the
 * existing files do not decrypt with `key`, and never writes to such a file.
 */
export async function openFileVault(options: FileVaultOptions): Promise<FileVault> {
  const { path, clock } = options;
  const logger = options.logger;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: lockTimeoutMs must be a non-negative number, found ${lockTimeoutMs}`);
  }
  const compactBytes = options.journalCompactBytes ?? DEFAULT_JOURNAL_COMPACT_BYTES;
  if (!Number.isInteger(compactBytes) || compactBytes < 1) {
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: journalCompactBytes must be a positive integer, found ${compactBytes}`);
  }
  const compactIdleMs = options.compactIdleMs ?? DEFAULT_COMPACT_IDLE_MS;
  if (!Number.isFinite(compactIdleMs) || compactIdleMs < 0) {
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: compactIdleMs must be a non-negative number of milliseconds, found ${compactIdleMs}`);
  }
  const key = deriveVaultKey(options.key);
  const lockPath = `${path}.lock`;
  const journalPath = `${path}.journal`;

  let state: LoadedVault | undefined;
  /** Incremented by every commit of this process (see `read`). */
  let commitGeneration = 0;
  let inflightRead: { generation: number; promise: Promise<VaultDocument> } | undefined;
  const queue: QueuedMutation[] = [];
  let draining: Promise<void> | undefined;
  let closed = false;

  // `state` is caught up and changed by one task at a time (a read's catch-up and a commit must not
  // interleave, or an older record could be applied over a newer commit).
  let exclusiveTail: Promise<unknown> = Promise.resolve();
  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = exclusiveTail.then(task, task);
    exclusiveTail = run.catch(() => undefined);
    return run;
  }

  const lock = (): Promise<HeldLock> => acquireFileLock({ path: lockPath, timeoutMs: lockTimeoutMs, clock, logger });

  /** The snapshot: `previous` itself when the file is unchanged (same header and size), else read in full. */
  async function readSnapshot(previous: LoadedVault | undefined): Promise<LoadedVault> {
    // Unchanged since this process read it whole (same inode, size and times): no need to open it.
    const known = previous?.snapshot?.identity;
    if (known !== undefined) {
      const now = identityAt(path);
      if (now !== undefined && sameIdentity(known, now)) return previous!;
    }
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return previous !== undefined && previous.snapshot === undefined ? previous : { doc: documents.emptyDocument(), snapshot: undefined, journal: undefined };
      }
      throw ioError('opening', path, error);
    }
    try {
      // The handle pins one inode: a concurrent rename cannot mix two versions into what we read.
      const stats = await handle.stat({ bigint: true });
      const size = Number(stats.size);
      if (size > MAX_VAULT_FILE_BYTES) {
        throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${path} is larger than ${MAX_VAULT_FILE_BYTES} bytes; not a vault file of this service`);
      }
      const header = Buffer.alloc(Math.min(size, HEADER_LENGTH));
      await readFully(handle, header, 0);
      if (previous?.snapshot !== undefined && previous.snapshot.size === size && previous.snapshot.header.equals(header)) {
        previous.snapshot.identity = identityOf(stats);
        return previous;
      }
      // Read, decrypted and parsed in pieces (SnapshotReader): never the whole file, text and objects at once.
      const reader = new documents.SnapshotReader(path);
      let unreadable: unknown;
      await openDocumentPieces(header, readPieces(handle, HEADER_LENGTH, size), key, path, (plaintext) => {
        // A malformed text is reported only once the file authenticated: damage is told as such.
        if (unreadable !== undefined) return;
        try {
          reader.push(plaintext);
        } catch (error) {
          unreadable = error;
        }
      });
      if (unreadable !== undefined) throw unreadable;
      return { doc: reader.end(), snapshot: { header, size, id: snapshotId(header), identity: identityOf(stats) }, journal: undefined };
    } catch (error) {
      if (isVaultError(error)) throw error;
      throw ioError('reading', path, error);
    } finally {
      await handle.close();
    }
  }

  /** Applies the journal records of `loaded`'s snapshot that it has not applied yet. */
  async function catchUpJournal(loaded: LoadedVault): Promise<CatchUp> {
    if (loaded.snapshot === undefined) return 'ok'; // a journal without a snapshot was never committed
    // Unchanged since this process last read or wrote it: nothing to apply, no need to open it.
    const known = loaded.journal?.identity;
    if (known !== undefined) {
      const now = identityAt(journalPath);
      if (now !== undefined && sameIdentity(known, now)) return 'ok';
    }
    let handle;
    try {
      handle = await open(journalPath, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('opening', journalPath, error);
      return loaded.journal === undefined ? 'ok' : 'reload';
    }
    try {
      const stats = await handle.stat({ bigint: true });
      const size = Number(stats.size);
      const ino = Number(stats.ino);
      const header = Buffer.alloc(Math.min(size, JOURNAL_HEADER_LENGTH));
      await readFully(handle, header, 0);
      const { snapshotId: id, version } = readJournalHeader(header, key, journalPath);
      if (!id.equals(loaded.snapshot.id)) return loaded.journal === undefined ? 'other-snapshot' : 'reload';
      const from = loaded.journal?.end ?? JOURNAL_HEADER_LENGTH;
      if ((loaded.journal !== undefined && loaded.journal.ino !== ino) || size < from) return 'reload';
      // Applied record by record as read: a record that fails leaves `loaded` half caught up, and
      // `refresh` then drops it (and its document) and reads afresh next time.
      const read = await replayRecords((into, position) => readFully(handle, into, position), from, size, key, header, journalPath, (record) =>
        documents.applyJournalRecord(loaded.doc, record, journalPath, version),
      );
      // Records this process did not write may not be on disk yet: their writer may have been
      // killed between its write and its fsync (the page cache keeps them, a power loss would not).
      // Read, they become what this process acknowledges and acts on (a pending password it
      // resends, a replayed write it answers as stored), so they are made durable first.
      if (read.end > from) await handle.datasync();
      loaded.journal = { header, version, ino, end: read.end, tornTail: read.tornTail, identity: identityOf(stats) };
      return 'ok';
    } catch (error) {
      if (isVaultError(error)) throw error;
      throw ioError('reading', journalPath, error);
    } finally {
      await handle.close();
    }
  }

  /** The committed vault, caught up with every process's acknowledged writes. Run inside `exclusive`. */
  async function refresh(): Promise<LoadedVault> {
    try {
      for (let attempt = 0; attempt < REFRESH_ATTEMPTS; attempt += 1) {
        const loaded = await readSnapshot(state);
        const caughtUp = await catchUpJournal(loaded);
        if (caughtUp === 'ok') {
          state = loaded;
          return loaded;
        }
        if (caughtUp === 'other-snapshot' && (await readSnapshot(loaded)) === loaded) {
          // The snapshot did not change: the journal is left over from a compaction that was
          // interrupted once this snapshot was in place, and the snapshot already holds all of it.
          state = loaded;
          return loaded;
        }
        state = undefined; // another process compacted meanwhile: read afresh
      }
    } catch (error) {
      state = undefined;
      throw error;
    }
    throw vaultError(VaultErrorCode.io, `file vault: ${path} kept changing while being read; try again`, true);
  }

  /** Starts a journal for the snapshot `id` (atomically: a journal never exists without its whole header). */
  async function startJournal(id: Buffer): Promise<NonNullable<LoadedVault['journal']>> {
    const header = journalHeader(key, id);
    await writeFileAtomic(journalPath, header, 0o600);
    let handle;
    try {
      handle = await open(journalPath, 'r');
      const stats = await handle.stat({ bigint: true });
      return { header, version: JOURNAL_FORMAT_VERSION, ino: Number(stats.ino), end: JOURNAL_HEADER_LENGTH, tornTail: false, identity: identityOf(stats) };
    } catch (error) {
      throw ioError('opening', journalPath, error);
    } finally {
      await handle?.close();
    }
  }

  /**
   * Writes the whole document as a new snapshot, then a new empty journal naming it. Sealed and
   * written in pieces: a 100k-server vault is tens of MB of text, which as one string plus its
   * ciphertext (and their copies) once made every compaction a peak of the worker's memory.
   */
  async function compact(loaded: LoadedVault): Promise<NonNullable<LoadedVault['journal']>> {
    let size = HEADER_LENGTH;
    let header: Buffer = Buffer.alloc(0);
    await writeFileAtomicWith(
      path,
      async (handle) => {
        header = await sealDocumentPieces(documents.serializeDocument(loaded.doc), key, async (ciphertext) => {
          await writeFully(handle, ciphertext, size);
          size += ciphertext.length;
        });
        await writeFully(handle, header, 0);
      },
      0o600,
    );
    loaded.snapshot = { header, size, id: snapshotId(header) };
    loaded.journal = undefined;
    loaded.journal = await startJournal(loaded.snapshot.id);
    return loaded.journal;
  }

  /**
   * Appends one record of what `draft` changed (`secrets`, against `loaded.doc`, not yet installed)
   * and fsyncs it: from then on the commit is durable.
   */
  async function append(loaded: LoadedVault, draft: DraftDocument, secrets: StoredSecret[]): Promise<void> {
    let journal = loaded.journal;
    // The first write of a new vault, or the first on an earlier release's journal (vault-journal.ts):
    // fold what is there into a snapshot, and start a journal of this release's format.
    if (loaded.snapshot === undefined || (journal !== undefined && journal.version !== JOURNAL_FORMAT_VERSION)) journal = await compact(loaded);
    else if (journal === undefined) journal = loaded.journal = await startJournal(loaded.snapshot.id);
    const record = sealRecord(documents.journalChangePieces(loaded.doc, draft, secrets), key, journal.header, journal.end);
    let handle;
    journal.identity = undefined;
    try {
      handle = await open(journalPath, 'r+');
      // A record cut short by a writer killed mid-append was never acknowledged: overwrite it.
      if (journal.tornTail) await handle.truncate(journal.end);
      await writeFully(handle, record, journal.end);
      await handle.datasync();
      // Under the lock no one else writes: the file as it is now is the one the next refresh compares
      // with (unknown if it cannot be had: that refresh then reads the journal as before).
      journal.identity = await handle.stat({ bigint: true }).then(identityOf, () => undefined);
    } catch (error) {
      // The record may sit in the file, complete, though its fsync failed: after an EIO, Linux marks
      // the pages clean, so a later fsync succeeds without them ever reaching the disk, and the retry
      // of this very write would replay it and answer "stored". Cut it off (best effort; if that
      // fails too, the vault stays unwritable while the disk is).
      if (handle !== undefined) {
        await handle.truncate(journal.end).then(
          () => handle!.datasync(),
          () => undefined,
        ).catch(() => undefined);
      }
      throw ioError('appending to', journalPath, error);
    } finally {
      await handle?.close();
    }
    journal.end += record.length;
    journal.tornTail = false;
  }

  /** Whether `loaded`'s journal is due for compaction: at once, when the vault is quiet, or not. */
  function compactionDue(loaded: LoadedVault): 'now' | 'when-idle' | undefined {
    const journal = loaded.journal;
    if (journal === undefined) return undefined;
    const threshold = Math.max(compactBytes, loaded.snapshot?.size ?? 0);
    if (journal.end > threshold * COMPACT_NOW_FACTOR) return 'now';
    return journal.end > threshold ? 'when-idle' : undefined;
  }

  let idleTimer: NodeJS.Timeout | undefined;
  let idleCompaction: Promise<void> | undefined;

  /** (Re)starts the quiet-time countdown: every commit pushes the compaction back (and `close` does it at once). */
  function scheduleIdleCompaction(): void {
    if (closed) return;
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      void compactWhenIdle();
    }, compactIdleMs);
    // Never what keeps a process alive: a journal left long is compacted by the next writer.
    idleTimer.unref();
  }

  /**
   * Compacts when nothing of this process is committing, under the lock and in turn with reads and
   * commits, like a commit's compaction. The journal is measured again first: another process may
   * have compacted meanwhile.
   */
  async function compactWhenIdle(): Promise<void> {
    if (closed || idleCompaction !== undefined) return;
    if (draining !== undefined || queue.length > 0) {
      scheduleIdleCompaction();
      return;
    }
    await compactUnderLock();
  }

  async function compactUnderLock(): Promise<void> {
    idleCompaction = (async () => {
      let held: HeldLock;
      try {
        held = await lock();
      } catch (error) {
        logger.debug({ vault: path, err: error }, 'file vault: no lock for an idle compaction; tried again later');
        scheduleIdleCompaction();
        return;
      }
      try {
        await exclusive(async () => {
          const loaded = await refresh();
          if (compactionDue(loaded) !== undefined) await compact(loaded);
        });
      } catch (error) {
        state = undefined;
        logger.warn({ vault: path, err: error }, 'file vault: compaction failed; the journal is kept and compaction retried later');
      } finally {
        await held.release().catch((error: unknown) => {
          logger.error({ lock: lockPath, err: error }, 'file vault: could not release the lock');
        });
      }
    })();
    try {
      await idleCompaction;
    } finally {
      idleCompaction = undefined;
    }
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
      await exclusive(async () => {
        const loaded = await refresh();
        const now = clock.now();
        // Operations work on private copies of the secrets they touch: a failed append leaves the
        // loaded document as committed.
        const names = new Map<QueuedMutation, string>();
        for (const op of batch) {
          try {
            names.set(op, documents.validName(op.key));
          } catch {
            // the operation itself rejects the key below
          }
        }
        const draft = documents.draftDocument(loaded.doc, names.values());
        const changed = new Set<string>();
        for (const op of batch) {
          try {
            if (op.apply(draft, now)) changed.add(names.get(op)!);
            outcomes.set(op, undefined);
          } catch (error) {
            outcomes.set(op, { error });
          }
        }
        if (changed.size === 0) return;
        const secrets = [...changed].map((name) => draft.secrets.get(name)!);
        await append(loaded, draft, secrets);
        for (const secret of secrets) documents.installDraft(loaded.doc, draft, secret);
        commitGeneration += 1;
        logger.debug({ vault: path, operations: batch.length, changed: changed.size }, 'file vault: committed');
        const due = compactionDue(loaded);
        if (due === 'now') {
          // The commit is durable already; a failed compaction only leaves a longer journal.
          await compact(loaded).catch((error: unknown) => {
            state = undefined;
            logger.warn({ vault: path, err: error }, 'file vault: compaction failed; the journal is kept and compaction retried later');
          });
        } else if (due === 'when-idle') {
          scheduleIdleCompaction();
        }
      });
    } catch (error) {
      state = undefined;
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
    // Never on an empty queue: the loop below would end before `draining` is assigned, which would
    // then hold a settled promise and no later mutation would ever be committed.
    if (draining === undefined && queue.length === 0) return Promise.resolve();
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

  /**
   * Queues a mutation; `drainNow` false leaves starting the commit to the caller, so that a batch of
   * mutations queued in one go is taken by one commit (the drain splices the queue when it starts).
   */
  function mutate(secretKey: SecretKey, apply: Mutation, drainNow = true): Promise<void> {
    if (closed) return Promise.reject(vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`));
    return new Promise<void>((resolve, reject) => {
      queue.push({ key: secretKey, apply, resolve, reject });
      if (drainNow) void drain();
    });
  }

  /**
   * The committed document. Concurrent reads share one catch-up. A read may join one already in
   * flight only if no commit of this process completed since it started, so a caller always sees
   * its own acknowledged writes.
   */
  function read(): Promise<VaultDocument> {
    if (closed) return Promise.reject(vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`));
    if (inflightRead !== undefined && inflightRead.generation === commitGeneration) return inflightRead.promise;
    const entry = {
      generation: commitGeneration,
      promise: exclusive(refresh)
        .catch(async (error: unknown) => {
          // Without the lock, a record being appended right now could look damaged; under the
          // lock no writer is active, and a damaged record is damage.
          if ((error as { code?: unknown }).code !== VaultErrorCode.wrongKeyOrCorrupt) throw error;
          const held = await lock();
          try {
            return await exclusive(refresh);
          } finally {
            await held.release();
          }
        })
        .then((loaded) => loaded.doc)
        .finally(() => {
          if (inflightRead === entry) inflightRead = undefined;
        }),
    };
    inflightRead = entry;
    return entry.promise;
  }

  // Start-up: create the directory, prove the key opens the existing files, clear temp files left
  // by writers that were killed mid-write.
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError('creating the directory of', path, error);
  }
  const initial = await exclusive(refresh);
  const held = await lock();
  try {
    const removed = (await removeOrphanTempFiles(path)) + (await removeOrphanTempFiles(journalPath));
    if (removed > 0) logger.info({ vault: path, removed }, 'file vault: removed temp files of interrupted writes');
  } finally {
    await held.release();
  }
  // Field names avoid "secret": the logger scrubs any such key (see src/observability/logger.ts).
  logger.debug({ vault: path, keyId: keyIdHex(key), servers: initial.doc.secrets.size }, 'file vault: opened');

  const vault: FileVault = {
    path,
    keyId: keyIdHex(key),

    async ensureSecret(secretKey: SecretKey): Promise<void> {
      // Fast path: a secret already in the committed file is durable; no lock, no write.
      const doc = await read();
      if (documents.hasSecret(doc, secretKey)) return;
      await mutate(secretKey, (d, now) => documents.ensureSecret(d, secretKey, now));
    },

    async putPending(secretKey: SecretKey, token: string, value: SecretPayload, alsoLabels: readonly string[] = []): Promise<StoredPending> {
      let labels: string[] = [];
      await mutate(secretKey, (d, now) => documents.putPending(d, secretKey, token, value, now, alsoLabels, (held) => (labels = held)));
      return { labels };
    },

    async getVersion(secretKey: SecretKey, selector: VersionSelector): Promise<SecretVersion | undefined> {
      return documents.getVersion(await read(), secretKey, selector);
    },

    async describe(secretKey: SecretKey): Promise<SecretDescription | undefined> {
      return documents.describe(await read(), secretKey);
    },

    promote(secretKey: SecretKey, versionId: string, expectedCurrent: string | undefined): Promise<void> {
      return mutate(secretKey, (d, now) => documents.promote(d, secretKey, versionId, expectedCurrent, now));
    },

    removeLabel(secretKey: SecretKey, label: string, versionId: string): Promise<void> {
      return mutate(secretKey, (d, now) => documents.removeLabel(d, secretKey, label, versionId, now));
    },

    moveLabel(secretKey: SecretKey, label: string, versionId: string): Promise<void> {
      return mutate(secretKey, (d, now) => documents.moveLabel(d, secretKey, label, versionId, now));
    },

    async writeMany(writes: readonly VaultWrite[]): Promise<VaultWriteResult[]> {
      if (closed) throw vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`);
      // ensureSecret of a secret already committed is durable as it is: no lock, no write (as the single method).
      const doc = writes.some((w) => w.kind === 'ensureSecret') ? await read() : undefined;
      // Every mutation is queued synchronously here, so that one commit takes them all (one lock,
      // one record, one fsync). Within a secret, a write after a failed one fails with its error:
      // its `apply` runs after the earlier one's in the same commit and sees the failure.
      const failed = new Map<string, { error: unknown }>();
      const secretOf = (key: SecretKey): string => `${key.region}\n${key.projectId}\n${key.serverId}`;
      const labelsOf = new Map<VaultWrite, string[]>();
      const applyOf = (write: VaultWrite): Mutation => {
        switch (write.kind) {
          case 'ensureSecret':
            return (d, now) => documents.ensureSecret(d, write.key, now);
          case 'putPending':
            return (d, now) => documents.putPending(d, write.key, write.token, write.value, now, write.alsoLabels ?? [], (held) => labelsOf.set(write, held));
          case 'promote':
            return (d, now) => documents.promote(d, write.key, write.versionId, write.expectedCurrent, now);
          case 'removeLabel':
            return (d, now) => documents.removeLabel(d, write.key, write.label, write.versionId, now);
          case 'moveLabel':
            return (d, now) => documents.moveLabel(d, write.key, write.label, write.versionId, now);
        }
      };
      // One promise for the whole call, not one (and a `then`) per write: a batch's writes are
      // queued as plain entries whose callbacks fill `results` (20,000 servers made 60,000 promises).
      return new Promise<VaultWriteResult[]>((resolveAll) => {
        const results = new Array<VaultWriteResult>(writes.length);
        let remaining = writes.length;
        const settle = (i: number, result: VaultWriteResult): void => {
          results[i] = result;
          remaining -= 1;
          if (remaining === 0) resolveAll(results);
        };
        if (remaining === 0) resolveAll(results);
        writes.forEach((write, i) => {
          if (write.kind === 'ensureSecret' && doc !== undefined && documents.hasSecret(doc, write.key)) {
            settle(i, { ok: true });
            return;
          }
          if (closed) {
            // Closed while this call read the vault: as a single mutation would, it is refused.
            settle(i, { ok: false, error: vaultError(VaultErrorCode.closed, `file vault: ${path} is closed`) });
            return;
          }
          const secret = secretOf(write.key);
          const apply = applyOf(write);
          queue.push({
            key: write.key,
            apply: (d, now) => {
              const earlier = failed.get(secret);
              if (earlier !== undefined) throw earlier.error;
              try {
                return apply(d, now);
              } catch (error) {
                failed.set(secret, { error });
                throw error;
              }
            },
            resolve: () => {
              const labels = labelsOf.get(write);
              settle(i, labels === undefined ? { ok: true } : { ok: true, labels });
            },
            reject: (error: unknown) => {
              // A commit that failed as a whole (lock, I/O) fails every write of it, in order.
              if (!failed.has(secret)) failed.set(secret, { error });
              settle(i, { ok: false, error });
            },
          });
        });
        // Only with something queued: a drain started on an empty queue would finish synchronously
        // and leave `draining` set to its settled promise (see `drain`).
        if (queue.length > 0) void drain();
      });
    },

    async describeMany(keys: readonly SecretKey[]): Promise<(SecretDescription | undefined)[]> {
      const doc = await read();
      return keys.map((k) => documents.describe(doc, k));
    },

    async *list(filter?: { region?: string; projectId?: string }): AsyncIterable<SecretDescription> {
      const doc = await read();
      const names = [...doc.secrets.keys()].sort();
      for (const name of names) {
        const secret = doc.secrets.get(name);
        if (secret === undefined) continue; // removed while this listing was paused (never today: no operation deletes a secret)
        if (filter?.region !== undefined && residentRegion(secret) !== filter.region) continue;
        if (filter?.projectId !== undefined && residentProjectId(secret) !== filter.projectId) continue;
        yield documents.describeSecret(secret);
      }
    },

    async close(): Promise<void> {
      closed = true;
      // Queued mutations were accepted before close: let them finish (and be acknowledged).
      while (draining !== undefined) await draining;
      // A compaction this process was waiting to do (it wrote the journal past the threshold) is done
      // now, rather than left for the next start to replay; one under way ends. A process that only
      // read never compacts here.
      const waiting = idleTimer !== undefined;
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = undefined;
      await idleCompaction;
      if (waiting) await compactUnderLock();
      state = undefined;
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

/** Bytes `from` to `to` of the file, in pieces of up to 1 MiB; fails as readFully when the file ends early. */
async function* readPieces(handle: import('node:fs/promises').FileHandle, from: number, to: number): AsyncGenerator<Buffer> {
  for (let at = from; at < to; ) {
    const piece = Buffer.alloc(Math.min(1 << 20, to - at));
    await readFully(handle, piece, at);
    yield piece;
    at += piece.length;
  }
}

async function writeFully(handle: import('node:fs/promises').FileHandle, bytes: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}
