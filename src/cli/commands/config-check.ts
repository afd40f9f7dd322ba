/**
 * `rotator config check`: loads and validates the service config, the environment and every job file,
 * then prints the effective configuration (every secret as ***, with where it came from) and each
 * target's next fire times; or lists every problem found and exits 1.
 */
import { effectiveWorkerConcurrency, SERVERS_IN_FLIGHT } from '../../config/worker-concurrency.js';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import {
  accountEndpointUrl,
  describeSource,
  formatInZone,
  loadConfig,
  nextFireTimes,
  type CredentialSources,
  type LoadedConfig,
  type TargetConfig,
  type VaultKeySource,
} from '../../config/index.js';
import { maskUrlPassword } from '../../config/config-issue.js';
import { formatDuration, passwordAgePolicy } from '../../compliance/password-age-policy.js';

interface CheckOptions {
  json?: boolean;
  at?: string;
  fireTimes: string;
}

export function register(program: Command): void {
  const config = program.command('config').description('inspect the configuration (see `config check`)');
  config
    .command('check')
    .summary('validate the config and every job file; print the effective config and next fire times')
    .description(
      'validate config/default.yaml, your --config file, the environment and every job file; print the effective ' +
        'configuration (secrets as ***) and each target\'s next fire times, or every problem found (exit code 1)',
    )
    .option('--json', 'print the result as JSON')
    .option('--at <time>', 'compute fire times after this ISO-8601 instant instead of now')
    .option('--fire-times <n>', 'fire times to show per target', '3')
    .action(async (options: CheckOptions, command: Command) => {
      const globals = command.optsWithGlobals<{ config?: string; jobs?: string }>();
      const fromMs = options.at === undefined ? Date.now() : Date.parse(options.at);
      const count = Number(options.fireTimes);
      if (Number.isNaN(fromMs)) command.error(`--at: expected an ISO-8601 time such as 2025-06-01T12:00:00Z, found ${JSON.stringify(options.at)}`);
      if (!Number.isInteger(count) || count < 0 || count > 100) command.error(`--fire-times: expected an integer from 0 to 100, found ${JSON.stringify(options.fireTimes)}`);

      const result = await loadConfig({ configPath: globals.config, jobsDir: globals.jobs, env: process.env, cwd: process.cwd() });
      if (!result.ok) {
        if (options.json === true) process.stdout.write(`${JSON.stringify({ ok: false, issues: result.issues }, null, 2)}\n`);
        const n = result.issues.length;
        process.stderr.write(`rotator config check: ${n} problem${n === 1 ? '' : 's'} found:\n`);
        for (const issue of result.issues) process.stderr.write(`  ${issue.message}\n`);
        process.exitCode = 1;
        return;
      }
      const report = buildReport(result.config, fromMs, count);
      process.stdout.write(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
    });
}

interface TargetReport {
  name: string;
  file: string;
  enabled: boolean;
  account: { name: string; region: string; projectId: string; endpoint: string };
  schedule: string;
  timezone: string;
  nextFireTimes: { iso: string; local: string }[];
  selector: string;
  passwordPolicy: string;
  batching: string;
  /** The maximum password age and where it comes from. */
  compliance: string;
  /** Notification channels that get this target's events. */
  notifications: string[];
}

interface CheckReport {
  ok: true;
  files: string[];
  jobsDir: string;
  service: unknown;
  secrets: { name: string; value: '***'; source: string }[];
  targets: TargetReport[];
  /** `limits.workerConcurrency` as set, and the batches a worker runs at once with these targets. */
  workerConcurrency: { setting: number | 'auto'; effective: number };
  warnings: string[];
}

/** Everything shown, with secrets replaced by *** (none of them is read here, only their sources). */
function buildReport(config: LoadedConfig, fromMs: number, count: number): CheckReport {
  const { service } = config;
  const printable = structuredClone(service) as unknown as { redis: { url: string } };
  printable.redis.url = maskUrlPassword(printable.redis.url);

  const secrets: CheckReport['secrets'] = [];
  for (const account of service.accounts) {
    const sources = config.credentialSources[account.name];
    if (sources === undefined) continue;
    if ('problem' in sources) secrets.push({ name: `account ${account.name}`, value: '***', source: `not set: ${sources.problem}` });
    else for (const [part, source] of Object.entries((sources as CredentialSources).parts)) {
      secrets.push({ name: `account ${account.name} ${partName(part)}`, value: '***', source: describeSource(source) });
    }
  }
  if (config.vaultKeySource !== undefined) secrets.push({ name: 'file vault key', value: '***', source: describeVaultKey(config.vaultKeySource) });
  if (config.httpTokenSource !== undefined) secrets.push({ name: 'HTTP bearer token', value: '***', source: describeSource(config.httpTokenSource) });
  for (const channel of service.notifications.channels) {
    const sources = config.notificationChannel(channel.name)?.sources;
    if (sources?.secret !== undefined) secrets.push({ name: `notification channel ${channel.name} signing secret`, value: '***', source: describeSource(sources.secret) });
    if (sources !== undefined && sources.url !== 'config') secrets.push({ name: `notification channel ${channel.name} URL`, value: '***', source: describeSource(sources.url) });
  }
  if (/^rediss?:\/\/[^@/]*:[^@/]*@/.test(service.redis.url)) secrets.push({ name: 'Redis password', value: '***', source: 'redis.url (or REDIS_URL)' });

  return {
    ok: true,
    files: [...config.files],
    jobsDir: config.jobsDir,
    service: printable,
    secrets,
    targets: config.targets.map((target) => targetReport(config, target, fromMs, count)),
    workerConcurrency: { setting: service.limits.workerConcurrency, effective: effectiveWorkerConcurrency(service.limits.workerConcurrency, config.targets) },
    warnings: [...config.warnings],
  };
}

function targetReport(config: LoadedConfig, target: TargetConfig, fromMs: number, count: number): TargetReport {
  const account = config.account(target.account);
  const { selector, passwordPolicy: policy } = target;
  const filters = [
    selector.serverIds.length > 0 ? `${selector.serverIds.length} server id${selector.serverIds.length === 1 ? '' : 's'} (${abbreviate(selector.serverIds)})` : undefined,
    Object.keys(selector.tags).length > 0 ? `tags ${Object.entries(selector.tags).map(([k, v]) => `${k}=${v}`).join(', ')}` : undefined,
    selector.name === undefined ? undefined : `name ~ ${JSON.stringify(selector.name)}`,
    selector.status === undefined ? undefined : `status ${selector.status}`,
    selector.enterpriseProjectId === undefined ? undefined : `enterprise project ${selector.enterpriseProjectId}`,
  ].filter((part) => part !== undefined);
  return {
    name: target.name,
    file: target.file,
    enabled: target.enabled,
    account: { name: account.name, region: account.region, projectId: account.projectId, endpoint: accountEndpointUrl(account, config.service) },
    schedule: target.schedule,
    timezone: target.timezone,
    nextFireTimes: nextFireTimes(target.schedule, target.timezone, count, fromMs).map((at) => ({
      iso: at.toISOString(),
      local: formatInZone(at, target.timezone),
    })),
    selector: filters.join('; '),
    passwordPolicy: `${policy.length} characters with ${policy.requiredClasses.join(', ')}; specials ${policy.specials === '' ? '(none)' : policy.specials}`,
    batching:
      `${target.uniquePerServer ? 'one password and one call per server' : `up to ${target.batchSize} servers per call sharing one password`}; ` +
      `restart ${target.restartPolicy}; dry-run preflight ${target.dryRunPreflight ? 'on' : 'off'}`,
    compliance: ((age) => `maximum password age ${formatDuration(age.maxAgeMs)}: ${age.description}`)(passwordAgePolicy(target, fromMs)),
    notifications: config.service.notifications.channels
      .filter((c) => c.targets === 'all' || target.notify.includes(c.name))
      .map((c) => `${c.name} (${c.kind}: ${c.events.join(', ')})`),
  };
}

function renderText(report: CheckReport): string {
  const lines: string[] = ['rotator config check: OK', '', 'Files read:'];
  for (const file of report.files) lines.push(`  ${file}`);
  lines.push('', 'Effective service config:');
  for (const line of stringify(report.service).trimEnd().split('\n')) lines.push(`  ${line}`);
  const { setting, effective } = report.workerConcurrency;
  lines.push(
    '',
    setting === 'auto'
      ? `Worker concurrency: auto, ${effective} batches at once per worker with these targets (about ${SERVERS_IN_FLIGHT} servers in flight by the largest batchSize)`
      : `Worker concurrency: ${effective} batches at once per worker`,
  );
  lines.push('', 'Secrets (values never shown):');
  for (const secret of report.secrets) lines.push(`  ${secret.name}: ${secret.value}  (${secret.source})`);
  lines.push('', `Targets (${report.targets.length}, from ${report.jobsDir}):`);
  for (const t of report.targets) {
    lines.push(`  ${t.name}  [${t.enabled ? 'enabled' : 'disabled'}]  ${t.file}`);
    lines.push(`    account:   ${t.account.name} (region ${t.account.region}, project ${t.account.projectId}, ${t.account.endpoint})`);
    lines.push(`    schedule:  ${t.schedule}  in ${t.timezone}${t.enabled ? '' : '  (not scheduled while disabled)'}`);
    lines.push(`    next runs: ${t.nextFireTimes.map((f) => f.local).join('  |  ') || '(none)'}`);
    lines.push(`    selector:  ${t.selector}`);
    lines.push(`    passwords: ${t.passwordPolicy}`);
    lines.push(`    batches:   ${t.batching}`);
    lines.push(`    policy:    ${t.compliance}`);
    lines.push(`    notify:    ${t.notifications.join('; ') || '(no channel)'}`);
  }
  if (report.warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const warning of report.warnings) lines.push(`  ${warning}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeVaultKey(source: VaultKeySource): string {
  switch (source.kind) {
    case 'env':
      return `env ${source.variable}`;
    case 'file':
      return source.variable === undefined ? `file ${source.path} (vault.file.keyFile)` : `file ${source.path} (from ${source.variable})`;
    case 'to-be-generated':
      return `none yet: the file vault generates one into ${source.path} at first start`;
  }
}

function partName(part: string): string {
  return part === 'accessKey' ? 'access key' : part === 'secretKey' ? 'secret key' : part;
}

function abbreviate(ids: readonly string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')}, …`;
}
