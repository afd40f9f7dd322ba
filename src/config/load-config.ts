/**
 * Reads and validates everything the service is configured with, and reports EVERY problem at once:
 * `config/default.yaml`, the operator's file layered over it, the environment (credentials, REDIS_URL,
 * ROTATOR_*), and every job file. This module and its siblings are the only readers of config files
 * and of the environment; callers pass `env` (normally `process.env`) and `cwd`.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';
import { ConfigError, configIssue, type ConfigIssue } from './config-issue.js';
import { planCredentials, type CredentialPlan, type CredentialSources, type ResolvedCredentials } from './credentials.js';
import { deepFreeze, deepMerge, isMapping, provides } from './deep-merge.js';
import { describeSource, lookupEnvSecret, type Env, type EnvSecretRef, type SecretSource } from './env-secret.js';
import { defaultConfigFile } from './package-root.js';
import { serviceConfigSchema, SIMULATOR_ENDPOINT, type AccountConfig, type ServiceConfig } from './service-schema.js';
import { firesPerMinute } from './schedule.js';
import { targetSchema, type TargetConfig } from './target-schema.js';
import { planNotificationSecrets, type ChannelSecrets } from './notification-secrets.js';
import { checkVaultKey, type VaultKeySource } from './vault-key-source.js';
import { readYamlFile } from './yaml-file.js';
import { expectedText, toConfigIssues } from './zod-issues.js';

export interface LoadConfigOptions {
  /**
   * Service config file layered over default.yaml (relative paths resolve against `cwd`).
   * @defaultValue `env.ROTATOR_CONFIG`; when unset, default.yaml alone.
   */
  configPath?: string | undefined;
  /**
   * Directory of job files (`*.yaml`/`*.yml`, one target each).
   * @defaultValue `env.ROTATOR_JOBS_DIR`; else, with a config file, the first existing of `<its dir>/jobs`
   * and `<its dir>/../jobs`; else the package's `jobs/`.
   */
  jobsDir?: string | undefined;
  /** The environment (pass `process.env`); read for credentials, REDIS_URL and ROTATOR_* variables. */
  env: Env;
  /** Working directory: relative paths (options, `*_FILE` variables, vault paths in YAML) resolve against it. */
  cwd: string;
  /** @defaultValue the package's `config/default.yaml` (tests may point elsewhere). */
  defaultConfigPath?: string | undefined;
}

export interface LoadedConfig {
  readonly service: ServiceConfig;
  /** Every target, enabled or not, sorted by name. */
  readonly targets: readonly TargetConfig[];
  /** Files read, as displayed in messages: default.yaml, the override (if any), then the job files. */
  readonly files: readonly string[];
  /** Absolute path of the override file, if any. */
  readonly configPath: string | undefined;
  /** Absolute path of the jobs directory. */
  readonly jobsDir: string;
  /** Things that work but deserve a look (printed by `config check`, logged at start). */
  readonly warnings: readonly string[];
  /** Where each account's credentials come from, or why they are missing. Holds no secret. */
  readonly credentialSources: Readonly<Record<string, CredentialSources | { readonly problem: string }>>;
  /** Where the file vault's key comes from (undefined unless `vault.kind` is `file`). */
  readonly vaultKeySource: VaultKeySource | undefined;
  /** Where the HTTP bearer token comes from (undefined unless `http.auth.mode` is `token`). */
  readonly httpTokenSource: SecretSource | undefined;
  /** The account named so, or throws `RotatorError` `CONFIG_UNKNOWN_ACCOUNT`. */
  account(name: string): AccountConfig;
  /** The target named so, if any. */
  target(name: string): TargetConfig | undefined;
  /**
   * The account's credentials, read now (a `_FILE` is re-read on every call, so a refreshed token
   * file is picked up). Throws `RotatorError` `CONFIG_CREDENTIALS_MISSING` naming the variables to set.
   */
  credentials(accountName: string): ResolvedCredentials;
  /** The file vault key (a fresh copy), or undefined when none exists yet (the file vault then generates one). */
  vaultKey(): Buffer | undefined;
  /** The HTTP bearer token, when `http.auth.mode` is `token`. */
  httpToken(): string | undefined;
  /** URL and signing secret of a notification channel (read on each call; files re-read). */
  notificationChannel(name: string): ChannelSecrets | undefined;
}

export type LoadResult = { ok: true; config: LoadedConfig } | { ok: false; issues: ConfigIssue[] };

const HTTP_TOKEN_VARIABLE = 'ROTATOR_HTTP_TOKEN';

/** Environment variables that override one field of the service config. */
export const ENV_OVERRIDES: readonly { variable: string; path: readonly string[] }[] = [
  { variable: 'REDIS_URL', path: ['redis', 'url'] },
  { variable: 'ROTATOR_LOG_LEVEL', path: ['logging', 'level'] },
];

export async function loadConfig(options: LoadConfigOptions): Promise<LoadResult> {
  const { env, cwd } = options;
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const display = (path: string): string => displayPath(path, cwd);

  // 1. Service config: default.yaml, the override, then env overrides.
  const defaultPath = options.defaultConfigPath ?? defaultConfigFile();
  const configOption = options.configPath ?? nonEmpty(env.ROTATOR_CONFIG);
  const configPath = configOption === undefined ? undefined : resolve(cwd, configOption);
  const files = [display(defaultPath)];

  const base = await readYamlFile(defaultPath, display(defaultPath));
  if (!base.ok) issues.push(...base.issues);
  let override: unknown;
  if (configPath !== undefined) {
    files.push(display(configPath));
    const read = await readYamlFile(configPath, display(configPath));
    if (!read.ok) issues.push(...read.issues);
    else if (read.value !== null && !isMapping(read.value)) {
      issues.push(configIssue(display(configPath), '', 'a mapping of settings (key: value)', 'another kind of document'));
    } else override = read.value ?? undefined;
  }
  const baseValue = base.ok ? base.value : undefined;
  let merged = deepMerge(baseValue, override);
  const envSourced = new Map<string, string>();
  for (const { variable, path } of ENV_OVERRIDES) {
    const value = nonEmpty(env[variable]);
    if (value === undefined || !isMapping(merged)) continue;
    merged = deepMerge(merged, path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value));
    envSourced.set(path.join('.'), variable);
  }

  let service: ServiceConfig | undefined;
  if (base.ok) {
    const parsed = serviceConfigSchema.safeParse(merged, { reportInput: true, error: expectedText });
    if (parsed.success) {
      service = resolveServicePaths(parsed.data as unknown as ServiceConfig, cwd);
    } else {
      // Blame the layer that provided the value: an env variable, the override, or default.yaml.
      for (const issue of parsed.error.issues) {
        const key = issue.path.join('.');
        const file =
          envSourced.get(key) !== undefined
            ? `${envSourced.get(key)} (environment)`
            : configPath !== undefined && (provides(override, issue.path) || !provides(baseValue, issue.path))
              ? display(configPath)
              : display(defaultPath);
        issues.push(...toConfigIssues(file, [issue]));
      }
    }
  }
  const serviceFile = display(configPath ?? defaultPath);
  // Account names as written, for cross-file checks even when the service config has other errors.
  const accountNames = new Set<string>(
    isMapping(merged) && Array.isArray(merged.accounts)
      ? merged.accounts.flatMap((a: unknown) => (isMapping(a) && typeof a.name === 'string' ? [a.name] : []))
      : [],
  );

  // 2. Job files.
  const jobsDir = await resolveJobsDir(options.jobsDir ?? nonEmpty(env.ROTATOR_JOBS_DIR), configPath, defaultPath, cwd, warnings);
  const targets: TargetConfig[] = [];
  const jobFiles = await listJobFiles(jobsDir);
  if (!jobFiles.ok) {
    issues.push(configIssue(display(jobsDir), '', 'a directory of job files (*.yaml), given with --jobs or ROTATOR_JOBS_DIR', jobFiles.found));
  } else {
    if (jobFiles.files.length === 0) warnings.push(`no job files (*.yaml) in ${display(jobsDir)}: nothing will be scheduled`);
    const namesSeen = new Map<string, string>();
    for (const file of jobFiles.files) {
      const shown = display(file);
      files.push(shown);
      const read = await readYamlFile(file, shown);
      if (!read.ok) {
        issues.push(...read.issues);
        continue;
      }
      if (!isMapping(read.value)) {
        issues.push(
          configIssue(shown, '', 'a mapping describing one target (name, account, schedule, selector, …)', read.value === null ? 'an empty file' : 'another kind of document'),
        );
        continue;
      }
      const parsed = targetSchema.safeParse(read.value, { reportInput: true, error: expectedText });
      const raw = read.value;
      // Cross-file checks use the raw values so that they are reported alongside the schema's.
      if (typeof raw.name === 'string') {
        const other = namesSeen.get(raw.name);
        if (other !== undefined) {
          issues.push(configIssue(shown, 'name', `a target name not used by another job file`, `${JSON.stringify(raw.name)} (also the name in ${other})`));
        } else namesSeen.set(raw.name, shown);
      }
      if (typeof raw.account === 'string' && base.ok && !accountNames.has(raw.account)) {
        const known = [...accountNames].join(', ');
        issues.push(
          configIssue(shown, 'account', `the name of an account in ${serviceFile} (${known === '' ? 'none defined' : known})`, JSON.stringify(raw.account)),
        );
      }
      if (!parsed.success) {
        issues.push(...toConfigIssues(shown, parsed.error.issues));
        continue;
      }
      const perMinute = firesPerMinute(parsed.data.schedule);
      if (perMinute > 1) {
        // Slots are minutes (src/domain/job-ids.ts slotOf): the extra ticks silently add up to one run.
        warnings.push(
          `${shown}: schedule: ${JSON.stringify(parsed.data.schedule)} fires ${perMinute} times a minute, but a target runs at most once a minute ` +
            '(each run is keyed by its minute); give the seconds field one value, e.g. 0',
        );
      }
      targets.push({ ...(parsed.data as Omit<TargetConfig, 'file'>), file: shown });
    }
  }

  // 3. Credentials and secrets from the environment (only when the service config parsed).
  const credentialPlans = new Map<string, CredentialPlan>();
  const credentialSources: Record<string, CredentialSources | { problem: string }> = {};
  let vaultKeySource: VaultKeySource | undefined;
  let readVaultKey: () => Buffer | undefined = () => undefined;
  let httpTokenRef: EnvSecretRef | undefined;
  let notificationSecrets = new Map<string, ChannelSecrets>();
  if (service !== undefined) {
    const notify = planNotificationSecrets(service.notifications.channels, targets, env, cwd);
    issues.push(...notify.issues);
    notificationSecrets = notify.secrets;
    for (const account of service.accounts) {
      const plan = planCredentials(account, env, cwd);
      const users = targets.filter((t) => t.enabled && t.account === account.name).map((t) => t.name);
      if (plan.ok) {
        credentialPlans.set(account.name, plan.plan);
        credentialSources[account.name] = plan.plan.sources;
      } else {
        credentialSources[account.name] = { problem: plan.problem };
        if (users.length > 0) {
          issues.push(
            configIssue(
              'environment',
              `credentials of account ${account.name}`,
              `${account.auth === 'token' ? 'a token' : 'an access key and secret key'} (the account is used by enabled target${users.length === 1 ? '' : 's'} ${users.join(', ')})`,
              plan.problem,
            ),
          );
        } else {
          warnings.push(`account ${account.name} has no usable credentials (${plan.problem}); no enabled target uses it yet`);
        }
      }
      checkEndpoint(account, service, users, issues, warnings, serviceFile);
    }

    if (service.vault.kind === 'file') {
      const key = checkVaultKey(env, service.vault.file.keyFile ?? join(cwd, 'var', 'vault.key'), cwd);
      if (!key.ok) issues.push(configIssue('environment', 'vault key', 'a usable file vault key', key.problem));
      else {
        vaultKeySource = key.source;
        readVaultKey = key.read;
        if (key.source.kind === 'file') {
          const exposed = await keyFileExposure(key.source.path);
          if (exposed !== undefined) {
            warnings.push(
              `the file vault key ${display(key.source.path)} is ${exposed}: anyone who can read it can decrypt every password in the vault; run chmod 600 ${display(key.source.path)}`,
            );
          }
        }
        if (key.source.kind === 'to-be-generated') {
          warnings.push(
            `no file vault key yet: one will be generated at ${display(key.source.path)} on first start; back it up apart from the vault (losing it loses every password)`,
          );
        }
      }
    }

    const token = lookupEnvSecret(env, HTTP_TOKEN_VARIABLE, `${HTTP_TOKEN_VARIABLE}_FILE`, cwd);
    if (service.http.auth.mode === 'token') {
      if (token.kind === 'invalid') issues.push(configIssue('environment', HTTP_TOKEN_VARIABLE, 'the HTTP bearer token', token.problem));
      else if (token.kind === 'absent') {
        issues.push(
          configIssue('environment', HTTP_TOKEN_VARIABLE, `a bearer token in ${HTTP_TOKEN_VARIABLE} or ${HTTP_TOKEN_VARIABLE}_FILE (http.auth.mode is token)`, 'neither is set'),
        );
      } else {
        httpTokenRef = token.ref;
        if (token.ref.read().length < 16) warnings.push(`${describeSource(token.ref.source)}: the HTTP token is shorter than 16 characters`);
      }
    } else if (!isLoopback(service.http.host)) {
      const exposure = service.http.readOnly ? 'anyone who can reach it sees run history' : 'anyone who can reach it can start rotations';
      if (service.http.allowUnauthenticatedNetwork) {
        warnings.push(`http.host ${service.http.host} is reachable from other machines and http.auth.mode is none: ${exposure}`);
      } else {
        issues.push(
          configIssue(
            serviceFile,
            'http.host',
            `a loopback address (127.0.0.1, ::1, localhost) while http.auth.mode is none, or http.auth.mode: token (${exposure}); ` +
              'set http.allowUnauthenticatedNetwork: true only if something else guards the port',
            JSON.stringify(service.http.host),
          ),
        );
      }
    }
  }

  if (issues.length > 0 || service === undefined) return { ok: false, issues };

  targets.sort((a, b) => a.name.localeCompare(b.name));
  const frozenService = deepFreeze(service);
  const frozenTargets = deepFreeze(targets);
  const byName = new Map(frozenTargets.map((t) => [t.name, t]));
  const config: LoadedConfig = {
    service: frozenService,
    targets: frozenTargets,
    files: deepFreeze(files),
    configPath,
    jobsDir,
    warnings: deepFreeze(warnings),
    credentialSources: deepFreeze(credentialSources),
    vaultKeySource: vaultKeySource === undefined ? undefined : deepFreeze({ ...vaultKeySource }),
    httpTokenSource: httpTokenRef === undefined ? undefined : deepFreeze({ ...httpTokenRef.source }),
    account(name) {
      const account = frozenService.accounts.find((a) => a.name === name);
      if (account === undefined) {
        throw new RotatorError({ code: ServiceErrorCode.configUnknownAccount, retryable: false, message: `no account named ${JSON.stringify(name)} in the service config` });
      }
      return account;
    },
    target: (name) => byName.get(name),
    credentials(accountName) {
      const plan = credentialPlans.get(accountName);
      if (plan === undefined) {
        const source = credentialSources[accountName];
        const why = source !== undefined && 'problem' in source ? source.problem : `no account named ${JSON.stringify(accountName)} in the service config`;
        throw new RotatorError({ code: ServiceErrorCode.configCredentialsMissing, retryable: false, message: `credentials of account ${accountName}: ${why}` });
      }
      try {
        return plan.resolve();
      } catch (error) {
        // The message names variables and files only (see env-secret.ts).
        throw new RotatorError({
          code: ServiceErrorCode.configCredentialsMissing,
          retryable: false,
          message: `credentials of account ${accountName}: ${(error as Error).message}`,
        });
      }
    },
    vaultKey: () => readVaultKey(),
    httpToken: () => httpTokenRef?.read(),
    notificationChannel: (name) => notificationSecrets.get(name),
  };
  return { ok: true, config: Object.freeze(config) };
}

/** Like `loadConfig`, but throws a `ConfigError` listing every issue. */
export async function loadConfigOrThrow(options: LoadConfigOptions): Promise<LoadedConfig> {
  const result = await loadConfig(options);
  if (!result.ok) throw new ConfigError(result.issues);
  return result.config;
}

function checkEndpoint(account: AccountConfig, service: ServiceConfig, users: string[], issues: ConfigIssue[], warnings: string[], file: string): void {
  if (account.endpoint === SIMULATOR_ENDPOINT) {
    if (!service.simulator.enabled && users.length > 0) {
      warnings.push(
        `account ${account.name} uses the simulator but simulator.enabled is false: a simulator must be running at ${service.simulator.host}:${service.simulator.port}`,
      );
    }
    return;
  }
  const url = new URL(account.endpoint);
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    if (account.auth === 'token') {
      // A token is a bearer credential: over plain HTTP anyone on the path can replay it for 24 hours.
      issues.push(configIssue(file, `accounts[${service.accounts.indexOf(account)}].endpoint`, 'an https:// URL (token auth sends the token as is)', account.endpoint));
    } else {
      warnings.push(`account ${account.name}: endpoint ${account.endpoint} is plain HTTP (requests are signed, but bodies, new passwords included, travel in clear)`);
    }
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function resolveServicePaths(service: ServiceConfig, cwd: string): ServiceConfig {
  const file = service.vault.file;
  return {
    ...service,
    vault: {
      ...service.vault,
      file: { path: resolve(cwd, file.path), keyFile: file.keyFile === undefined ? undefined : resolve(cwd, file.keyFile) },
    } as ServiceConfig['vault'],
  };
}

async function resolveJobsDir(
  option: string | undefined,
  configPath: string | undefined,
  defaultPath: string,
  cwd: string,
  warnings: string[],
): Promise<string> {
  if (option !== undefined) return resolve(cwd, option);
  const packageJobs = resolve(dirname(defaultPath), '..', 'jobs');
  if (configPath !== undefined) {
    const candidates = [join(dirname(configPath), 'jobs'), join(dirname(configPath), '..', 'jobs')];
    for (const candidate of candidates) if (await isDirectory(candidate)) return resolve(candidate);
    // As README.md "Precedence" says: neither exists, so the package's jobs/ (config check shows it).
    warnings.push(`no jobs directory beside ${displayPath(configPath, cwd)} (jobs/ or ../jobs/): using ${displayPath(packageJobs, cwd)}; give --jobs or ROTATOR_JOBS_DIR to choose`);
  }
  return packageJobs;
}

/** "readable by group and others (mode 0644)" when the key file's mode lets others than its owner read it. */
async function keyFileExposure(path: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0) return undefined;
  const who = (mode & 0o040) !== 0 && (mode & 0o004) !== 0 ? 'group and others' : (mode & 0o040) !== 0 ? 'its group' : 'others';
  return `readable by ${who} (mode 0${mode.toString(8).padStart(3, '0')})`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listJobFiles(dir: string): Promise<{ ok: true; files: string[] } | { ok: false; found: string }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, found: code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'a file' : `a read error (${code ?? 'unknown'})` };
  }
  return {
    ok: true,
    files: names
      .filter((name) => /\.ya?ml$/i.test(name) && !name.startsWith('.'))
      .sort()
      .map((name) => join(dir, name)),
  };
}

/** Relative to `cwd` when inside it (`jobs/web.yaml`), else absolute. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
