/**
 * `rotator rotate <target>`: enqueues a manual run through the queue (workers of `rotator run` do
 * the work). With `--wait`: a progress bar (servers done / total) and the summary table.
 * Exit codes with --wait: 0 when every server ended `verified` or `rotated-unverified` (or `pending-restart` under restart
 * policy `none`, where that is the expected end state), 2 when some did not, 1 on error.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { ACCEPTED_OUTCOMES, OUTCOME_KINDS } from '../../domain/outcome.js';
import { closeRedisConnection, connectRedis, createRedisConnection } from '../../queue/redis-connection.js';
import { RotationQueues } from '../../queue/rotation-queues.js';
import { startRunWatcher } from '../../queue/run-watcher.js';
import { runSucceeded } from '../../queue/run-summary.js';
import type { RunSummary } from '../../queue/run-summary.js';
import { loadCliConfig, renderTable } from './status.js';

const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The summary as text: counts per outcome, then every server that did not end well. */
export function renderRunSummary(summary: RunSummary): string {
  const lines: string[] = [];
  lines.push(
    `run ${summary.runId}: ${summary.servers} server(s) in ${summary.batches} batch(es)${summary.dryRun ? ' (dry run: nothing changed)' : ''}`,
  );
  lines.push(renderTable(['outcome', 'servers'], OUTCOME_KINDS.map((k) => [k, String(summary.counts[k])])));
  const problems = summary.outcomes.filter((o) => !ACCEPTED_OUTCOMES.includes(o.outcome));
  if (problems.length > 0) {
    lines.push(renderTable(['server', 'outcome', 'code', 'reason'], problems.map((o) => [o.serverId, o.outcome, o.code ?? '-', o.reason ?? ''])));
  }
  // Servers that ended alike (a stopped fleet, servers awaiting a restart): the reason once, then their ids.
  for (const group of summary.grouped ?? []) {
    lines.push(`${group.serverIds.length} servers ${group.outcome}${group.code === undefined ? '' : ` (${group.code})`}${group.reason === undefined ? '' : `: ${group.reason}`}`);
    lines.push(...wrapIds(group.serverIds));
  }
  if (summary.outcomesOmitted > 0) lines.push(`(${summary.outcomesOmitted} more outcome(s) not listed; see rotator status)`);
  for (const f of summary.failedBatches) {
    lines.push(`batch ${f.batchIndex} failed${f.servers === undefined ? '' : ` (${f.servers} server(s))`}: ${f.reason}`);
  }
  return lines.join('\n') + '\n';
}

/** Server ids as indented lines of about 100 characters. */
function wrapIds(ids: readonly string[]): string[] {
  const lines: string[] = [];
  let line = '';
  for (const id of ids) {
    if (line !== '' && line.length + 1 + id.length > 100) {
      lines.push(line);
      line = '';
    }
    line = line === '' ? `  ${id}` : `${line} ${id}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

interface RotateOptions {
  servers?: string;
  dryRun?: boolean;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
  restart?: string;
}

const RESTART_POLICIES = ['none', 'soft', 'hard'] as const;

export function register(program: Command): void {
  program
    .command('rotate')
    .argument('<target>', 'the target to rotate (a job file name)')
    .description('enqueue a rotation of a target now (a running `rotator run` worker performs it)')
    .option('--servers <ids>', 'only these servers of the target, comma-separated')
    .option('--dry-run', 'plan and send a dry_run reset only: nothing is stored or changed')
    .option('--restart <policy>', "this run only: none, soft or hard instead of the target's restartPolicy (e.g. in a maintenance window)")
    .option('--wait', 'follow the run: progress bar, then the summary; exit 0 all rotated, 2 some not, 1 error')
    .option('--timeout <seconds>', 'with --wait: give up waiting after this long (the run goes on)')
    .option('--json', 'with --wait: print the summary as JSON')
    .action(async (targetName: string, options: RotateOptions, command: Command) => {
      let serverIds: string[] | undefined;
      if (options.servers !== undefined) {
        serverIds = [...new Set(options.servers.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
        const bad = serverIds.filter((s) => !SERVER_ID.test(s));
        if (serverIds.length === 0 || bad.length > 0) {
          command.error(`--servers: expected comma-separated ECS server ids, found ${JSON.stringify(options.servers)}`);
        }
      }
      const restartPolicy = RESTART_POLICIES.find((p) => p === options.restart);
      if (options.restart !== undefined && restartPolicy === undefined) {
        command.error(`--restart: expected none, soft or hard, found ${JSON.stringify(options.restart)}`);
      }
      let timeoutMs: number | undefined;
      if (options.timeout !== undefined) {
        timeoutMs = Number(options.timeout) * 1000;
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) command.error(`--timeout: expected a number of seconds, found ${JSON.stringify(options.timeout)}`);
      }
      const config = await loadCliConfig(command);
      const target = config.target(targetName);
      if (!target) {
        command.error(`target: ${JSON.stringify(targetName)} is not configured (known: ${config.targets.map((t) => t.name).join(', ') || 'none'})`);
        return;
      }
      if (!target.enabled) command.error(`target: ${targetName} is disabled (enabled: false in ${target.file})`);

      const url = config.service.redis.url;
      const redis = await connectRedis(url, 'rotator-cli');
      const queues = new RotationQueues({
        connection: redis,
        prefix: config.service.redis.keyPrefix,
        keepCompleted: config.service.limits.keepCompletedJobs,
        keepFailed: config.service.limits.keepFailedJobs,
        // One line per connection problem (ioredis keeps reconnecting), not BullMQ's raw console dump.
        onError: (queue, error) => process.stderr.write(`rotator: ${queue} queue: ${error.message}\n`),
      });
      const bar = new cliProgress.SingleBar(
        { format: 'rotating {bar} {value}/{total} servers', stream: process.stderr, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      let barStarted = false;
      const watcher = options.wait
        ? await startRunWatcher({
            queues,
            connect: () => createRedisConnection(url, 'rotator-cli-events'),
            onProgress: (done, total) => {
              if (total === undefined || !process.stderr.isTTY) return;
              if (!barStarted) {
                bar.start(total, done);
                barStarted = true;
              } else bar.update(done);
            },
          })
        : undefined;
      try {
        const { runId } = await queues.enqueueManualRun(targetName, {
          serverIds,
          dryRun: options.dryRun ?? false,
          uuid: randomUUID(),
          restartPolicy,
        });
        process.stderr.write(`enqueued ${runId}\n`);
        if (!watcher) {
          process.stdout.write(`${runId}\n`);
          return;
        }
        let warnedNoWorker = false;
        // "Waiting for a worker" only when none is alive (BullMQ lists the workers connected to the
        // queue); a run merely queued behind others is not announced as a missing worker.
        const hint = setInterval(() => {
          if (barStarted) return;
          queues.runs.getWorkersCount().then(
            (workers) => {
              if (workers === 0 && !barStarted && !warnedNoWorker) {
                warnedNoWorker = true;
                process.stderr.write('waiting for a worker: none is connected to this queue (start `rotator run`, or check redis.url and redis.keyPrefix)\n');
              }
            },
            () => undefined,
          );
        }, 5000);
        let summary: RunSummary;
        try {
          summary = await watcher.wait(runId, timeoutMs);
        } finally {
          clearInterval(hint);
          if (barStarted) bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : renderRunSummary(summary));
        process.exitCode = runSucceeded(summary, restartPolicy ?? target.restartPolicy) ? 0 : 2;
      } finally {
        await watcher?.close();
        await queues.close();
        await closeRedisConnection(redis);
      }
    });
}
