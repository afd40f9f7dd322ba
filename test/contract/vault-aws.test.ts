/**
 * The Vault contract against the AWS Secrets Manager adapter: by default against the in-process
 * emulator driven by the real SDK; when AWS_ENDPOINT_URL_SECRETS_MANAGER is set (LocalStack, a
 * real account), against that endpoint instead, with the SDK's own endpoint resolution (the
 * adapter is given no endpoint) and a unique name prefix whose secrets are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SecretKey } from '../../src/ports/vault.js';
import { createAwsSecretsManagerVault } from '../../src/adapters/aws-secrets-manager/aws-secrets-manager-vault.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { startSecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import { describeVaultContract } from './vault-contract.js';

/** GetSecretValue without VersionStage (AWSCURRENT), as any AWS reader does: its `password`, if any. */
function defaultReader(client: SecretsManagerClient, nameOf: (key: SecretKey) => string) {
  return async (key: SecretKey): Promise<string | undefined> => {
    const value = (await client.send(new GetSecretValueCommand({ SecretId: nameOf(key) }))).SecretString ?? '{}';
    const password = (JSON.parse(value) as { password?: unknown }).password;
    return typeof password === 'string' ? password : undefined;
  };
}

const externalEndpoint = process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'];

if (externalEndpoint) {
  describeVaultContract(`AWS Secrets Manager adapter against ${externalEndpoint}`, async () => {
    const prefix = `rotator-contract-${randomBytes(6).toString('hex')}`;
    const region = process.env['AWS_REGION'] ?? 'us-east-1';
    const credentials = process.env['AWS_ACCESS_KEY_ID'] ? undefined : { accessKeyId: 'test', secretAccessKey: 'test' };
    const vault = createAwsSecretsManagerVault(
      { region, credentials, nameTemplate: `${prefix}/{region}/{projectId}/{serverId}` },
      { clock: systemClock },
    );
    const client = new SecretsManagerClient({ region, ...(credentials ? { credentials } : {}) });
    return {
      vault,
      defaultRead: defaultReader(client, (k) => `${prefix}/${k.region}/${k.projectId}/${k.serverId}`),
      async cleanup() {
        // Delete what this run created (the shared backend outlives the test).
        let nextToken: string | undefined;
        do {
          const page = await client.send(
            new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], NextToken: nextToken, MaxResults: 100 }),
          );
          for (const secret of page.SecretList ?? []) {
            await client.send(new DeleteSecretCommand({ SecretId: secret.Name, ForceDeleteWithoutRecovery: true }));
          }
          nextToken = page.NextToken;
        } while (nextToken);
        client.destroy();
      },
    };
  });
} else {
  describeVaultContract('AWS Secrets Manager adapter against the emulator', async () => {
    const emulator = await startSecretsManagerEmulator();
    const vault = createAwsSecretsManagerVault(
      { region: 'eu-west-1', endpoint: emulator.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } },
      { clock: systemClock },
    );
    const client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } });
    return {
      vault,
      defaultRead: defaultReader(client, (k) => `ecs/${k.region}/${k.projectId}/${k.serverId}`),
      cleanup: async () => {
        client.destroy();
        await emulator.close();
      },
    };
  });
}
