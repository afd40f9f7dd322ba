/**
 * The file vault's key material: 32 bytes, written as their base64 text (whitespace ignored) or, in a
 * key file, as the 32 raw bytes. The one parser: the config check (src/config/vault-key-source.ts)
 * and the file vault (src/adapters/file-vault/vault-key.ts) both call it, each wrapping a problem in
 * its own error. A problem never echoes the material.
 */
export const VAULT_KEY_BYTES = 32;
/** Where the key may come from, besides `vault.file.keyFile`. */
export const VAULT_KEY_VARIABLE = 'ROTATOR_VAULT_KEY';
export const VAULT_KEY_FILE_VARIABLE = 'ROTATOR_VAULT_KEY_FILE';

const BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=$/;

/**
 * `raw` is the text of a variable (base64 only) or the bytes of a key file (base64 text or 32 raw
 * bytes); `origin` names it in the problem.
 */
export function parseVaultKeyMaterial(raw: Buffer | string, origin: string): { ok: true; key: Buffer } | { ok: false; problem: string } {
  if (Buffer.isBuffer(raw) && raw.length === VAULT_KEY_BYTES) return { ok: true, key: Buffer.from(raw) };
  const text = (Buffer.isBuffer(raw) ? raw.toString('utf8') : raw).replace(/\s+/g, '');
  if (!BASE64_32_BYTES.test(text)) {
    const rawBytes = Buffer.isBuffer(raw) ? ` or ${VAULT_KEY_BYTES} raw bytes` : '';
    const found = Buffer.isBuffer(raw) ? `${raw.length} bytes` : `${text.length} characters`;
    return {
      ok: false,
      problem:
        `${origin}: expected the base64 encoding of ${VAULT_KEY_BYTES} bytes (44 characters ending in "=")${rawBytes}, ` +
        `found ${found} (create a key with: openssl rand -base64 32)`,
    };
  }
  return { ok: true, key: Buffer.from(text, 'base64') };
}
