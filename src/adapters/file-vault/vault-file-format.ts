/**
 * The bytes of the vault file: a versioned header, then the JSON document sealed with AES-256-GCM.
 *
 * ```
 * offset  size  field
 *      0     8  magic "ROTVAULT"
 *      8     1  format version (1)
 *      9     8  key id: HKDF(key, "key id") — tells a wrong key from a corrupt file
 *     17    12  IV, random for every write
 *     29    16  GCM authentication tag
 *     45     …  ciphertext of the UTF-8 JSON document
 * ```
 * The first 29 bytes are the GCM additional authenticated data, so altering the header, the tag or
 * the ciphertext (a flipped bit, a truncation) fails authentication. The key id is derived one-way
 * from the key and reveals nothing usable about it; it only lets the error say "wrong key" rather
 * than "corrupt". Both are `VAULT_WRONG_KEY_OR_CORRUPT` and neither is ever "repaired" by writing.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { vaultError } from './vault-errors.js';

const MAGIC = Buffer.from('ROTVAULT', 'ascii');
const FORMAT_VERSION = 1;
const KEY_ID_LENGTH = 8;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const AAD_LENGTH = MAGIC.length + 1 + KEY_ID_LENGTH + IV_LENGTH;
export const HEADER_LENGTH = AAD_LENGTH + TAG_LENGTH;
export const VAULT_KEY_LENGTH = 32;

/** The keys derived from the operator's vault key: one to encrypt, one to identify. */
export interface DerivedVaultKey {
  encryptionKey: Buffer;
  keyId: Buffer;
}

export function deriveVaultKey(key: Buffer): DerivedVaultKey {
  if (!Buffer.isBuffer(key) || key.length !== VAULT_KEY_LENGTH) {
    throw vaultError(
      VaultErrorCode.invalidKey,
      `file vault: the key must be exactly ${VAULT_KEY_LENGTH} bytes, found ${Buffer.isBuffer(key) ? key.length : typeof key}`,
    );
  }
  const salt = Buffer.from('rotator-file-vault', 'ascii');
  return {
    encryptionKey: Buffer.from(hkdfSync('sha256', key, salt, 'v1 encryption', 32)),
    keyId: Buffer.from(hkdfSync('sha256', key, salt, 'v1 key id', KEY_ID_LENGTH)),
  };
}

export function sealDocument(plaintext: string, key: DerivedVaultKey): Buffer {
  const iv = randomBytes(IV_LENGTH);
  const aad = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), key.keyId, iv]);
  const cipher = createCipheriv('aes-256-gcm', key.encryptionKey, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([aad, cipher.getAuthTag(), ciphertext]);
}

/**
 * Seals a document given in pieces of text: the ciphertext goes to `write` piece by piece (it belongs
 * at offset HEADER_LENGTH on, in order); the header, which ends with the authentication tag known
 * only at the end, is returned to be written at offset 0. The bytes are those of `sealDocument` of
 * the pieces joined, without ever holding the whole text or ciphertext.
 */
export async function sealDocumentPieces(pieces: Iterable<string>, key: DerivedVaultKey, write: (ciphertext: Buffer) => Promise<void>): Promise<Buffer> {
  const iv = randomBytes(IV_LENGTH);
  const aad = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), key.keyId, iv]);
  const cipher = createCipheriv('aes-256-gcm', key.encryptionKey, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  for (const piece of pieces) {
    const bytes = cipher.update(piece, 'utf8');
    if (bytes.length > 0) await write(bytes);
  }
  const last = cipher.final();
  if (last.length > 0) await write(last);
  return Buffer.concat([aad, cipher.getAuthTag()]);
}

const corruptFile = (source: string, what: string) =>
  vaultError(
    VaultErrorCode.wrongKeyOrCorrupt,
    `file vault: ${source} ${what}; refusing to use or overwrite it (restore it from a backup, or point the config at the right key)`,
  );

/** Checks a vault file's header (at least its first HEADER_LENGTH bytes) and returns its decipher. */
function decipherFor(header: Buffer, key: DerivedVaultKey, source: string) {
  if (header.length < HEADER_LENGTH) throw corruptFile(source, `is truncated (${header.length} bytes, a vault has at least ${HEADER_LENGTH})`);
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw corruptFile(source, 'is not a rotator vault file (bad magic bytes)');
  const version = header[MAGIC.length];
  if (version !== FORMAT_VERSION) throw corruptFile(source, `has format version ${version}, this rotator reads version ${FORMAT_VERSION}`);
  const keyIdStart = MAGIC.length + 1;
  const fileKeyId = header.subarray(keyIdStart, keyIdStart + KEY_ID_LENGTH);
  if (!timingSafeEqual(fileKeyId, key.keyId)) {
    throw corruptFile(
      source,
      `was written with another key (file key id ${fileKeyId.toString('hex')}, this key's id ${key.keyId.toString('hex')}): wrong key, or a corrupt header`,
    );
  }
  const iv = header.subarray(keyIdStart + KEY_ID_LENGTH, AAD_LENGTH);
  const tag = header.subarray(AAD_LENGTH, HEADER_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', key.encryptionKey, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(header.subarray(0, AAD_LENGTH));
  decipher.setAuthTag(tag);
  return decipher;
}

/** Decrypts a vault file's bytes; `source` (the path) only names the file in errors. */
export function openDocument(bytes: Buffer, key: DerivedVaultKey, source: string): string {
  const decipher = decipherFor(bytes, key, source);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(HEADER_LENGTH)), decipher.final()]).toString('utf8');
  } catch {
    throw corruptFile(source, 'failed authentication: it is corrupt or was altered');
  }
}

/**
 * Decrypts a vault file read in pieces: `header` is its first HEADER_LENGTH bytes (fewer when the
 * file is shorter), `ciphertext` the rest in order; each piece of plaintext goes to `consume` as it
 * is decrypted. The text is authenticated only at the end: whatever the caller built from the
 * pieces must be thrown away if this rejects.
 */
export async function openDocumentPieces(
  header: Buffer,
  ciphertext: AsyncIterable<Buffer>,
  key: DerivedVaultKey,
  source: string,
  consume: (plaintext: Buffer) => void,
): Promise<void> {
  const decipher = decipherFor(header, key, source);
  for await (const piece of ciphertext) {
    const plaintext = decipher.update(piece);
    if (plaintext.length > 0) consume(plaintext);
  }
  let last: Buffer;
  try {
    last = decipher.final();
  } catch {
    throw corruptFile(source, 'failed authentication: it is corrupt or was altered');
  }
  if (last.length > 0) consume(last);
}

/**
 * The snapshot's id: its IV, random for every write. A journal names the snapshot it extends by
 * it, and a reader that finds the same header (id and tag) and size knows the file is unchanged.
 */
export function snapshotId(bytes: Buffer): Buffer {
  return Buffer.from(bytes.subarray(MAGIC.length + 1 + KEY_ID_LENGTH, AAD_LENGTH));
}

/** The key id in hex, for logs (it identifies a key without revealing it). */
export function keyIdHex(key: DerivedVaultKey): string {
  return key.keyId.toString('hex');
}
