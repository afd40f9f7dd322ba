/**
 * `rotator verify <target> [--servers id,…]`: verification by login on its own. For each server, finds
 * which labelled password logs in now (SSH, the target's `verify:` settings) and applies the label
 * rules (a verified password frees the older candidates). No reset, no reboot, no new password; never
 * prints a password. `--forget-host-key <serverId>` drops a server's recorded SSH host key (after a
 * legitimate rebuild), so that the next contact records the new one.
 * Exit codes: 0 every server verified; 2 some not (refused, unreachable, unverifiable, busy); 1 error.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { createVault } from '../../adapters/create-vault.js';
import { cryptoRandom } from '../../adapters/crypto-random.js';
import { createEcsClient } from '../../adapters/huawei-ecs/create-ecs-client.js';
import { RedisHostKeyStore } from '../../adapters/redis/redis-host-key-store.js';
import { RedisServerLocks } from '../../adapters/redis/redis-server-locks.js';
import { SshPasswordVerifier } from '../../adapters/ssh/ssh-password-verifier.js';
import { systemClock } from '../../adapters/system-clock.js';
import { accountEndpointUrl, SIMULATOR_ENDPOINT } from '../../config/index.js';
import { RotatorError } from '../../domain/rotator-error.js';
import { createLogger } from '../../observability/logger.js';
import { closeRedisConnection, createRedisConnection } from '../../queue/redis-connection.js';
import { resolveTargetServers } from '../../rotation/resolve-servers.js';
import { verifyTarget, type ServerVerificationReport } from '../../rotation/verify-target.js';
import { loadCliConfig, renderTable } from './status.js';

interface VerifyOptions {
  servers?: string;
  json?: boolean;
  forgetHostKey?: string;
}

export function register(program: Command): void {
  program
    .command('verify')
    .argument('<target>', 'target name (from the job files); its job file must have verify: {method: ssh, …}')
    .description('log in to each server of a target (SSH) to find which stored password is in effect; moves labels, never prints a password')
    .option('--servers <ids>', 'comma-separated server ids of the target (default: all its servers)')
    .option('--forget-host-key <serverId>', "forget the server's recorded SSH host key (after a rebuild), then exit")
    .option('--json', 'print JSON')
    .action(async (targetName: string, options: VerifyOptions, command: Command) => {
      const code = await runVerify(targetName, options, command);
      process.exitCode = code;
    });
}

async function runVerify(targetName: string, options: VerifyOptions, command: Command): Promise<number> {
  const config = await loadCliConfig(command);
  const target = config.target(targetName);
  if (target === undefined) {
    throw new RotatorError({ code: 'CLI_USAGE', message: `target ${JSON.stringify(targetName)} is not configured (known: ${config.targets.map((t) => t.name).join(', ') || 'none'})`, retryable: false });
  }
  const account = config.account(target.account);
  const logger = createLogger({
    level: config.service.logging.level === 'silent' ? 'silent' : 'warn',
    name: 'verify',
    destination: pino.destination({ dest: 2, sync: true }),
    pretty: false,
  });
  const redis = createRedisConnection(config.service.redis.url, 'rotator-cli');
  const prefix = config.service.redis.keyPrefix;
  const hostKeys = new RedisHostKeyStore({ redis, keyPrefix: prefix });
  try {
    if (options.forgetHostKey !== undefined) {
      await hostKeys.forget(options.forgetHostKey);
      process.stdout.write(`forgot the SSH host key of ${options.forgetHostKey}; the next login records the key it then shows\n`);
      return 0;
    }
    const ecs = createEcsClient({ ...account, endpoint: accountEndpointUrl(account, config.service) }, config.credentials(account.name), {
      clock: systemClock,
      random: cryptoRandom,
      logger,
    });
    const vault = await createVault(config.service.vault, { env: process.env, logger, clock: systemClock, cwd: process.cwd() });
    try {
      const ids: string[] = [];
      if (options.servers !== undefined) {
        ids.push(...options.servers.split(',').map((s) => s.trim()).filter((s) => s.length > 0));
        if (ids.length === 0) throw new RotatorError({ code: 'CLI_USAGE', message: '--servers: expected comma-separated server ids', retryable: false });
      } else {
        for await (const r of resolveTargetServers(ecs, target.selector, {})) ids.push(r.kind === 'found' ? r.server.id : r.serverId);
      }
      // The simulator's servers answer SSH on its sshPort (their addresses are its own loopback ones).
      const verify = account.endpoint === SIMULATOR_ENDPOINT ? { ...target.verify, port: config.service.simulator.sshPort } : target.verify;
      const reports = await verifyTarget(
        { ecs, vault, verifier: new SshPasswordVerifier({ hostKeys, clock: systemClock }), locks: new RedisServerLocks({ redis, keyPrefix: prefix }), logger },
        { target: { name: target.name, region: account.region, projectId: account.projectId, verify }, serverIds: ids },
      );
      print(target.name, reports, options.json === true);
      return reports.every((r) => r.result === 'verified') ? 0 : 2;
    } finally {
      ecs.close();
      await vault.close();
    }
  } finally {
    await closeRedisConnection(redis);
  }
}

function print(target: string, reports: readonly ServerVerificationReport[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ target, servers: reports }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    renderTable(
      ['server', 'result', 'version', 'labels / reason'],
      reports.map((r) => [r.serverId, r.result, r.versionId?.slice(0, 12) ?? '-', r.result === 'verified' ? (r.labels ?? []).join(',') : `${r.code ?? ''} ${r.reason ?? ''}`.trim()]),
    ),
  );
  const verified = reports.filter((r) => r.result === 'verified').length;
  process.stdout.write(`${verified} of ${reports.length} servers verified\n`);
}
