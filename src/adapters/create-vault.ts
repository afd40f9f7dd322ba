/**
 * Builds the configured `Vault`: the encrypted file vault (the embedded default) or AWS Secrets
 * Manager. The one place that knows both; everything else codes against the port.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { VaultConfig } from '../config/index.js';
import { VaultErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { Clock } from '../ports/clock.js';
import type { RateLimiter } from '../ports/rate-limiter.js';
import type { Vault } from '../ports/vault.js';
import { openFileVault } from './file-vault/file-vault.js';
import { resolveVaultKey } from './file-vault/vault-key.js';

export interface CreateVaultDeps {
  /** Environment holding ROTATOR_VAULT_KEY(_FILE) and the AWS SDK's variables (callers pass process.env). */
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  clock: Clock;
  /** Base of relative paths in the config. @defaultValue the process's working directory */
  cwd?: string | undefined;
  /** File vault: how long a write waits for another process's lock. @defaultValue 10000 */
  fileLockTimeoutMs?: number | undefined;
  /**
   * For read-only tools: never generate a file vault key, and fail with `VAULT_NOT_FOUND` when the
   * vault file does not exist yet (instead of creating anything).
   * @defaultValue false
   */
  readOnly?: boolean | undefined;
  /** AWS: a write limiter shared by every worker (e.g. Redis-backed). @defaultValue a local token bucket */
  awsWriteLimiter?: RateLimiter | undefined;
  /** AWS: a CreateSecret limiter shared by every worker. @defaultValue a local token bucket */
  awsCreateLimiter?: RateLimiter | undefined;
}

/** The key file used when the config names none: `var/vault.key` under cwd (as the config loader assumes). */
export function defaultKeyFile(cwd: string): string {
  return join(cwd, 'var', 'vault.key');
}

export async function createVault(config: VaultConfig, deps: CreateVaultDeps): Promise<Vault> {
  const cwd = deps.cwd ?? process.cwd();
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(cwd, path));
  if (config.kind === 'file') {
    const path = at(config.file.path);
    const keyFile = config.file.keyFile === undefined ? defaultKeyFile(cwd) : at(config.file.keyFile);
    if (deps.readOnly === true && !existsSync(path)) {
      throw new RotatorError({
        code: VaultErrorCode.notFound,
        message: `file vault: ${path} does not exist yet (nothing has been stored in it)`,
        retryable: false,
      });
    }
    const { key, source, file } = await resolveVaultKey({
      env: deps.env,
      keyFile,
      vaultPath: path,
      cwd,
      generate: deps.readOnly !== true,
      logger: deps.logger,
    });
    deps.logger.debug({ vault: path, keySource: source, keyFile: file }, 'file vault: key resolved');
    return openFileVault({ path, key, clock: deps.clock, logger: deps.logger, lockTimeoutMs: deps.fileLockTimeoutMs });
  }
  const aws = config.awsSecretsManager;
  // Loaded only for this vault: the AWS SDK costs a file-vault worker about 15 MB it never uses.
  const { createAwsSecretsManagerVault } = await import('./aws-secrets-manager/aws-secrets-manager-vault.js');
  return createAwsSecretsManagerVault(
    {
      region: aws.region,
      endpoint: aws.endpoint,
      nameTemplate: aws.nameTemplate,
      kmsKeyId: aws.kmsKeyId,
      description: aws.description,
      tags: { ...aws.tags },
      writesPerSecond: aws.writesPerSecond,
      retryMode: aws.retryMode,
      maxAttempts: aws.maxAttempts,
    },
    { clock: deps.clock, logger: deps.logger, writeLimiter: deps.awsWriteLimiter, createLimiter: deps.awsCreateLimiter },
  );
}
