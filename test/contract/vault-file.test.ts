/** The Vault port's contract suite, run against the encrypted file vault on a real temp file. */
import { join } from 'node:path';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';
import { LABEL_CURRENT } from '../../src/ports/vault.js';
import { describeVaultContract } from './vault-contract.js';

describeVaultContract('encrypted file vault', async () => {
  const temp = await tempDir();
  const vault = await openFileVault({
    path: join(temp.dir, 'vault', 'vault.json.enc'),
    key: randomKey(),
    clock: wallClock,
    logger: captureLogger().logger,
  });
  return {
    vault,
    // `rotator vault get` reads AWSCURRENT through the port: that is the file vault's default reader.
    defaultRead: async (key) => (await vault.getVersion(key, { label: LABEL_CURRENT }))?.value.password,
    cleanup: temp.remove,
  };
});
