/**
 * `rotator run [--role …]`: the long-lived service (scheduler, worker, dashboard roles).
 * `rotator demo`: everything on embedded defaults, one full rotation of the demo fleet, then stays up.
 */
import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { SIMULATOR_ENDPOINT } from '../../config/index.js';
import type { LoadedConfig } from '../../config/index.js';
import { ROLES, startService } from '../../main.js';
import { startHeapPolicy } from '../../heap-policy.js';
import { installShutdownSignals } from '../../shutdown-signals.js';
import type { Role } from '../../main.js';
import { createLogger } from '../../observability/logger.js';
import { createRedisConnection } from '../../queue/redis-connection.js';
import { startRunWatcher } from '../../queue/run-watcher.js';
import { loadCliConfig } from './status.js';
import { renderRunSummary } from './rotate.js';

export function parseRoles(value: string): Role[] {
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || bad.length > 0) {
    throw new Error(`--role: expected a comma-separated list of ${ROLES.join(', ')}, found ${JSON.stringify(value)}`);
  }
  return roles as Role[];
}

function serviceLogger(config: LoadedConfig, name: string): Logger {
  const { level, format } = config.service.logging;
  return createLogger({ level, name, ...(format === 'auto' ? {} : { pretty: format === 'pretty' }) });
}

function logWarnings(config: LoadedConfig, logger: Logger): void {
  for (const warning of config.warnings) logger.warn({ warning }, 'config warning');
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run the service: scheduler, worker and dashboard roles (all by default); SIGTERM stops gracefully')
    .addOption(new Option('--role <roles>', `comma-separated roles: ${ROLES.join(', ')}`).argParser(parseRoles))
    .action(async (options: { role?: Role[] }, command: Command) => {
      const config = await loadCliConfig(command);
      const roles = options.role ?? [...ROLES];
      const logger = serviceLogger(config, `rotator-${roles.join('+')}`);
      logWarnings(config, logger);
      // Process-wide (V8 flags): set here, where this process is the service, not in startService.
      startHeapPolicy({ targetMb: config.service.limits.heapTargetMb, logger });
      const service = await startService({ config, roles, logger, env: process.env, cwd: process.cwd() });
      installShutdownSignals(() => service.stop(), logger);
      logger.info(
        { roles, dashboard: service.http ? `${service.http.url}/ui` : undefined, targets: config.targets.filter((t) => t.enabled).map((t) => t.name) },
        'rotator: running',
      );
    });

  program
    .command('demo')
    .summary('run the whole service on embedded defaults, rotate the demo fleet once, stay up until Ctrl-C')
    .description(
      'start everything on embedded defaults (Redis at REDIS_URL or 127.0.0.1:6379, file vault, simulator fleet), ' +
        'rotate the demo fleet once, print the summary and the dashboard URL, and stay up until Ctrl-C',
    )
    .action(async (_options: unknown, command: Command) => {
      const config = await loadCliConfig(command);
      const logger = serviceLogger(config, 'rotator-demo');
      logWarnings(config, logger);
      const demoTargets = config.targets.filter((t) => t.enabled && config.account(t.account).endpoint === SIMULATOR_ENDPOINT);
      if (demoTargets.length === 0) {
        command.error('demo: no enabled target uses an account with endpoint: simulator (see jobs/demo.yaml)');
      }
      if (!config.service.simulator.enabled) command.error('demo: simulator.enabled is false in the service config');
      startHeapPolicy({ targetMb: config.service.limits.heapTargetMb, logger });
      // The demo starts its own run; a catch-up run at the same time would only find the servers busy.
      const service = await startService({ config, logger, env: process.env, cwd: process.cwd(), catchUp: false });
      const stopSignals = installShutdownSignals(() => service.stop(), logger);
      try {
        const url = config.service.redis.url;
        const watcher = await startRunWatcher({ queues: service.queues, connect: () => createRedisConnection(url, 'rotator-demo-events') });
        try {
          for (const target of demoTargets) {
            const { runId } = await service.queues.enqueueManualRun(target.name, { uuid: randomUUID() });
            logger.info({ runId }, 'demo: rotation enqueued');
            const summary = await watcher.wait(runId);
            process.stdout.write(`\n${renderRunSummary(summary)}`);
          }
        } finally {
          await watcher.close();
        }
      } catch (error) {
        stopSignals();
        await service.stop();
        throw error;
      }
      process.stdout.write(
        (service.http
          ? `\nStatus page: ${service.http.url}/    Jobs: ${service.http.url}/ui\n`
          : '\nStatus page: (dashboard role not running)\n') +
          `Status:    rotator status ${demoTargets[0]!.name}    History: rotator history --server <id>\n` +
          'Running until Ctrl-C (the scheduler keeps rotating on the demo schedule).\n',
      );
    });
}
