/**
 * createVault: builds the file vault from config (relative paths, key resolution, generation with a
 * warning, read-only mode) and the AWS Secrets Manager vault (against the real emulator over HTTP).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createVault } from '../../src/adapters/create-vault.js';
import type { VaultConfig } from '../../src/config/index.js';
import { isRotatorError } from '../../src/domain/rotator-error.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import { LABEL_CURRENT, type SecretKey, type SecretPayload } from '../../src/ports/vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';

const key: SecretKey = { region: 'eu-west-101', projectId: 'aaaa1111bbbb2222cccc3333dddd4444', serverId: 'srv-create' };
const value: SecretPayload = {
  username: 'Administrator',
  password: 'Create!Vault-Pw1',
  serverId: key.serverId,
  serverName: 'win-1',
  osType: 'Windows',
  region: key.region,
  projectId: key.projectId,
  runId: 'run-create',
  createdAt: '2025-01-01T00:00:00.000Z',
  activation: 'after-reboot',
};
const TOKEN = 'run-create-test-batch-0000-generation-0';

async function roundTrip(vault: Awaited<ReturnType<typeof createVault>>): Promise<void> {
  await vault.ensureSecret(key);
  await vault.putPending(key, TOKEN, value);
  await vault.promote(key, TOKEN, undefined);
  expect((await vault.getVersion(key, { label: LABEL_CURRENT }))?.value).toEqual(value);
}

describe('createVault: file', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    temp = await tempDir('create-vault-');
  });
  afterEach(() => temp.remove());

  const fileConfig = (path: string, keyFile?: string): VaultConfig => ({ kind: 'file', file: { path, keyFile } });

  it('resolves relative paths against cwd, generates a key once with a warning, and reopens with it', async () => {
    const log = captureLogger();
    const first = await createVault(fileConfig('state/vault.json.enc', 'state/vault.key'), {
      env: {},
      logger: log.logger,
      clock: wallClock,
      cwd: temp.dir,
    });
    await roundTrip(first);
    await first.close();
    expect((await stat(join(temp.dir, 'state', 'vault.json.enc'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(temp.dir, 'state', 'vault.key'))).mode & 0o777).toBe(0o600);
    expect(log.records().filter((r) => r.level === 40 && String(r.msg).includes('BACK IT UP'))).toHaveLength(1);

    const again = await createVault(fileConfig('state/vault.json.enc', 'state/vault.key'), {
      env: {},
      logger: log.logger,
      clock: wallClock,
      cwd: temp.dir,
    });
    expect((await again.getVersion(key, { label: LABEL_CURRENT }))?.value.password).toBe(value.password);
    await again.close();
    expect(log.records().filter((r) => r.level === 40)).toHaveLength(1);
    expect(log.text()).not.toContain(value.password);
  });

  it('uses var/vault.key under cwd when the config names no key file', async () => {
    const vault = await createVault(fileConfig(join(temp.dir, 'v.enc')), { env: {}, logger: captureLogger().logger, clock: wallClock, cwd: temp.dir });
    await vault.close();
    expect((await stat(join(temp.dir, 'var', 'vault.key'))).isFile()).toBe(true);
  });

  it('takes the key from ROTATOR_VAULT_KEY, and a different key is refused by the existing vault', async () => {
    const k = randomKey();
    const config = fileConfig(join(temp.dir, 'v.enc'), join(temp.dir, 'unused.key'));
    const vault = await createVault(config, { env: { ROTATOR_VAULT_KEY: k.toString('base64') }, logger: captureLogger().logger, clock: wallClock });
    await roundTrip(vault);
    await vault.close();
    await expect(stat(join(temp.dir, 'unused.key'))).rejects.toThrow(/ENOENT/);
    const wrong = await createVault(config, { env: { ROTATOR_VAULT_KEY: randomKey().toString('base64') }, logger: captureLogger().logger, clock: wallClock }).catch(
      (error: unknown) => error,
    );
    expect(isRotatorError(wrong) && wrong.code).toBe('VAULT_WRONG_KEY_OR_CORRUPT');
  });

  it('read-only: fails with VAULT_NOT_FOUND and creates nothing when there is no vault yet', async () => {
    const config = fileConfig(join(temp.dir, 'none', 'v.enc'), join(temp.dir, 'none', 'v.key'));
    const error = await createVault(config, { env: {}, logger: captureLogger().logger, clock: wallClock, readOnly: true }).catch((e: unknown) => e);
    expect(isRotatorError(error) && error.code).toBe('VAULT_NOT_FOUND');
    await expect(stat(join(temp.dir, 'none'))).rejects.toThrow(/ENOENT/);
  });
});

describe('createVault: aws-secrets-manager (against the emulator)', () => {
  let emulator: SecretsManagerEmulator;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  beforeAll(async () => {
    emulator = await startSecretsManagerEmulator({ port: 0 });
    // The adapter uses the SDK's default credential chain, as in production; dummy keys for the emulator.
    process.env.AWS_ACCESS_KEY_ID = 'AKIDCREATEVAULT';
    process.env.AWS_SECRET_ACCESS_KEY = 'dummy-for-emulator';
  });
  afterAll(async () => {
    await emulator.close();
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });

  it('builds the AWS adapter from the config and stores through it', async () => {
    const config: VaultConfig = {
      kind: 'aws-secrets-manager',
      file: { path: '/nonexistent/never-used.enc' },
      awsSecretsManager: {
        region: 'eu-west-1',
        endpoint: emulator.url,
        nameTemplate: 'create-test/{region}/{projectId}/{serverId}',
        tags: { team: 'security' },
        writesPerSecond: 40,
        retryMode: 'standard',
        maxAttempts: 3,
      },
    };
    const vault = await createVault(config, { env: {}, logger: captureLogger().logger, clock: wallClock });
    try {
      await roundTrip(vault);
    } finally {
      await vault.close();
    }
    expect(emulator.secretNames()).toContain(`create-test/${key.region}/${key.projectId}/${key.serverId}`);
  });
});
