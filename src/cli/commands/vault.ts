/**
 * `rotator vault list [target]` and `rotator vault get <server-id>`: the operator's window on the
 * vault the service is configured with (file or AWS Secrets Manager).
 *
 * `list` never shows a password. `get` prints exactly one password, on explicit request, as the
 * only thing on stdout (so that `$(rotator vault get …)` or a pipe gets nothing else), and logs
 * to stderr that it was read: server, label, version and the OS user who asked, never the value.
 * Both are read-only: they never generate a vault key nor create a vault file.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import pino, { type Logger } from 'pino';
import { createVault } from '../../adapters/create-vault.js';
import { systemClock } from '../../adapters/system-clock.js';
import { loadConfigOrThrow, type LoadedConfig } from '../../config/index.js';
import { ServiceErrorCode, VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import { createLogger, type CreateLoggerOptions } from '../../observability/logger.js';
import { LABEL_CURRENT, type SecretDescription, type SecretKey, type Vault, type VersionSelector } from '../../ports/vault.js';

interface Globals {
  config?: string;
  jobs?: string;
}

interface Scope {
  /** What the scope was derived from, for messages. */
  label: string;
  region: string;
  projectId: string;
}

function cliError(code: string, message: string): RotatorError {
  return new RotatorError({ code, message, retryable: false });
}

async function loadAll(command: Command): Promise<LoadedConfig> {
  const globals = command.optsWithGlobals<Globals>();
  return loadConfigOrThrow({ configPath: globals.config, jobsDir: globals.jobs, env: process.env, cwd: process.cwd() });
}

/** Logs go to stderr; stdout carries only the command's output. */
function stderrLogger(config: LoadedConfig, name: string, atLeastInfo: boolean): Logger {
  const configured = config.service.logging.level;
  const level = atLeastInfo && !['trace', 'debug', 'info'].includes(configured) ? 'info' : configured;
  return createLogger({
    level: level as CreateLoggerOptions['level'],
    name,
    destination: pino.destination({ dest: 2, sync: true }),
    pretty: false,
  });
}

function scopeOf(config: LoadedConfig, target: string | undefined, account: string | undefined): Scope | undefined {
  if (target !== undefined && account !== undefined) {
    throw cliError(ServiceErrorCode.cliUsage, 'give either --target or --account, not both');
  }
  if (target !== undefined) {
    const found = config.target(target);
    if (found === undefined) {
      const known = config.targets.map((t) => t.name).join(', ') || 'none';
      throw cliError(ServiceErrorCode.unknownTarget, `target "${target}" not found (known targets: ${known})`);
    }
    const acc = config.account(found.account);
    return { label: `target ${found.name} (account ${acc.name})`, region: acc.region, projectId: acc.projectId };
  }
  if (account !== undefined) {
    const acc = config.account(account);
    return { label: `account ${acc.name}`, region: acc.region, projectId: acc.projectId };
  }
  return undefined;
}

async function withVault<T>(config: LoadedConfig, logger: Logger, use: (vault: Vault) => Promise<T>): Promise<T> {
  const vault = await createVault(config.service.vault, {
    env: process.env,
    logger,
    clock: systemClock,
    cwd: process.cwd(),
    readOnly: true,
  });
  try {
    return await use(vault);
  } finally {
    await vault.close();
  }
}

/** `run-2025…b0-g0`: long version ids shortened for the table (the JSON has them whole). */
export function shortVersionId(versionId: string): string {
  return versionId.length <= 20 ? versionId : `${versionId.slice(0, 8)}…${versionId.slice(-8)}`;
}

/** `AWSCURRENT=abc…  AWSPREVIOUS=def…`, one entry per label, current first. */
export function labelSummary(description: SecretDescription): string {
  const order = (label: string): number => ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'].indexOf(label) >>> 0;
  return description.versions
    .flatMap((v) => v.labels.map((label) => ({ label, id: shortVersionId(v.versionId) })))
    .sort((a, b) => order(a.label) - order(b.label) || a.label.localeCompare(b.label))
    .map((e) => `${e.label}=${e.id}`)
    .join(' ');
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

interface ListOptions {
  account?: string;
  json?: boolean;
}

async function runList(target: string | undefined, options: ListOptions, command: Command): Promise<void> {
  const config = await loadAll(command);
  const scope = scopeOf(config, target, options.account);
  const logger = stderrLogger(config, 'vault-list', false);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  await withVault(config, logger, async (vault) => {
    const filter = scope === undefined ? undefined : { region: scope.region, projectId: scope.projectId };
    const rows: SecretDescription[] = [];
    if (!options.json) {
      if (scope !== undefined) out(`${scope.label}: region ${scope.region}, project ${scope.projectId}`);
      out(`${'SERVER ID'.padEnd(36)}  ${'LAST CHANGE'.padEnd(24)}  LABELS (version ids)`);
    }
    for await (const description of vault.list(filter)) {
      if (options.json) rows.push(description);
      else out(`${description.key.serverId.padEnd(36)}  ${iso(description.lastChangedAt).padEnd(24)}  ${labelSummary(description) || '-'}`);
    }
    if (options.json) {
      out(
        JSON.stringify(
          rows.map((d) => ({
            serverId: d.key.serverId,
            name: d.name,
            region: d.key.region,
            projectId: d.key.projectId,
            lastChangedAt: d.lastChangedAt === undefined ? null : iso(d.lastChangedAt),
            versions: d.versions.map((v) => ({ versionId: v.versionId, labels: v.labels, createdAt: iso(v.createdAt) })),
          })),
          null,
          2,
        ),
      );
    }
  });
}

interface GetOptions {
  label?: string;
  version?: string;
  target?: string;
  account?: string;
}

/** Finds the server's secret: in the given scope, or across the vault when the id is unique. */
async function findKey(vault: Vault, serverId: string, scope: Scope | undefined): Promise<SecretKey> {
  if (scope !== undefined) {
    const key = { region: scope.region, projectId: scope.projectId, serverId };
    if ((await vault.describe(key)) === undefined) {
      throw cliError(VaultErrorCode.secretNotFound, `no secret for server ${serverId} in ${scope.label} (region ${scope.region}, project ${scope.projectId})`);
    }
    return key;
  }
  const matches: SecretKey[] = [];
  for await (const description of vault.list()) if (description.key.serverId === serverId) matches.push(description.key);
  if (matches.length === 0) throw cliError(VaultErrorCode.secretNotFound, `no secret for server ${serverId} in the vault`);
  if (matches.length > 1) {
    const where = matches.map((k) => `${k.region}/${k.projectId}`).join(', ');
    throw cliError(ServiceErrorCode.cliAmbiguousServer, `server ${serverId} has secrets in several projects (${where}): give --target or --account`);
  }
  return matches[0]!;
}

/** A full version id, or the shortened form `list` shows (`abcdefgh…12345678`) when it is unambiguous. */
function versionSelector(description: SecretDescription, version: string): VersionSelector {
  if (description.versions.some((v) => v.versionId === version)) return { versionId: version };
  const [head, tail] = version.split('…');
  const candidates = description.versions.filter((v) =>
    tail === undefined ? v.versionId.startsWith(version) : v.versionId.startsWith(head ?? '') && v.versionId.endsWith(tail),
  );
  if (candidates.length === 1) return { versionId: candidates[0]!.versionId };
  // Unlabelled versions are not described; the vault may still hold them under their exact id.
  return { versionId: version };
}

async function runGet(serverId: string, options: GetOptions, command: Command): Promise<void> {
  if (options.label !== undefined && options.version !== undefined) {
    throw cliError(ServiceErrorCode.cliUsage, 'give either --label or --version, not both');
  }
  const config = await loadAll(command);
  const scope = scopeOf(config, options.target, options.account);
  // The read itself is always logged, whatever the configured level.
  const logger = stderrLogger(config, 'vault-get', true);
  await withVault(config, logger, async (vault) => {
    const key = await findKey(vault, serverId, scope);
    const description = await vault.describe(key);
    if (description === undefined) throw cliError(VaultErrorCode.secretNotFound, `no secret for server ${serverId}`);
    const selector: VersionSelector =
      options.version !== undefined ? versionSelector(description, options.version) : { label: options.label ?? LABEL_CURRENT };
    const version = await vault.getVersion(key, selector);
    if (version === undefined) {
      const present = labelSummary(description) || 'none';
      const wanted = 'label' in selector ? `labelled ${selector.label}` : `with id ${selector.versionId}`;
      throw cliError(VaultErrorCode.versionNotFound, `secret ${description.name} has no version ${wanted} (labels present: ${present})`);
    }
    let who: string;
    try {
      who = userInfo().username;
    } catch {
      who = `uid ${process.getuid?.() ?? 'unknown'}`;
    }
    logger.info(
      {
        event: 'vault-password-read',
        serverId,
        // Not "secret": the logger scrubs such keys, and the name is no secret.
        entry: description.name,
        label: 'label' in selector ? selector.label : undefined,
        versionId: version.versionId,
        labels: version.labels,
        who,
      },
      'vault: password read by operator',
    );
    process.stdout.write(`${version.value.password}\n`);
  });
}

export function register(program: Command): void {
  const vault = program.command('vault').description('look into the vault: list secrets (never passwords), or read one password (see `vault list`, `vault get`)');
  vault
    .command('list')
    .description('one row per server secret: labels present (with short version ids) and last change; no passwords')
    .argument('[target]', "only this target's account region/project")
    .option('--account <name>', "only this account's region/project")
    .option('--json', 'print JSON (full version ids) instead of a table')
    .action(async (target: string | undefined, options: ListOptions, command: Command) => {
      await runList(target, options, command);
    });
  vault
    .command('get')
    .description(
      "Print one server's password (AWSCURRENT unless --label/--version) to stdout, and nothing else; the read is logged to stderr",
    )
    .argument('<server-id>', 'ECS server id')
    .option('--label <label>', 'staging label: AWSCURRENT, AWSPREVIOUS, AWSPENDING, ROTATOR_ACTIVE, … (default AWSCURRENT)')
    .option('--version <id>', 'a version id (as `vault list --json` shows, or the short form of the table)')
    .option('--target <name>', "look in this target's account region/project")
    .option('--account <name>', "look in this account's region/project")
    .action(async (serverId: string, options: GetOptions, command: Command) => {
      await runGet(serverId, options, command);
    });
}
