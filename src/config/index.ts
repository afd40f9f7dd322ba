/**
 * Configuration: the only reader of config files and of the environment.
 * See README.md "Configuration reference" for every field, and load-config.ts for precedence.
 */
export { loadConfig, loadConfigOrThrow, displayPath, ENV_OVERRIDES } from './load-config.js';
export type { LoadConfigOptions, LoadedConfig, LoadResult } from './load-config.js';
export { ConfigError, type ConfigIssue } from './config-issue.js';
export { SIMULATOR_ENDPOINT, LOG_LEVELS, serviceConfigSchema } from './service-schema.js';
export type { AccountConfig, AwsSecretsManagerConfig, FileVaultConfig, KeepJobs, LogLevel, ServiceConfig, VaultConfig } from './service-schema.js';
export { SERVER_STATUSES, targetSchema } from './target-schema.js';
export type { TargetConfig, TargetSelector } from './target-schema.js';
export { accountEnvSuffix, credentialVariables } from './credentials.js';
export type { CredentialSources, ResolvedCredentials } from './credentials.js';
export { describeSource, type SecretSource } from './env-secret.js';
export type { VaultKeySource } from './vault-key-source.js';
export { cronProblem, formatInZone, isValidTimezone, nextFireTimes } from './schedule.js';
export { accountEndpointUrl } from './account-endpoint.js';
