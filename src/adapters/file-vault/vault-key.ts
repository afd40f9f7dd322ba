/**
 * Where the file vault's key comes from, in order:
 *   1. `ROTATOR_VAULT_KEY`: base64 of 32 bytes;
 *   2. `ROTATOR_VAULT_KEY_FILE`: a file holding the key (must exist);
 *   3. the configured key file (`vault.file.keyFile`);
 *   4. none of these exists: a new random key is written to the configured key file (mode 0600,
 *      directories 0700) with a WARNING to back it up: losing the key loses every password.
 * A key file holds the base64 text of the 32 bytes (whitespace ignored), or exactly 32 raw bytes.
 *
 * A key is never generated when the vault file already exists (pass `vaultPath`): a vault without
 * its key is unreadable, and a fresh key would only hide that until the first write failed.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { FileTooLargeError, MAX_SECRET_FILE_BYTES, readFileBounded } from '../../config/bounded-read.js';
import { secretFilePathForMessage } from '../../config/secret-file-path.js';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDirectory } from './atomic-write.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { parseVaultKeyMaterial, VAULT_KEY_FILE_VARIABLE, VAULT_KEY_VARIABLE } from '../../domain/vault-key-material.js';
import { ioError, vaultError } from './vault-errors.js';
import { VAULT_KEY_LENGTH } from './vault-file-format.js';


export interface ResolveVaultKeyOptions {
  /** The environment to read ROTATOR_VAULT_KEY(_FILE) from (callers pass process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** The configured key file (absolute, or relative to the process's cwd); generated here when nothing else gives a key. */
  keyFile: string;
  /** When given and this file exists, a missing key is an error instead of a new key. */
  vaultPath?: string | undefined;
  /**
   * Whether a missing key may be generated. Read-only tools (`rotator vault list/get`) pass false:
   * they must never create a key as a side effect.
   * @defaultValue true
   */
  generate?: boolean | undefined;
  /** Base of a relative ROTATOR_VAULT_KEY_FILE. @defaultValue the process's working directory */
  cwd?: string | undefined;
  logger: Logger;
}

export interface ResolvedVaultKey {
  key: Buffer;
  /** Where it came from, for logs and `config check` (never the key itself). */
  source: 'env' | 'env-file' | 'key-file' | 'generated';
  /** The file it was read from or written to. */
  file?: string | undefined;
}

/** Parses a key given as base64 text (or, from a file, 32 raw bytes); `origin` names it in errors. */
function parseVaultKey(raw: Buffer | string, origin: string): Buffer {
  const parsed = parseVaultKeyMaterial(raw, origin);
  if (!parsed.ok) throw vaultError(VaultErrorCode.invalidKey, parsed.problem);
  return parsed.key;
}

/** `shownPath`: how a message names the file when it cannot be read (see src/config/secret-file-path.ts). */
async function readKeyFile(file: string, origin: string, shownPath = file): Promise<Buffer | undefined> {
  let raw: Buffer;
  try {
    raw = await readFileBounded(file, MAX_SECRET_FILE_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof FileTooLargeError) throw vaultError(VaultErrorCode.invalidKey, `${origin} ${file}: larger than ${MAX_SECRET_FILE_BYTES} bytes (not a key file)`);
    throw ioError('reading key file', shownPath, error);
  }
  return parseVaultKey(raw, `${origin} ${file}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError('checking', path, error);
  }
}

export async function resolveVaultKey(options: ResolveVaultKeyOptions): Promise<ResolvedVaultKey> {
  const { env, keyFile, vaultPath, logger } = options;
  const fromEnv = env[VAULT_KEY_VARIABLE];
  const envFileSetting = env[VAULT_KEY_FILE_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '' && envFileSetting !== undefined && envFileSetting !== '') {
    // Same rule as the config check (src/config/vault-key-source.ts): one source, no guessing.
    throw vaultError(VaultErrorCode.invalidKey, `both ${VAULT_KEY_VARIABLE} and ${VAULT_KEY_FILE_VARIABLE} are set; set only one`);
  }
  if (fromEnv !== undefined && fromEnv !== '') {
    return { key: parseVaultKey(fromEnv, VAULT_KEY_VARIABLE), source: 'env' };
  }
  if (envFileSetting !== undefined && envFileSetting !== '') {
    const envFile = resolve(options.cwd ?? process.cwd(), envFileSetting);
    const shown = secretFilePathForMessage(VAULT_KEY_FILE_VARIABLE, envFileSetting, envFile);
    const key = await readKeyFile(envFile, VAULT_KEY_FILE_VARIABLE, shown);
    if (key === undefined) {
      throw vaultError(VaultErrorCode.invalidKey, `${VAULT_KEY_FILE_VARIABLE}: the key file ${shown} does not exist`);
    }
    return { key, source: 'env-file', file: envFile };
  }
  const existing = await readKeyFile(keyFile, 'vault key file');
  if (existing !== undefined) return { key: existing, source: 'key-file', file: keyFile };

  if (vaultPath !== undefined && (await exists(vaultPath))) {
    throw vaultError(
      VaultErrorCode.invalidKey,
      `file vault: ${vaultPath} exists but its key file ${keyFile} does not (and neither ${VAULT_KEY_VARIABLE} nor ${VAULT_KEY_FILE_VARIABLE} is set);` +
        ' restore the key from your backup: a new key cannot open the existing vault',
    );
  }
  if (options.generate === false) {
    throw vaultError(
      VaultErrorCode.invalidKey,
      `file vault: no key: ${keyFile} does not exist and neither ${VAULT_KEY_VARIABLE} nor ${VAULT_KEY_FILE_VARIABLE} is set`,
    );
  }
  return generateKeyFile(keyFile, logger);
}

/**
 * Writes a new key so that it appears complete or not at all, and so that two processes starting
 * at once agree on one key: the key is written to a temp file, synced, then hard-linked to the
 * key file's name (link fails if the name exists); the loser reads the winner's key.
 */
async function generateKeyFile(keyFile: string, logger: Logger): Promise<ResolvedVaultKey> {
  const dir = dirname(keyFile);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError('creating the directory of key file', keyFile, error);
  }
  const key = randomBytes(VAULT_KEY_LENGTH);
  const temp = `${keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let won: boolean;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${key.toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, keyFile);
      won = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      won = false;
    }
  } catch (error) {
    throw ioError('writing key file', keyFile, error);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  if (!won) {
    const theirs = await readKeyFile(keyFile, 'vault key file');
    if (theirs === undefined) throw vaultError(VaultErrorCode.invalidKey, `file vault: key file ${keyFile} vanished while starting`);
    return { key: theirs, source: 'key-file', file: keyFile };
  }
  await fsyncDirectory(dir);
  logger.warn(
    { keyFile },
    `file vault: generated a NEW vault key in ${keyFile} (mode 0600). BACK IT UP NOW, apart from the vault: ` +
      'losing this key loses every password in the vault.',
  );
  return { key, source: 'generated', file: keyFile };
}
