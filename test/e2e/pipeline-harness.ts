/**
 * The whole pipeline for the `pipeline-*` e2e tests: the real service (`startService`: BullMQ queues
 * and workers, run watcher, dashboard) in this process against real Redis under a unique prefix, a
 * real ECS simulator on port 0 (started here, so the test shapes its fleet and faults), and a real
 * vault: the encrypted file vault in a temp dir, or the AWS adapter against the Secrets Manager
 * emulator. Config and job files are written to the temp dir and loaded by the real config loader.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadConfigOrThrow } from '../../src/config/index.js';
import type { OutcomeKind, ServerOutcome } from '../../src/domain/outcome.js';
import { startService } from '../../src/main.js';
import type { RunningService } from '../../src/main.js';
import type { SecretKey, Vault } from '../../src/ports/vault.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { startRunWatcher } from '../../src/queue/run-watcher.js';
import type { RunWatcher } from '../../src/queue/run-watcher.js';
import { outcomesOfBatch, type BatchResult, type RunSummary } from '../../src/queue/run-summary.js';
import type { CronFactory } from '../../src/scheduler/scheduler.js';
import { startSecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import type { SecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/simulator.js';
import { REDIS_URL, capturedLogger, deleteUnder, dumpUnder, redisClient, uniquePrefix } from './queue-helpers.js';

/** A target as written to `jobs/<name>.yaml` (the config loader fills the defaults). */
export interface PipelineTarget {
  name: string;
  selector: Record<string, unknown>;
  batchSize: number;
  restartPolicy: 'none' | 'soft' | 'hard';
  uniquePerServer?: boolean;
  dryRunPreflight?: boolean;
  schedule?: string;
  maxPasswordAgeDays?: number;
  notify?: string[];
  /** `ssh`: verify by login through the simulator's SSH endpoints (start it with `ssh`). */
  verify?: 'ssh' | 'none';
}

export interface PipelineOptions {
  label: string;
  simulator: SimulatorOptions;
  targets: PipelineTarget[];
  vault: 'file' | 'aws';
  /** Batch jobs per worker process. @defaultValue 2 */
  workerConcurrency?: number;
  /** ECS client settings of the account. */
  account?: { requestsPerSecond?: number; maxAttempts?: number; requestTimeoutMs?: number };
  /**
   * Put a process-local HTTP front in front of the simulator (the account's endpoint then points at
   * it), e.g. the rug-pull proxy. Receives the simulator, returns the front's URL and its closer.
   */
  front?: (sim: RunningSimulator) => Promise<{ url: string; close(): Promise<void> }>;
  /** Extra service config sections (e.g. `notifications`), merged over the harness's. */
  service?: Record<string, unknown>;
  /** Extra environment of the service (e.g. notification secrets). */
  env?: Record<string, string>;
  /** Backoff between notification attempts. */
  notificationBackoff?: { baseDelayMs: number; maxDelayMs: number };
  /** The HTTP API's `readOnly`. @defaultValue true */
  httpReadOnly?: boolean;
}

export interface RunResult {
  runId: string;
  summary: RunSummary;
  /** Server ids of each batch, by batch index (from the batch jobs' data). */
  batches: string[][];
  /** Every outcome, from the batch jobs' return values (the summary lists at most 1000). */
  outcomes: Map<string, ServerOutcome>;
}

export interface Pipeline {
  sim: RunningSimulator;
  service: RunningService;
  vault: Vault;
  prefix: string;
  logs(): string;
  emulator: SecretsManagerEmulator | undefined;
  keyOf(serverId: string): SecretKey;
  /** Enqueues a manual run of `target` through the queue and waits for the run's summary. */
  run(target: string, timeoutMs?: number, runOptions?: { restartPolicy?: 'none' | 'soft' | 'hard' }): Promise<RunResult>;
  /** Enqueues several manual runs at once (watchers subscribed first) and waits for all. */
  runTogether(targets: string[], timeoutMs?: number): Promise<RunResult[]>;
  /** Every run result so far (job return values live in Redis: scanned too). */
  results: RunResult[];
  /** Every password the vault holds for `serverIds`: every labelled version, plus every version id an outcome named. */
  vaultPasswords(serverIds: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** No ticks during a test: the tests enqueue manual runs. */
const silentCron: CronFactory = () => ({ stop: () => undefined });

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // keep closing the rest
      }
    }
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), `rotator-${options.label}-`));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const prefix = uniquePrefix(options.label);
    closers.push(async () => {
      const r = redisClient();
      await deleteUnder(r, prefix);
      r.disconnect();
    });
    const sim = await startSimulator(options.simulator);
    closers.push(() => sim.close());
    let endpoint = sim.url;
    if (options.front) {
      const front = await options.front(sim);
      closers.push(() => front.close());
      endpoint = front.url;
    }
    let emulator: SecretsManagerEmulator | undefined;
    if (options.vault === 'aws') {
      emulator = await startSecretsManagerEmulator();
      closers.push(() => emulator!.close());
    }

    await mkdir(join(dir, 'jobs'));
    const configFile = join(dir, 'service.yaml');
    await writeFile(
      configFile,
      JSON.stringify({
        redis: { url: REDIS_URL, keyPrefix: prefix },
        accounts: [
          {
            name: 'sim',
            region: sim.region,
            projectId: sim.projectId,
            endpoint,
            requestsPerSecond: options.account?.requestsPerSecond ?? 500,
            maxAttempts: options.account?.maxAttempts ?? 10,
            requestTimeoutMs: options.account?.requestTimeoutMs ?? 10_000,
          },
        ],
        vault:
          options.vault === 'file'
            ? { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } }
            : {
                kind: 'aws-secrets-manager',
                file: { path: join(dir, 'unused.json.enc') },
                awsSecretsManager: { region: 'eu-west-1', endpoint: emulator!.url, writesPerSecond: 1000, maxAttempts: 5 },
              },
        http: { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, readOnly: options.httpReadOnly ?? true },
        limits: { workerConcurrency: options.workerConcurrency ?? 2, shutdownGraceMs: 5000 },
        scheduler: { catchUp: false },
        simulator: { enabled: false },
        logging: { level: 'debug', format: 'json' },
        ...options.service,
      }),
    );
    for (const t of options.targets) {
      await writeFile(
        join(dir, 'jobs', `${t.name}.yaml`),
        JSON.stringify({
          name: t.name,
          account: 'sim',
          schedule: t.schedule ?? '0 3 * * *',
          timezone: 'UTC',
          selector: t.selector,
          batchSize: t.batchSize,
          restartPolicy: t.restartPolicy,
          uniquePerServer: t.uniquePerServer ?? false,
          dryRunPreflight: t.dryRunPreflight ?? false,
          ...(t.maxPasswordAgeDays === undefined ? {} : { maxPasswordAgeDays: t.maxPasswordAgeDays }),
          ...(t.notify === undefined ? {} : { notify: t.notify }),
          ...(t.verify === 'ssh'
            ? { verify: { method: 'ssh', user: 'root', port: sim.ssh?.port ?? 22, address: 'private', timeoutMs: 5_000, concurrency: 8 } }
            : {}),
        }),
      );
    }
    const env: Record<string, string> = {
      ROTATOR_VAULT_KEY: randomBytes(32).toString('base64'),
      HUAWEI_AK: DEMO_CREDENTIALS.accessKey,
      HUAWEI_SK: DEMO_CREDENTIALS.secretKey,
      ...options.env,
    };
    if (options.vault === 'aws') {
      // The AWS SDK's default credential chain reads the process environment (this test file's own
      // worker process); the emulator accepts any signature.
      process.env.AWS_ACCESS_KEY_ID = 'AKIDPIPELINETEST';
      process.env.AWS_SECRET_ACCESS_KEY = 'pipeline-test-secret';
      process.env.AWS_REGION = 'eu-west-1';
    }
    const config = await loadConfigOrThrow({ configPath: configFile, jobsDir: join(dir, 'jobs'), env, cwd: dir });
    const log = capturedLogger('debug');
    const service = await startService({
      config,
      roles: ['worker', 'dashboard'],
      logger: log.logger,
      env,
      cwd: dir,
      httpPort: 0,
      catchUp: false,
      cron: silentCron,
      rebootDeadlineMs: 30_000,
      ...(options.notificationBackoff ? { notificationBackoff: options.notificationBackoff } : {}),
    });
    closers.push(() => service.stop());
    const watchers: RunWatcher[] = [];
    closers.push(async () => {
      for (const w of watchers) await w.close();
    });
    const newWatcher = async (): Promise<RunWatcher> => {
      const w = await startRunWatcher({ queues: service.queues, connect: () => createRedisConnection(REDIS_URL) });
      watchers.push(w);
      return w;
    };
    const results: RunResult[] = [];
    const keyOf = (serverId: string): SecretKey => ({ region: sim.region, projectId: sim.projectId, serverId });

    const collect = async (runId: string, summary: RunSummary): Promise<RunResult> => {
      const batches: string[][] = [];
      const outcomes = new Map<string, ServerOutcome>();
      for (let i = 0; i < summary.batches; i++) {
        const job = await service.queues.batches.getJob(`${runId}|b${i}`);
        if (!job) throw new Error(`batch ${i} of ${runId} is gone (retention?)`);
        batches.push((job.data as { serverIds: string[] }).serverIds);
        const value = job.returnvalue as BatchResult | null;
        for (const o of value === null ? [] : outcomesOfBatch(value, job.data.serverIds)) {
          expect(outcomes.has(o.serverId), `${o.serverId} has two outcomes in ${runId}`).toBe(false);
          outcomes.set(o.serverId, o);
        }
      }
      const result = { runId, summary, batches, outcomes };
      results.push(result);
      return result;
    };

    const runTogether = async (
      targets: string[],
      timeoutMs = 120_000,
      runOptions: { restartPolicy?: 'none' | 'soft' | 'hard' } = {},
    ): Promise<RunResult[]> => {
      // One watcher per run, subscribed before anything is enqueued, so no event is missed.
      const ws = await Promise.all(targets.map(() => newWatcher()));
      const ids = await Promise.all(targets.map((t) => service.queues.enqueueManualRun(t, { uuid: randomUUID(), ...runOptions })));
      const summaries = await Promise.all(ids.map(({ runId }, i) => ws[i]!.wait(runId, timeoutMs)));
      const out: RunResult[] = [];
      for (const [i, { runId }] of ids.entries()) out.push(await collect(runId, summaries[i]!));
      return out;
    };

    const vault = service.vault!;
    return {
      sim,
      service,
      vault,
      prefix,
      logs: log.text,
      emulator,
      keyOf,
      results,
      run: async (target, timeoutMs, runOptions) => (await runTogether([target], timeoutMs, runOptions))[0]!,
      runTogether,
      async vaultPasswords(serverIds) {
        const named = new Map<string, Set<string>>();
        for (const r of results) {
          for (const o of r.outcomes.values()) {
            if (o.versionId === undefined) continue;
            if (!named.has(o.serverId)) named.set(o.serverId, new Set());
            named.get(o.serverId)!.add(o.versionId);
          }
        }
        const passwords = new Set<string>();
        for (const id of serverIds) {
          const ids = new Set(named.get(id) ?? []);
          for (const v of (await vault.describe(keyOf(id)))?.versions ?? []) ids.add(v.versionId);
          for (const versionId of ids) {
            const full = await vault.getVersion(keyOf(id), { versionId });
            if (full) passwords.add(full.value.password);
          }
        }
        return passwords;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Invariant 2, checked: none of `passwords` appears in any key or value under the pipeline's Redis
 * prefix (every type, every field), in any captured log line, in `/api/status`, in the bull-board
 * API's job listings, or in any run/batch job's data or return value.
 */
export async function expectNoPasswordLeak(p: Pipeline, passwords: ReadonlySet<string>): Promise<void> {
  expect(passwords.size, 'the scan compares against real passwords').toBeGreaterThan(0);
  const redis = redisClient();
  try {
    const stored = await dumpUnder(redis, p.prefix);
    // The scan does see the pipeline's data (a scan of nothing cannot fail).
    for (const r of p.results) expect(stored).toContain(r.runId);
    const base = p.service.http!.url;
    const status = await (await fetch(`${base}/api/status`)).text();
    expect(status).toContain('"targets"');
    const board: string[] = [];
    for (const queue of ['runs', 'batches']) {
      for (const state of ['completed', 'failed', 'waiting', 'delayed']) {
        board.push(await (await fetch(`${base}/ui/api/queues?activeQueue=${queue}&status=${state}&page=1&jobsPerPage=1000`)).text());
      }
    }
    const jobs: string[] = [];
    for (const q of [p.service.queues.runs, p.service.queues.batches]) {
      for (const job of await q.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed', 'waiting-children'])) {
        jobs.push(JSON.stringify({ data: job.data, returnvalue: job.returnvalue, progress: job.progress, failedReason: job.failedReason }));
      }
    }
    const summaries = JSON.stringify(p.results.map((r) => ({ summary: r.summary, outcomes: [...r.outcomes.values()] })));
    const logs = p.logs();
    expect(logs.length).toBeGreaterThan(0);
    const haystacks: [string, string][] = [
      ['Redis', stored],
      ['logs', logs],
      ['/api/status', status],
      ['dashboard API', board.join('\n')],
      ['job data/return values', jobs.join('\n')],
      ['run summaries', summaries],
    ];
    for (const password of passwords) {
      for (const [where, text] of haystacks) {
        // Not `toContain`: a failure message must not print the password either.
        if (text.includes(password)) expect.fail(`a generated password appears in ${where}`);
      }
    }
  } finally {
    redis.disconnect();
  }
}

/** Counts of outcome kinds in a map of outcomes. */
export function countKinds(outcomes: Map<string, ServerOutcome>): Partial<Record<OutcomeKind, number>> {
  const counts: Partial<Record<OutcomeKind, number>> = {};
  for (const o of outcomes.values()) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
  return counts;
}
