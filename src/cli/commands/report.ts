/**
 * `rotator report [target] --format table|csv|json|html [--output file]`: the password compliance
 * report for auditors, from the outcome store in Redis. One row per server, a summary per target, the
 * time it was generated and the policy (maximum password age) each target is judged by. No secret.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { RedisOutcomeStore } from '../../adapters/redis/index.js';
import { buildComplianceReport, renderReport, REPORT_FORMATS, type ReportFormat } from '../../compliance/compliance-report.js';
import { closeRedisConnection, createRedisConnection } from '../../queue/redis-connection.js';
import { loadCliConfig } from './status.js';

export function register(program: Command): void {
  program
    .command('report')
    .argument('[target]', 'only this target (default: every target)')
    .description('password compliance report for auditors: age, last success, overdue and why, per server; no passwords')
    .addOption(new Option('--format <format>', 'output format').choices(REPORT_FORMATS).default('table'))
    .option('--output <file>', 'write the report to this file instead of standard output')
    .option('--overdue-exit-code', 'exit with code 3 when any server is overdue (for scheduled checks)')
    .action(async (target: string | undefined, options: { format: ReportFormat; output?: string; overdueExitCode?: boolean }, command: Command) => {
      const config = await loadCliConfig(command);
      const redis = createRedisConnection(config.service.redis.url, 'rotator-cli');
      try {
        const store = new RedisOutcomeStore({ redis, keyPrefix: config.service.redis.keyPrefix });
        if (target !== undefined && !config.target(target) && !(await store.listTargets()).includes(target)) {
          command.error(`target: ${JSON.stringify(target)} is not configured (jobs/*.yaml) and has no recorded servers`);
        }
        const report = await buildComplianceReport({ store, configured: config.targets, only: target, nowMs: Date.now() });
        const text = renderReport(report, options.format);
        if (options.output === undefined) process.stdout.write(text);
        else {
          await writeFile(resolve(process.cwd(), options.output), text, { mode: 0o644 });
          const overdue = report.targets.reduce((n, t) => n + t.overdue, 0);
          process.stderr.write(`report: ${report.servers.length} servers, ${overdue} overdue, written to ${options.output}\n`);
        }
        if (options.overdueExitCode && report.targets.some((t) => t.overdue > 0)) process.exitCode = 3;
      } finally {
        await closeRedisConnection(redis);
      }
    });
}
