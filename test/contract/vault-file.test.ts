/** The Vault port's contract suite, run against the encrypted file vault on a real temp file. */
import { join } from 'node:path';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';
import { describeVaultContract } from './vault-contract.js';

describeVaultContract('encrypted file vault', async () => {
  const temp = await tempDir();
  const vault = await openFileVault({
    path: join(temp.dir, 'vault', 'vault.json.enc'),
    key: randomKey(),
    clock: wallClock,
    logger: captureLogger().logger,
  });
  return { vault, cleanup: temp.remove };
});
