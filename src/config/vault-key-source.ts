/**
 * Which key the file vault will use, checked at load so that a malformed key is a config error before
 * anything starts. Order: `ROTATOR_VAULT_KEY` (base64 of 32 bytes), `ROTATOR_VAULT_KEY_FILE`, then
 * `vault.file.keyFile`. When none exists yet the file vault generates one into `vault.file.keyFile`
 * at start (src/adapters/file-vault/vault-key.ts, which also refuses to do so if the vault file already
 * exists); that adapter is the runtime reader, this module only checks and describes.
 */
import { existsSync } from 'node:fs';
import { FileTooLargeError, MAX_SECRET_FILE_BYTES, readFileBoundedSync } from './bounded-read.js';
import { isAbsolute, resolve } from 'node:path';
import { parseVaultKeyMaterial, VAULT_KEY_FILE_VARIABLE, VAULT_KEY_VARIABLE } from '../domain/vault-key-material.js';
import type { Env } from './env-secret.js';
import { secretFilePathForMessage } from './secret-file-path.js';

export type VaultKeySource =
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'file'; readonly path: string; readonly variable?: string | undefined }
  /** No key yet: the file vault will generate one at `path` (unless the vault file exists). */
  | { readonly kind: 'to-be-generated'; readonly path: string };

export type VaultKeyCheck =
  | { ok: true; source: VaultKeySource; read: () => Buffer | undefined }
  | { ok: false; problem: string };

/** Parses key material without ever echoing it (the one parser: src/domain/vault-key-material.ts). */
function parseKeyMaterial(raw: Buffer | string, origin: string): Buffer {
  const parsed = parseVaultKeyMaterial(raw, origin);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.key;
}

export function checkVaultKey(env: Env, keyFile: string, cwd: string): VaultKeyCheck {
  const direct = env[VAULT_KEY_VARIABLE];
  const fileVar = env[VAULT_KEY_FILE_VARIABLE];
  if (direct !== undefined && direct !== '' && fileVar !== undefined && fileVar !== '') {
    return { ok: false, problem: `both ${VAULT_KEY_VARIABLE} and ${VAULT_KEY_FILE_VARIABLE} are set; set only one` };
  }
  try {
    if (direct !== undefined && direct !== '') {
      const key = parseKeyMaterial(direct, VAULT_KEY_VARIABLE);
      return { ok: true, source: { kind: 'env', variable: VAULT_KEY_VARIABLE }, read: () => Buffer.from(key) };
    }
    if (fileVar !== undefined && fileVar !== '') {
      const path = isAbsolute(fileVar) ? fileVar : resolve(cwd, fileVar);
      const read = (): Buffer =>
        parseKeyMaterial(readOrThrow(path, VAULT_KEY_FILE_VARIABLE, secretFilePathForMessage(VAULT_KEY_FILE_VARIABLE, fileVar, path)), `${VAULT_KEY_FILE_VARIABLE} (${path})`);
      read();
      return { ok: true, source: { kind: 'file', path, variable: VAULT_KEY_FILE_VARIABLE }, read };
    }
    if (existsSync(keyFile)) {
      const read = (): Buffer => parseKeyMaterial(readOrThrow(keyFile, 'vault.file.keyFile'), `vault.file.keyFile (${keyFile})`);
      read();
      return { ok: true, source: { kind: 'file', path: keyFile }, read };
    }
  } catch (error) {
    return { ok: false, problem: (error as Error).message };
  }
  return {
    ok: true,
    source: { kind: 'to-be-generated', path: keyFile },
    read: () => (existsSync(keyFile) ? parseKeyMaterial(readOrThrow(keyFile, 'vault.file.keyFile'), `vault.file.keyFile (${keyFile})`) : undefined),
  };
}

/** `shownPath`: how a message names the file when it cannot be read (see secret-file-path.ts). */
function readOrThrow(path: string, origin: string, shownPath = path): Buffer {
  try {
    return readFileBoundedSync(path, MAX_SECRET_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) throw new Error(`${origin}: ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes (not a key file)`);
    throw new Error(`${origin}: cannot read ${shownPath} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
}
