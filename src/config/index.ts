/**
 * Configuration: the only reader of config files and of the environment.
 * See README.md "Configuration reference" for every field, and load-config.ts for precedence.
 */
export { loadConfig, loadConfigOrThrow } from './load-config.js';
export type { LoadConfigOptions, LoadedConfig } from './load-config.js';
export type { ConfigIssue } from './config-issue.js';
export { SIMULATOR_ENDPOINT } from './service-schema.js';
export type { VaultConfig } from './service-schema.js';
export type { TargetConfig } from './target-schema.js';
export type { CredentialSources } from './credentials.js';
export { describeSource } from './env-secret.js';
export type { VaultKeySource } from './vault-key-source.js';
export { cronProblem, formatInZone, isValidTimezone, nextFireTimes } from './schedule.js';
export { accountEndpointUrl } from './account-endpoint.js';
