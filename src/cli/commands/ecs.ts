/**
 * `rotator ecs servers <target>`: previews which servers a target covers and whether each can be
 * rotated (and why not), using the same client, resolver and eligibility rules as the workers.
 * Read-only: it lists servers and asks their reset-plug-in flag; it never resets anything.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { loadConfigOrThrow, accountEndpointUrl } from '../../config/index.js';
import { createEcsClient } from '../../adapters/huawei-ecs/create-ecs-client.js';
import { isEcsApiError } from '../../adapters/huawei-ecs/ecs-api-error.js';
import { systemClock } from '../../adapters/system-clock.js';
import { cryptoRandom } from '../../adapters/crypto-random.js';
import { createLogger } from '../../observability/logger.js';
import { EcsClientErrorCode, OutcomeCode, ServiceErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import type { EcsApi } from '../../ports/ecs-api.js';
import { checkEligibility } from '../../rotation/eligibility.js';
import { resolveTargetServers } from '../../rotation/resolve-servers.js';
import type { ServerSelector } from '../../rotation/resolve-servers.js';

/** One line of the preview. */
export interface ServerPreviewRow {
  id: string;
  name: string | undefined;
  osType: string | undefined;
  status: string | undefined;
  eligible: boolean;
  /** `locked`, `status`, `os-type-unknown`, `no-reset-plugin`, `not-found`, or `flag-check-failed`. */
  code: string | undefined;
  reason: string | undefined;
}

/** Reset-flag lookups in flight at once (each is one rate-limited GET). */
const FLAG_CONCURRENCY = 8;

/**
 * Resolves the selector and checks every server's eligibility, asking the reset-plug-in flag only of
 * servers that pass the cheaper checks. Rows come in the resolver's order, a few at a time.
 */
export async function* previewServers(ecs: EcsApi, selector: ServerSelector, signal?: AbortSignal): AsyncGenerator<ServerPreviewRow> {
  let window: Promise<ServerPreviewRow>[] = [];
  for await (const resolved of resolveTargetServers(ecs, selector, { signal })) {
    if (resolved.kind === 'not-found') {
      window.push(
        Promise.resolve({ id: resolved.serverId, name: undefined, osType: undefined, status: undefined, eligible: false, code: OutcomeCode.notFound, reason: 'no such server (404)' }),
      );
    } else {
      window.push(rowFor(ecs, resolved.server, signal));
    }
    if (window.length >= FLAG_CONCURRENCY) {
      for (const row of await Promise.all(window)) yield row;
      window = [];
    }
  }
  for (const row of await Promise.all(window)) yield row;
}

async function rowFor(ecs: EcsApi, server: Parameters<typeof checkEligibility>[0], signal?: AbortSignal): Promise<ServerPreviewRow> {
  const base = { id: server.id, name: server.name, osType: server.osType, status: server.status };
  const before = checkEligibility(server, undefined);
  if (!before.eligible) return { ...base, eligible: false, code: before.code, reason: before.reason };
  let flag: boolean;
  try {
    flag = await ecs.getResetPasswordFlag(server.id, { signal });
  } catch (error) {
    // Auth failures stop the preview; anything else is reported on the server's line.
    if (isEcsApiError(error) && (error.httpStatus === 401 || error.httpStatus === 403 || error.code === EcsClientErrorCode.aborted)) throw error;
    const code = error instanceof RotatorError ? error.code : 'ERROR';
    return { ...base, eligible: false, code: OutcomeCode.flagCheckFailed, reason: `could not read resetpwd_flag: ${code}` };
  }
  const after = checkEligibility(server, flag);
  return after.eligible ? { ...base, eligible: true, code: undefined, reason: undefined } : { ...base, eligible: false, code: after.code, reason: after.reason };
}

/** `12 servers: 9 eligible, 3 not (locked 1, status 2)` */
export function countLine(counts: Map<string, number>, total: number, eligible: number): string {
  const reasons = [...counts.entries()].map(([code, n]) => `${code} ${n}`).join(', ');
  return `${total} server${total === 1 ? '' : 's'}: ${eligible} eligible, ${total - eligible} not${reasons ? ` (${reasons})` : ''}`;
}

function cell(value: string | undefined, width: number): string {
  const text = value ?? '-';
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

interface ServersOptions {
  json?: boolean;
}

async function runServers(targetName: string, options: ServersOptions, command: Command): Promise<void> {
  const globals = command.optsWithGlobals<{ config?: string; jobs?: string }>();
  const config = await loadConfigOrThrow({ configPath: globals.config, jobsDir: globals.jobs, env: process.env, cwd: process.cwd() });
  const target = config.target(targetName);
  if (!target) {
    const known = config.targets.map((t) => t.name).join(', ') || 'none';
    throw new RotatorError({ code: ServiceErrorCode.unknownTarget, message: `target "${targetName}" not found (known targets: ${known})`, retryable: false });
  }
  const account = config.account(target.account);
  // Retry warnings go to stderr so that stdout stays the table (or JSON).
  const logger = createLogger({
    level: config.service.logging.level === 'silent' ? 'silent' : 'warn',
    name: 'ecs-servers',
    destination: pino.destination({ dest: 2, sync: true }),
    pretty: false,
  });
  const client = createEcsClient({ ...account, endpoint: accountEndpointUrl(account, config.service) }, config.credentials(account.name), {
    clock: systemClock,
    random: cryptoRandom,
    logger,
  });
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const counts = new Map<string, number>();
  let total = 0;
  let eligible = 0;
  const rows: ServerPreviewRow[] = [];
  try {
    if (!options.json) {
      out(`target ${target.name} (account ${account.name}, region ${account.region}, project ${account.projectId})`);
      out(`${cell('ID', 36)}  ${cell('NAME', 24)}  ${cell('OS', 7)}  ${cell('STATUS', 11)}  ELIGIBLE`);
    }
    for await (const row of previewServers(client, target.selector)) {
      total += 1;
      if (row.eligible) eligible += 1;
      else counts.set(row.code ?? 'other', (counts.get(row.code ?? 'other') ?? 0) + 1);
      if (options.json) rows.push(row);
      else out(`${cell(row.id, 36)}  ${cell(row.name, 24)}  ${cell(row.osType, 7)}  ${cell(row.status, 11)}  ${row.eligible ? 'yes' : `no: ${row.code} (${row.reason})`}`);
    }
  } finally {
    client.close();
  }
  if (options.json) {
    out(
      JSON.stringify(
        { target: target.name, account: account.name, region: account.region, projectId: account.projectId, total, eligible, ineligible: Object.fromEntries(counts), servers: rows },
        null,
        2,
      ),
    );
  } else {
    out(countLine(counts, total, eligible));
  }
}

export function register(program: Command): void {
  const ecs = program.command('ecs').description('read-only looks at the Huawei ECS API, as the workers see it (see `ecs servers`)');
  ecs
    .command('servers')
    .description("list a target's servers and whether each can be rotated (checks lock, status, OS type and the reset plug-in)")
    .argument('<target>', 'target name (from the job files)')
    .option('--json', 'print JSON instead of a table')
    .action(async (targetName: string, options: ServersOptions, command: Command) => {
      await runServers(targetName, options, command);
    });
}
