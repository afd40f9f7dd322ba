/** `rotator history --server <id>`: the audit events of one server, newest first. No passwords. */
import type { Command } from 'commander';
import { RedisAuditLog } from '../../adapters/redis/index.js';
import { closeRedisConnection, connectRedis } from '../../queue/redis-connection.js';
import { isoOrDash, loadCliConfig, renderTable } from './status.js';

export function register(program: Command): void {
  program
    .command('history')
    .description('show the audit events (one per rotation step) of one server, newest first')
    .requiredOption('--server <id>', 'the ECS server id')
    .option('--limit <n>', 'events to show (1 to 10000)', '50')
    .option('--json', 'print JSON')
    .action(async (options: { server: string; limit: string; json?: boolean }, command: Command) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        command.error(`--limit: expected an integer from 1 to 10000, found ${JSON.stringify(options.limit)}`);
      }
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(options.server)) {
        command.error(`--server: expected an ECS server id ([A-Za-z0-9_-]), found ${JSON.stringify(options.server)}`);
      }
      const config = await loadCliConfig(command);
      const redis = await connectRedis(config.service.redis.url, 'rotator-cli');
      try {
        const log = new RedisAuditLog({ redis, keyPrefix: config.service.redis.keyPrefix });
        const events = await log.readServerHistory(options.server, limit);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
          return;
        }
        if (events.length === 0) {
          process.stdout.write(`server ${options.server}: no audit event found\n`);
          return;
        }
        process.stdout.write(
          renderTable(
            ['time', 'run', 'batch', 'step', 'outcome', 'code', 'version', 'detail'],
            events.map((e) => [
              isoOrDash(e.ts),
              e.runId,
              String(e.batchIndex),
              e.step,
              e.outcome,
              e.code ?? '-',
              e.versionId === undefined ? '-' : e.versionId.slice(0, 12),
              e.detail ?? '',
            ]),
          ),
        );
      } finally {
        await closeRedisConnection(redis);
      }
    });
}
