/** Where the file vault's key comes from, and the generated key file's safety (real temp files). */
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveVaultKey } from '../../src/adapters/file-vault/vault-key.js';
import { isRotatorError, type RotatorError } from '../../src/domain/rotator-error.js';
import { captureLogger, tempDir, type CapturedLog } from '../fixtures/file-vault/support.js';

async function rejection(promise: Promise<unknown>): Promise<RotatorError> {
  try {
    await promise;
  } catch (error) {
    expect(isRotatorError(error)).toBe(true);
    return error as RotatorError;
  }
  throw new Error('expected a rejection');
}

describe('resolveVaultKey', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let log: CapturedLog;
  beforeEach(async () => {
    temp = await tempDir('vault-key-');
    log = captureLogger();
  });
  afterEach(() => temp.remove());

  it('prefers ROTATOR_VAULT_KEY (base64 of 32 bytes) and writes no file', async () => {
    const key = randomBytes(32);
    const keyFile = join(temp.dir, 'k', 'vault.key');
    const resolved = await resolveVaultKey({ env: { ROTATOR_VAULT_KEY: key.toString('base64') }, keyFile, logger: log.logger });
    expect(resolved.source).toBe('env');
    expect(resolved.key.equals(key)).toBe(true);
    await expect(stat(keyFile)).rejects.toThrow(/ENOENT/);
  });

  it('rejects a ROTATOR_VAULT_KEY of the wrong length, naming the variable and not echoing it', async () => {
    const short = randomBytes(16).toString('base64');
    const error = await rejection(
      resolveVaultKey({ env: { ROTATOR_VAULT_KEY: short }, keyFile: join(temp.dir, 'x'), logger: log.logger }),
    );
    expect(error.code).toBe('VAULT_INVALID_KEY');
    expect(error.message).toContain('ROTATOR_VAULT_KEY');
    expect(error.message).toMatch(/base64 encoding of 32 bytes/);
    expect(error.message).not.toContain(short);
  });

  it('reads ROTATOR_VAULT_KEY_FILE, and fails clearly when that file is missing', async () => {
    const key = randomBytes(32);
    const file = join(temp.dir, 'env.key');
    await writeFile(file, `  ${key.toString('base64')}\n`);
    const resolved = await resolveVaultKey({ env: { ROTATOR_VAULT_KEY_FILE: file }, keyFile: join(temp.dir, 'cfg.key'), logger: log.logger });
    expect(resolved).toMatchObject({ source: 'env-file', file });
    expect(resolved.key.equals(key)).toBe(true);

    const missing = join(temp.dir, 'missing.key');
    const error = await rejection(
      resolveVaultKey({ env: { ROTATOR_VAULT_KEY_FILE: missing }, keyFile: join(temp.dir, 'cfg.key'), logger: log.logger }),
    );
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ROTATOR_VAULT_KEY_FILE');
  });

  it('a key put into ROTATOR_VAULT_KEY_FILE by mistake is not printed back as a path', async () => {
    const key = randomBytes(32).toString('base64');
    const error = await rejection(resolveVaultKey({ env: { ROTATOR_VAULT_KEY_FILE: key }, keyFile: join(temp.dir, 'cfg.key'), cwd: temp.dir, logger: log.logger }));
    expect(error.code).toBe('VAULT_INVALID_KEY');
    expect(error.message).toContain('ROTATOR_VAULT_KEY_FILE');
    expect(error.message).toContain('to pass a value, not a path, set ROTATOR_VAULT_KEY');
    expect(error.message).not.toContain(key);
    // No path at all: the resolved "path" would be the working directory and the key.
    expect(error.message).not.toContain(temp.dir);
  });

  it('accepts a key file of 32 raw bytes', async () => {
    const key = randomBytes(32);
    const keyFile = join(temp.dir, 'raw.key');
    await writeFile(keyFile, key);
    const resolved = await resolveVaultKey({ env: {}, keyFile, logger: log.logger });
    expect(resolved.source).toBe('key-file');
    expect(resolved.key.equals(key)).toBe(true);
  });

  it('rejects a malformed key file, naming it', async () => {
    const keyFile = join(temp.dir, 'bad.key');
    await writeFile(keyFile, 'not-a-key\n');
    const error = await rejection(resolveVaultKey({ env: {}, keyFile, logger: log.logger }));
    expect(error.code).toBe('VAULT_INVALID_KEY');
    expect(error.message).toContain(keyFile);
    expect(error.message).not.toContain('not-a-key');
  });

  it('generates a key file 0600 (directories 0700) with a WARNING to back it up, then reuses it', async () => {
    const keyFile = join(temp.dir, 'var', 'secrets', 'vault.key');
    const first = await resolveVaultKey({ env: {}, keyFile, logger: log.logger });
    expect(first.source).toBe('generated');
    expect(first.key).toHaveLength(32);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(temp.dir, 'var', 'secrets'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(temp.dir, 'var'))).mode & 0o777).toBe(0o700);
    expect(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64').equals(first.key)).toBe(true);

    const warnings = log.records().filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toMatch(/BACK IT UP/);
    expect(String(warnings[0]?.msg)).toContain(keyFile);
    expect(log.text()).not.toContain(first.key.toString('base64'));

    const second = await resolveVaultKey({ env: {}, keyFile, logger: log.logger });
    expect(second.source).toBe('key-file');
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('agrees on one key when several callers generate at once', async () => {
    const keyFile = join(temp.dir, 'race', 'vault.key');
    const results = await Promise.all(Array.from({ length: 5 }, () => resolveVaultKey({ env: {}, keyFile, logger: log.logger })));
    for (const result of results) expect(result.key.equals(results[0]!.key)).toBe(true);
    expect(results.filter((r) => r.source === 'generated')).toHaveLength(1);
  });

  it('never generates a key for a vault that already exists', async () => {
    const vaultPath = join(temp.dir, 'vault.json.enc');
    await writeFile(vaultPath, 'existing vault');
    const keyFile = join(temp.dir, 'lost.key');
    const error = await rejection(resolveVaultKey({ env: {}, keyFile, vaultPath, logger: log.logger }));
    expect(error.code).toBe('VAULT_INVALID_KEY');
    expect(error.message).toMatch(/restore the key/);
    await expect(stat(keyFile)).rejects.toThrow(/ENOENT/);
  });
});
