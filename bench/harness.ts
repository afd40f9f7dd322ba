/**
 * The bench's moving parts, each in its own process as in a deployment: the ECS simulator
 * (`rotator simulator`), the Secrets Manager emulator, the rotator service (`rotator run --role
 * worker`), and the naive official-SDK loop. The bench process only enqueues a run through BullMQ
 * and waits for its summary, so the time measured is end to end through the queue.
 *
 * Peak RSS is each process's VmHWM from /proc (Linux), read just before it is stopped.
 * Redis bytes are `MEMORY USAGE` summed over every key under the run's prefix after the run, with
 * the service's default retention (finished jobs kept, audit stream, outcome records).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RotationQueues } from '../src/queue/rotation-queues.js';
import { startRunWatcher } from '../src/queue/run-watcher.js';
import type { RunSummary } from '../src/queue/run-summary.js';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_REGION } from '../src/simulator/demo-credentials.js';

const root = fileURLToPath(new URL('..', import.meta.url));
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * CPU seconds (user + system, every thread) a live process has used so far, or NaN where /proc is
 * not available: fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
 */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Peak resident set of a live process, in bytes (VmHWM), or NaN where /proc is not available. */
export async function peakRss(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * The glibc malloc settings (`MALLOC_*`) the image's Dockerfile sets with ENV, read from it: the
 * service is started with them so that the bench measures the allocator as the container runs it
 * (they change its peak RSS by tens of MB). A `MALLOC_*` variable set in the bench's own
 * environment wins, for experiments.
 */
export async function imageMallocEnv(): Promise<Record<string, string>> {
  const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
  const env: Record<string, string> = {};
  // `ENV A=1 \` continuation lines included: every NAME=value word whose name starts with MALLOC_.
  for (const match of dockerfile.matchAll(/^(?!\s*#).*?\b(MALLOC_[A-Z_]+)=(\S+)/gm)) env[match[1]!] = match[2]!;
  for (const name of Object.keys(env)) if (process.env[name] !== undefined) delete env[name];
  return env;
}

interface Child {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => output,
    async stop() {
      const rss = await peakRss(child.pid);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      return rss;
    },
  };
}

async function waitForLine(c: Child, pattern: RegExp, what: string, timeoutMs = 120_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(c.output());
    if (match) return match;
    if (c.child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start:\n${c.output().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface SimulatorSettings {
  servers: number;
  latencyMs: number;
  /** Gateway throttle per API in requests/s; undefined: none. */
  throttleRps: number | undefined;
}

export interface RunningSimulator {
  url: string;
  pid: number | undefined;
  /** Requests per API as the simulator counted them. */
  counters(): Promise<Record<string, Record<string, number>>>;
  stop(): Promise<number>;
}

export async function startSimulatorProcess(settings: SimulatorSettings): Promise<RunningSimulator> {
  const args = [
    'bin/rotator.js', 'simulator', '--port', '0', '--seed', '7', '--servers', String(settings.servers),
    '--missing-plugin-fraction', '0', '--locked-fraction', '0', '--shutoff-fraction', '0', '--windows-ratio', '0.3',
    '--reboot-ms', '10', '--latency-ms', String(settings.latencyMs),
    ...(settings.throttleRps === undefined ? ['--no-throttle'] : ['--throttle-rps', String(settings.throttleRps)]),
  ];
  // BENCH_SIM_CPU_PROF=<dir>: the simulator's V8 CPU profile (it shares the machine's two cores with the service).
  const profile = process.env.BENCH_SIM_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SIM_CPU_PROF] : [];
  const c = startChild([...profile, ...args], { ROTATOR_FROM_SOURCE: '1' });
  const url = (await waitForLine(c, /listening on (http:\/\/\S+)/, 'the simulator'))[1]!;
  return {
    url,
    pid: c.child.pid,
    async counters() {
      const answer = await fetch(`${url}/__sim/counters`);
      return ((await answer.json()) as { requests: Record<string, Record<string, number>> }).requests;
    },
    stop: () => c.stop(),
  };
}

export interface RunningEmulator {
  url: string;
  pid: number | undefined;
  /** Calls per operation so far. */
  calls(): Promise<Record<string, number>>;
  /** Arrival times (ms since the epoch) of the writes counted against the shared write quota so far. */
  writeTimes(): Promise<number[]>;
  stop(): Promise<number>;
}

export async function startEmulatorProcess(writesPerSecond: number): Promise<RunningEmulator> {
  const c = startChild(['--import', 'tsx', 'bench/secrets-manager-process.ts', String(writesPerSecond)], {});
  const match = await waitForLine(c, /listening on (http:\/\/\S+) calls (http:\/\/\S+)/, 'the Secrets Manager emulator');
  const url = match[1]!;
  const callsUrl = match[2]!;
  return {
    url,
    pid: c.child.pid,
    async calls() {
      const answer = await fetch(callsUrl);
      return (await answer.json()) as Record<string, number>;
    },
    async writeTimes() {
      const answer = await fetch(new URL('/write-times', callsUrl));
      return (await answer.json()) as number[];
    },
    stop: () => c.stop(),
  };
}

export interface ServiceSettings {
  servers: number;
  uniquePerServer: boolean;
  batchSize: number;
  /** The ECS account's client-side limit (`accounts[].requestsPerSecond`). */
  ecsRequestsPerSecond: number;
  workerConcurrency: number | undefined;
  vault: { kind: 'file' } | { kind: 'aws'; endpoint: string; writesPerSecond: number };
}

export interface RotatorRunResult {
  /** The first run's time and summary (the later ones are in `runs`). */
  seconds: number;
  summary: RunSummary;
  /**
   * Every run enqueued, in order, on the same service and fleet; `cpuSeconds` is the service
   * process's CPU (all its threads) from the enqueue to the summary; `redisBytes`, Redis after the
   * run (the first always, the others with `redisAfterEachRun`).
   */
  runs: { startedAt: number; seconds: number; cpuSeconds: number; summary: RunSummary; redisBytes?: number }[];
  workerPeakRss: number;
  /** Bytes of every Redis key under the run's prefix, after the first run (default retention). */
  redisBytes: number;
  redisKeys: number;
  /** Bytes per kind of key (audit stream, server states, batch jobs, run jobs, other). */
  redisByKind: Record<string, number>;
}

/**
 * Starts the rotator service (worker role) against `simulatorUrl`, enqueues `runs` manual runs of a
 * target covering the simulator's whole fleet one after the other (each waited for; `afterRun` is
 * called after each), and measures.
 */
export async function runRotatorService(
  simulatorUrl: string,
  settings: ServiceSettings,
  repeat: { runs: number; afterRun?: (index: number) => Promise<void>; redisAfterEachRun?: boolean } = { runs: 1 },
): Promise<RotatorRunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-bench-'));
  const prefix = `rotbench-${process.pid}-${randomUUID().slice(0, 8)}`;
  const jobs = join(dir, 'jobs');
  await mkdir(jobs);
  const vault =
    settings.vault.kind === 'file'
      ? { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } }
      : { kind: 'aws-secrets-manager', awsSecretsManager: { region: 'eu-west-1', endpoint: settings.vault.endpoint, writesPerSecond: settings.vault.writesPerSecond, maxAttempts: 5 } };
  const config = {
    redis: { url: REDIS_URL, keyPrefix: prefix },
    accounts: [{ name: 'bench', region: DEMO_REGION, projectId: DEMO_PROJECT_ID, endpoint: simulatorUrl, auth: 'aksk', requestsPerSecond: settings.ecsRequestsPerSecond, maxAttempts: 5 }],
    vault,
    http: { port: 0 },
    limits: {
      ...(settings.workerConcurrency === undefined ? {} : { workerConcurrency: settings.workerConcurrency }),
      // BENCH_HEAP_TARGET_MB=<n>: the service's limits.heapTargetMb (src/heap-policy.ts), for memory/CPU trade-off experiments.
      ...(process.env.BENCH_HEAP_TARGET_MB ? { heapTargetMb: Number(process.env.BENCH_HEAP_TARGET_MB) } : {}),
    },
    simulator: { enabled: false },
    // info: the service says when its workers listen (one line per batch besides).
    logging: { level: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'info', format: 'json' },
  };
  const target = {
    name: 'bench',
    account: 'bench',
    schedule: '0 0 1 1 *',
    selector: { name: 'ecs-' },
    batchSize: settings.batchSize,
    uniquePerServer: settings.uniquePerServer,
    restartPolicy: 'none',
  };
  await writeFile(join(dir, 'service.json'), JSON.stringify(config));
  await writeFile(join(jobs, 'bench.yaml'), JSON.stringify(target));
  await writeFile(join(dir, 'vault.key'), randomBytes(32).toString('base64'), { mode: 0o600 });

  // BENCH_CPU_PROF=<dir>: the service writes a V8 CPU profile there when it stops (open it in Chrome's DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  // BENCH_HEAP_PROF=<dir>: a V8 sampling heap profile (allocations by stack) written there when it stops.
  if (process.env.BENCH_HEAP_PROF) profile.push('--heap-prof', '--heap-prof-dir', process.env.BENCH_HEAP_PROF);
  // BENCH_MEM_LOG=<file>: process.memoryUsage() every 250 ms, and the live heap after the run (bench/memory-sampler.mjs).
  const memoryLog = process.env.BENCH_MEM_LOG;
  if (memoryLog) profile.push('--expose-gc', '--import', './bench/memory-sampler.mjs');
  // BENCH_SERVICE_NODE_FLAGS="--flag …": extra Node/V8 flags for the service only (GC settings experiments).
  if (process.env.BENCH_SERVICE_NODE_FLAGS) profile.push(...process.env.BENCH_SERVICE_NODE_FLAGS.split(' ').filter((f) => f !== ''));
  const service = startChild([...profile, 'bin/rotator.js', '--config', join(dir, 'service.json'), '--jobs', jobs, 'run', '--role', 'worker'], {
    ...(await imageMallocEnv()),
    // The compiled service in dist/, as the container runs it (bench/index.ts builds it first);
    // BENCH_SERVICE_FROM_SOURCE=1: the TypeScript sources through tsx.
    ROTATOR_FROM_SOURCE: process.env.BENCH_SERVICE_FROM_SOURCE === '1' ? '1' : '0',
    HUAWEI_AK: DEMO_CREDENTIALS.accessKey,
    HUAWEI_SK: DEMO_CREDENTIALS.secretKey,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    REDIS_URL,
  });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = new RotationQueues({
    connection: redis,
    prefix,
    keepCompleted: { count: 500, ageSeconds: 1_209_600 },
    keepFailed: { count: 1000, ageSeconds: 2_592_000 },
  });
  try {
    await waitForLine(service, /worker: listening/, 'the rotator service');
    const watcher = await startRunWatcher({ queues, connect: () => new Redis(REDIS_URL, { maxRetriesPerRequest: null }) });
    const runs: RotatorRunResult['runs'] = [];
    let usage: Awaited<ReturnType<typeof redisUsage>> | undefined;
    try {
      for (let i = 0; i < repeat.runs; i++) {
        const startedAt = Date.now();
        const start = process.hrtime.bigint();
        const cpuBefore = await cpuSeconds(service.child.pid);
        const { runId } = await queues.enqueueManualRun('bench', { serverIds: undefined, dryRun: false, uuid: randomUUID(), restartPolicy: undefined });
        const summary = await watcher.wait(runId, 3_600_000);
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        runs.push({ startedAt, seconds, cpuSeconds: (await cpuSeconds(service.child.pid)) - cpuBefore, summary });
        // Redis as one run leaves it (default retention): what the issue's ≤ 1 KB/server goal is about.
        if (i === 0 || repeat.redisAfterEachRun) {
          const now = await redisUsage(redis, prefix);
          if (i === 0) usage = now;
          runs[i]!.redisBytes = now.bytes;
        }
        await repeat.afterRun?.(i);
      }
    } finally {
      await watcher.close();
    }
    if (memoryLog && service.child.pid !== undefined) {
      // The sampler forces a full GC and logs what is still live once the run is over.
      process.kill(service.child.pid, 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, Number(process.env.BENCH_MEM_WAIT_MS ?? 3000)));
    }
    const workerPeakRss = await service.stop();
    // BENCH_SERVICE_LOG=<file>: the service's log lines (its last 100-200 KB), to see where a run's time goes.
    if (process.env.BENCH_SERVICE_LOG) await appendFile(process.env.BENCH_SERVICE_LOG, `# service (batches of ${settings.batchSize}, ${settings.uniquePerServer ? "unique" : "shared"} mode)\n${service.output()}`);
    const { bytes, keys, byKind } = usage ?? (await redisUsage(redis, prefix));
    const first = runs[0]!;
    return { seconds: first.seconds, summary: first.summary, runs, workerPeakRss, redisBytes: bytes, redisKeys: keys, redisByKind: byKind };
  } catch (error) {
    process.stderr.write(`service output (tail):\n${service.output().slice(-3000)}\n`);
    throw error;
  } finally {
    await service.stop();
    await queues.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a key under the prefix holds, for the per-kind breakdown. */
function kindOf(key: string, prefix: string): string {
  const rest = key.slice(prefix.length + 1);
  if (rest === 'audit') return 'audit stream';
  if (rest.startsWith('server:')) return 'server states';
  if (rest.startsWith('batches:')) return 'batch jobs';
  if (rest.startsWith('runs:')) return 'run jobs';
  return 'other';
}

async function redisUsage(redis: Redis, prefix: string): Promise<{ bytes: number; keys: number; byKind: Record<string, number> }> {
  let bytes = 0;
  let keys = 0;
  const byKind: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const answers = (await pipeline.exec()) ?? [];
    answers.forEach(([, value], i) => {
      const n = Number(value ?? 0);
      bytes += n;
      const kind = kindOf(found[i]!, prefix);
      byKind[kind] = (byKind[kind] ?? 0) + n;
    });
    keys += found.length;
  } while (cursor !== '0');
  return { bytes, keys, byKind };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== '0');
}

export interface NaiveResult {
  servers: number;
  calls: number;
  failedCalls: number;
  accepted: number;
  seconds: number;
  peakRss: number;
}

/** The naive official-SDK loop in its own process, HOME in a temp dir, its output kept off the console. */
export async function runNaiveLoop(simulatorUrl: string, mode: 'shared' | 'unique', perCall: number): Promise<NaiveResult> {
  const home = await mkdtemp(join(tmpdir(), 'rotator-bench-home-'));
  try {
    const c = startChild(['--import', 'tsx', 'bench/naive-sdk-loop.ts', simulatorUrl, DEMO_PROJECT_ID, mode, String(perCall), 'ecs-'], {
      HOME: home,
      HUAWEI_AK: DEMO_CREDENTIALS.accessKey,
      HUAWEI_SK: DEMO_CREDENTIALS.secretKey,
    });
    // VmHWM is gone once the process exits: sample it while it runs.
    let rss = 0;
    const sampler = setInterval(() => void peakRss(c.child.pid).then((r) => (rss = Math.max(rss, Number.isNaN(r) ? 0 : r))), 200);
    const [code] = (await once(c.child, 'exit')) as [number | null];
    clearInterval(sampler);
    const last = c.output().trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`the naive SDK loop failed (exit ${code}):\n${c.output().slice(-2000)}`);
    return { ...(JSON.parse(last) as Omit<NaiveResult, 'peakRss'>), peakRss: rss };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
