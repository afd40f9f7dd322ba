/**
 * `rotator status [target]`: the last known state of each server (from the outcome store), or, with
 * no target, how many servers of each target are in each state. Never shows a password: the store
 * holds none.
 */
import type { Command } from 'commander';
import { RedisOutcomeStore } from '../../adapters/redis/index.js';
import { loadConfigOrThrow } from '../../config/index.js';
import type { LoadedConfig } from '../../config/index.js';
import { OUTCOME_KINDS } from '../../domain/outcome.js';
import type { ServerState } from '../../ports/outcome-store.js';
import { closeRedisConnection, connectRedis } from '../../queue/redis-connection.js';

/** Renders rows as an aligned plain-text table (no colours: output is often piped). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export function isoOrDash(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Loads the config from the program's global options (`--config`, `--jobs`). */
export function loadCliConfig(command: Command): Promise<LoadedConfig> {
  const globals = command.optsWithGlobals<{ config?: string; jobs?: string }>();
  return loadConfigOrThrow({ configPath: globals.config, jobsDir: globals.jobs, env: process.env, cwd: process.cwd() });
}

export function register(program: Command): void {
  program
    .command('status')
    .argument('[target]', 'a target name: list its servers; without: counts per target')
    .description('show the last rotation outcome of each server (from Redis); no passwords')
    .option('--json', 'print JSON')
    .action(async (target: string | undefined, options: { json?: boolean }, command: Command) => {
      const config = await loadCliConfig(command);
      const redis = await connectRedis(config.service.redis.url, 'rotator-cli');
      try {
        const store = new RedisOutcomeStore({ redis, keyPrefix: config.service.redis.keyPrefix });
        if (target === undefined) {
          const names = [...new Set([...config.targets.map((t) => t.name), ...(await store.listTargets())])].sort();
          const rows: { target: string; counts: Record<string, number> }[] = [];
          for (const name of names) rows.push({ target: name, counts: await store.countTarget(name) });
          if (options.json) {
            process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
            return;
          }
          process.stdout.write(
            renderTable(
              ['target', ...OUTCOME_KINDS],
              rows.map((r) => [r.target, ...OUTCOME_KINDS.map((k) => String(r.counts[k] ?? 0))]),
            ),
          );
          return;
        }
        if (!config.target(target) && !(await store.listTargets()).includes(target)) {
          command.error(`target: ${JSON.stringify(target)} is not configured and has no recorded servers`);
        }
        const states: ServerState[] = [];
        for await (const s of store.listTarget(target)) states.push(s);
        states.sort((a, b) => a.serverId.localeCompare(b.serverId));
        if (options.json) {
          process.stdout.write(`${JSON.stringify(states, null, 2)}\n`);
          return;
        }
        if (states.length === 0) {
          process.stdout.write(`target ${target}: no server recorded yet (no run has reached it)\n`);
          return;
        }
        process.stdout.write(
          renderTable(
            ['server', 'status', 'last attempt', 'last success', 'code', 'failures', 'run'],
            states.map((s) => [
              s.serverId,
              s.status,
              isoOrDash(s.lastAttemptAt),
              isoOrDash(s.lastSuccessAt),
              s.errorCode ?? '-',
              String(s.consecutiveFailures),
              s.runId,
            ]),
          ),
        );
      } finally {
        await closeRedisConnection(redis);
      }
    });
}
