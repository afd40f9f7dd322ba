/**
 * The bytes of the vault journal (`<vault>.journal`): the changes committed since the snapshot
 * (`<vault>`, vault-file-format.ts) was written, so that a commit costs what it changes, not the
 * size of the vault.
 *
 * ```
 * header (29 bytes, written once, atomically, when the journal is created)
 *   offset  size  field
 *        0     8  magic "ROTJRNL1"
 *        8     1  format version (2; 1 was written by earlier releases, see below)
 *        9     8  key id (as the snapshot's)
 *       17    12  the IV of the snapshot this journal extends (a random id of that snapshot)
 * records, appended one per group commit
 *        0     4  ciphertext length n (big-endian)
 *        4    12  IV, random per record
 *       16    16  GCM authentication tag
 *       32     n  ciphertext of the record's JSON text:
 *                 format 2: `{"changes":[…]}`, what the commit changed, secret by secret
 *                           (vault-document.ts, `journalChangePieces`): a version the vault already
 *                           held is named with its new labels, not repeated;
 *                 format 1: `{"secrets":[StoredSecret, …]}`, the full new state of every secret it changed.
 * ```
 * Each record's AAD is the journal header plus the record's offset, so a record cannot be moved to
 * another position, another journal or another snapshot's journal without failing authentication.
 * A record states each changed secret's new state (by reference to versions the vault held before
 * it), so replaying one twice is harmless.
 *
 * Format 1 journals (earlier releases) are read; the first commit on such a journal folds it into a
 * new snapshot and starts a format 2 journal, so a format 2 record is never appended to a journal
 * whose header promises format 1 (an earlier release refuses a format 2 journal by its header, with
 * a message that names the version, rather than misreading its records).
 *
 * A record is acknowledged only after its bytes are fsynced. A writer killed mid-append leaves a
 * record shorter than its stated length at the very end: it was never acknowledged and is ignored
 * (the next writer truncates it away under the lock). A complete record that fails authentication
 * is corruption, never skipped.
 *
 * A journal whose header names another snapshot is left over from a compaction interrupted after
 * the new snapshot was in place: that snapshot already holds all of it, so it is ignored.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { vaultError } from './vault-errors.js';
import type { DerivedVaultKey } from './vault-file-format.js';

const MAGIC = Buffer.from('ROTJRNL1', 'ascii');
/** The format of the journals this release writes (it reads 1 and 2). */
export const JOURNAL_FORMAT_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
const KEY_ID_LENGTH = 8;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const LENGTH_FIELD = 4;
export const JOURNAL_HEADER_LENGTH = MAGIC.length + 1 + KEY_ID_LENGTH + IV_LENGTH;
export const RECORD_OVERHEAD = LENGTH_FIELD + IV_LENGTH + TAG_LENGTH;
/** Bounds one record (a group commit of a batch is far below); a larger stated length is corruption. */
const MAX_RECORD_LENGTH = 1 << 30;

const corrupt = (source: string, what: string) =>
  vaultError(
    VaultErrorCode.wrongKeyOrCorrupt,
    `file vault: journal ${source} ${what}; refusing to use or overwrite it (restore the vault and its journal from a backup, or point the config at the right key)`,
  );

/** A journal header; `version` other than {@link JOURNAL_FORMAT_VERSION} only to write an earlier release's journal (tests). */
export function journalHeader(key: DerivedVaultKey, snapshotId: Buffer, version = JOURNAL_FORMAT_VERSION): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([version]), key.keyId, snapshotId]);
}

/**
 * The snapshot id a journal header names, and the format of its records; throws
 * `VAULT_WRONG_KEY_OR_CORRUPT` on a foreign or damaged header.
 */
export function readJournalHeader(header: Buffer, key: DerivedVaultKey, source: string): { snapshotId: Buffer; version: number } {
  if (header.length < JOURNAL_HEADER_LENGTH) throw corrupt(source, `is truncated (${header.length} bytes, a journal has at least ${JOURNAL_HEADER_LENGTH})`);
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt(source, 'is not a rotator vault journal (bad magic bytes)');
  const version = header[MAGIC.length]!;
  if (!READABLE_VERSIONS.includes(version)) {
    throw corrupt(source, `has format version ${version}, this rotator reads versions ${READABLE_VERSIONS.join(' and ')} (was it written by a newer release?)`);
  }
  const keyIdStart = MAGIC.length + 1;
  if (!header.subarray(keyIdStart, keyIdStart + KEY_ID_LENGTH).equals(key.keyId)) throw corrupt(source, 'was written with another key');
  return { snapshotId: header.subarray(keyIdStart + KEY_ID_LENGTH, JOURNAL_HEADER_LENGTH), version };
}

function aad(header: Buffer, offset: number): Buffer {
  const position = Buffer.alloc(8);
  position.writeBigUInt64BE(BigInt(offset));
  return Buffer.concat([header.subarray(0, JOURNAL_HEADER_LENGTH), position]);
}

/**
 * One record, to be written at `offset` of the journal with `header`; its plaintext is `pieces` joined
 * (encrypted piece by piece, so that no string of the whole record is needed).
 */
export function sealRecord(pieces: string | Iterable<string>, key: DerivedVaultKey, header: Buffer, offset: number): Buffer {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key.encryptionKey, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad(header, offset));
  const length = Buffer.alloc(LENGTH_FIELD);
  const parts: Buffer[] = [length, iv, Buffer.alloc(TAG_LENGTH)];
  let size = 0;
  for (const piece of typeof pieces === 'string' ? [pieces] : pieces) {
    const bytes = cipher.update(piece, 'utf8');
    parts.push(bytes);
    size += bytes.length;
  }
  const last = cipher.final();
  parts.push(last);
  size += last.length;
  length.writeUInt32BE(size);
  parts[2] = cipher.getAuthTag();
  return Buffer.concat(parts, RECORD_OVERHEAD + size);
}

/** Where replay stopped. */
export interface JournalReplay {
  /** Offset just past the last complete record (where the next record goes). */
  end: number;
  /** True when bytes after `end` hold an incomplete record (a writer died mid-append). */
  tornTail: boolean;
}

/** Fills `into` with the journal's bytes from `position`; fails if the file ends first. */
export type ReadJournalAt = (into: Buffer, position: number) => Promise<void>;

/** Bytes read from the journal at a time: many small records cost one read, not two each. */
const READ_AHEAD = 1 << 20;

/**
 * Decrypts the records of the journal from offset `start` up to `size`, reading it through
 * `readAt`, and hands each record's plaintext to `apply` before the next is read. Replay holds one
 * record at a time (and at most {@link READ_AHEAD} bytes besides), not the journal: a journal of
 * 155 MB over a 100k-secret vault opened at a 666 MiB peak when it was read and decrypted whole.
 * Stops at an incomplete trailing record; throws on a complete record that fails authentication,
 * after `apply` has seen the records before it (the caller discards what it built).
 */
export async function replayRecords(
  readAt: ReadJournalAt,
  start: number,
  size: number,
  key: DerivedVaultKey,
  header: Buffer,
  source: string,
  apply: (plaintext: string) => void,
): Promise<JournalReplay> {
  // `buffer` holds the journal's bytes from offset `bufferAt` on.
  let buffer = Buffer.alloc(0);
  let bufferAt = start;
  /** Bytes `at` to `at + n` (within `size`), read ahead; `at` never goes back before `bufferAt`. */
  const bytesAt = async (at: number, n: number): Promise<Buffer> => {
    const from = at - bufferAt;
    if (from + n <= buffer.length) return buffer.subarray(from, from + n);
    const next = Buffer.allocUnsafe(Math.min(size - at, Math.max(n, READ_AHEAD)));
    const kept = buffer.copy(next, 0, from);
    await readAt(next.subarray(kept), at + kept);
    buffer = next;
    bufferAt = at;
    return buffer.subarray(0, n);
  };
  let at = start;
  while (at < size) {
    if (size - at < RECORD_OVERHEAD) return { end: at, tornTail: true };
    const length = (await bytesAt(at, RECORD_OVERHEAD)).readUInt32BE(0);
    if (length > MAX_RECORD_LENGTH) throw corrupt(source, `states a record of ${length} bytes at offset ${at}`);
    if (size - at < RECORD_OVERHEAD + length) return { end: at, tornTail: true };
    apply(openRecord(await bytesAt(at, RECORD_OVERHEAD + length), at, key, header, source));
    at += RECORD_OVERHEAD + length;
  }
  return { end: at, tornTail: false };
}

/** The plaintext of the complete record `bytes`, found at `offset` of the journal. */
function openRecord(bytes: Buffer, offset: number, key: DerivedVaultKey, header: Buffer, source: string): string {
  const iv = bytes.subarray(LENGTH_FIELD, LENGTH_FIELD + IV_LENGTH);
  const tag = bytes.subarray(LENGTH_FIELD + IV_LENGTH, RECORD_OVERHEAD);
  const decipher = createDecipheriv('aes-256-gcm', key.encryptionKey, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad(header, offset));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(RECORD_OVERHEAD)), decipher.final()]).toString('utf8');
  } catch {
    throw corrupt(source, `has a record at offset ${offset} that fails authentication: it is corrupt or was altered`);
  }
}
