/**
 * The file vault reads its file whole; a file larger than any vault this service writes (a wrong
 * path, a corrupted size) is refused before a buffer of that size is allocated (issue 13: size caps
 * on every file the service reads). A sparse file gives the size without the disk space.
 */
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { MAX_VAULT_FILE_BYTES, openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';

const removers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const remove of removers.splice(0)) await remove();
});

it('refuses a vault file over the cap with VAULT_WRONG_KEY_OR_CORRUPT, naming the file', async () => {
  const { dir, remove } = await tempDir();
  removers.push(remove);
  const path = join(dir, 'vault.json.enc');
  await writeFile(path, '');
  await truncate(path, MAX_VAULT_FILE_BYTES + 1);
  const error = await openFileVault({ path, key: randomKey(), clock: wallClock, logger: captureLogger().logger }).then(
    async (vault) => {
      await vault.close();
      return undefined;
    },
    (e: unknown) => e as { code: string; message: string },
  );
  expect(error?.code).toBe('VAULT_WRONG_KEY_OR_CORRUPT');
  expect(error?.message).toContain(`${path} is larger than ${MAX_VAULT_FILE_BYTES} bytes`);
});
