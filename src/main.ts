/**
 * Composition root: builds the adapters from a loaded config and starts the roles of one process.
 *
 * Roles (all by default; `rotator run --role …` picks some):
 * - `scheduler`: cron → enqueue only (src/scheduler);
 * - `worker`: BullMQ workers that plan runs and rotate batches (src/queue → src/rotation);
 * - `dashboard`: bull-board, health and status over HTTP (src/http).
 * With `simulator.enabled`, a process with the worker role also starts the embedded ECS simulator
 * (demo only: each process would get its own fleet), and accounts with `endpoint: simulator` use it.
 *
 * Invariant 6 (validate before side effects): config arrives validated (src/config); here, before any
 * role starts, every enabled target's account credentials are resolved, the vault is opened (a wrong
 * key fails here), Redis must answer, and the HTTP token must exist when token auth is on.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createVault } from './adapters/create-vault.js';
import { cryptoRandom } from './adapters/crypto-random.js';
import { createEcsClient } from './adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog, RedisOutcomeStore, RedisRateLimiter, RedisServerLocks } from './adapters/redis/index.js';
import { systemClock } from './adapters/system-clock.js';
import { SIMULATOR_ENDPOINT } from './config/index.js';
import type { LoadedConfig, TargetConfig } from './config/index.js';
import { RotatorError } from './domain/rotator-error.js';
import type { EcsServer } from './domain/server.js';
import { createHttpApp } from './http/create-http-app.js';
import { startHttpServer } from './http/http-server.js';
import type { RunningHttpServer } from './http/http-server.js';
import type { Clock } from './ports/clock.js';
import type { EcsApi } from './ports/ecs-api.js';
import type { RandomSource } from './ports/random-source.js';
import type { Vault } from './ports/vault.js';
import type { RotateBatch } from './queue/batch-processor.js';
import { serverOfListing } from './queue/job-schemas.js';
import { closeRedisConnection, createRedisConnection } from './queue/redis-connection.js';
import { RotationQueues } from './queue/rotation-queues.js';
import { startRotationWorkers } from './queue/rotation-workers.js';
import type { RotationWorkers } from './queue/rotation-workers.js';
import type { PlanRun } from './queue/run-processor.js';
import { resolveTargetServers } from './rotation/resolve-servers.js';
import { runBatch } from './rotation/run-batch.js';
import { Scheduler } from './scheduler/scheduler.js';
import type { CronFactory } from './scheduler/scheduler.js';
import { startSimulator } from './simulator/simulator.js';
import type { RunningSimulator } from './simulator/simulator.js';

export const ROLES = ['scheduler', 'worker', 'dashboard'] as const;
export type Role = (typeof ROLES)[number];

/** Options of {@link startService}. */
export interface StartServiceOptions {
  config: LoadedConfig;
  /** @defaultValue every role */
  roles?: readonly Role[];
  logger: Logger;
  /** The environment (the vault factory reads the file vault key from it). @defaultValue `{}` */
  env?: Readonly<Record<string, string | undefined>>;
  /** Relative vault paths resolve against it. @defaultValue `process.cwd()` */
  cwd?: string;
  /** @defaultValue the system clock */
  clock?: Clock;
  /** @defaultValue the cryptographic random source */
  random?: RandomSource;
  /** Overrides `http.port` (tests pass 0). */
  httpPort?: number;
  /** Overrides `simulator.port` (tests pass 0). */
  simulatorPort?: number;
  /** Overrides `scheduler.catchUp` (the demo turns it off: it starts its own run). */
  catchUp?: boolean;
  /** @defaultValue node-cron */
  cron?: CronFactory;
  /** Reboot job deadline passed to the rotation core. */
  rebootDeadlineMs?: number;
}

export interface RunningService {
  readonly roles: readonly Role[];
  readonly queues: RotationQueues;
  /** The command client (keys under `service.redis.keyPrefix`). */
  readonly redis: Redis;
  readonly outcomes: RedisOutcomeStore;
  readonly audit: RedisAuditLog;
  readonly http: RunningHttpServer | undefined;
  readonly simulator: RunningSimulator | undefined;
  readonly scheduler: Scheduler | undefined;
  readonly workers: RotationWorkers | undefined;
  /** The vault the workers use (worker role only). */
  readonly vault: Vault | undefined;
  /** Graceful: stop the scheduler, let batches finish within `limits.shutdownGraceMs`, close everything. */
  stop(): Promise<void>;
}

function configError(code: string, message: string): RotatorError {
  return new RotatorError({ code, message, retryable: false });
}

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  const service = config.service;
  const roles = [...new Set(options.roles ?? ROLES)];
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  const enabledTargets = config.targets.filter((t) => t.enabled);
  const has = (role: Role): boolean => roles.includes(role);

  // Validate before any side effect: credentials of every account an enabled target uses.
  if (has('worker')) {
    for (const accountName of new Set(enabledTargets.map((t) => t.account))) {
      config.account(accountName);
      config.credentials(accountName); // throws CONFIG_CREDENTIALS_MISSING naming the variables
    }
  }
  let httpToken: string | undefined;
  if (has('dashboard') && service.http.auth.mode === 'token') {
    httpToken = config.httpToken();
    if (httpToken === undefined) {
      throw configError('CONFIG_HTTP_TOKEN_MISSING', 'http.auth.mode is token: set ROTATOR_HTTP_TOKEN or ROTATOR_HTTP_TOKEN_FILE');
    }
  }

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        logger.warn({ err: { message: (error as Error).message } }, 'shutdown: a component failed to close');
      }
    }
  };

  try {
    const redis = createRedisConnection(service.redis.url, 'rotator');
    closers.push(() => closeRedisConnection(redis));
    try {
      await redis.ping();
    } catch (error) {
      throw new RotatorError({
        code: 'REDIS_UNAVAILABLE',
        message: `Redis does not answer at redis.url (${redactUrl(service.redis.url)}): ${(error as Error).message}`,
        retryable: true,
      });
    }
    const prefix = service.redis.keyPrefix;
    const queues = new RotationQueues({
      connection: redis,
      prefix,
      keepCompleted: service.limits.keepCompletedJobs,
      keepFailed: service.limits.keepFailedJobs,
      // Redis connection errors (an outage) go to the log, like the workers' (no job data in them).
      onError: (queue, error) => logger.warn({ queue, err: { message: error.message } }, 'queue error'),
    });
    closers.push(() => queues.close());
    const outcomes = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    const audit = new RedisAuditLog({ redis, keyPrefix: prefix, maxLen: service.limits.auditStreamMaxLen });

    let simulator: RunningSimulator | undefined;
    let workers: RotationWorkers | undefined;
    let vault: Vault | undefined;
    if (has('worker')) {
      const usesSimulator = enabledTargets.some((t) => config.account(t.account).endpoint === SIMULATOR_ENDPOINT);
      if (service.simulator.enabled && usesSimulator) {
        const sim = service.simulator;
        const account = service.accounts.find((a) => a.endpoint === SIMULATOR_ENDPOINT);
        simulator = await startSimulator({
          host: sim.host,
          port: options.simulatorPort ?? sim.port,
          fleet: { count: sim.servers, seed: sim.seed },
          ...(account ? { projectId: account.projectId, region: account.region } : {}),
        });
        closers.push(() => simulator!.close());
        logger.info({ url: simulator.url, servers: sim.servers }, 'simulator: embedded ECS simulator listening (demo only)');
      }

      const aws = service.vault.kind === 'aws-secrets-manager' ? service.vault.awsSecretsManager : undefined;
      const openedVault: Vault = await createVault(service.vault, {
        env: options.env ?? {},
        logger,
        clock,
        cwd: options.cwd ?? process.cwd(),
        // Secrets Manager's write quota is per account and region: share it across every worker.
        ...(aws
          ? {
              awsWriteLimiter: new RedisRateLimiter({
                redis,
                key: `${prefix}:ratelimit:aws-writes:${aws.region}`,
                requestsPerSecond: aws.writesPerSecond,
                clock,
              }),
            }
          : {}),
      });
      vault = openedVault;
      closers.push(() => openedVault.close());
      const locks = new RedisServerLocks({ redis, keyPrefix: prefix });

      const ecsClients = new Map<string, EcsApi>();
      const ecsFor = (accountName: string): EcsApi => {
        let client = ecsClients.get(accountName);
        if (!client) {
          const account = config.account(accountName);
          const simulatorAddress = simulator ? { host: '127.0.0.1', port: simulator.port } : service.simulator;
          // A provider, not a value: credential files are re-read per request (refreshed tokens, rotated keys).
          client = createEcsClient(account, () => config.credentials(accountName), {
            clock,
            random,
            logger,
            // One request rate per account for every worker of the deployment.
            rateLimiter: new RedisRateLimiter({
              redis,
              key: `${prefix}:ratelimit:ecs:${accountName}`,
              requestsPerSecond: account.requestsPerSecond,
              burst: Math.max(1, Math.floor(account.requestsPerSecond)),
              clock,
            }),
            simulator: simulatorAddress,
          });
          ecsClients.set(accountName, client);
        }
        return client;
      };

      const targetNamed = (name: string): TargetConfig => {
        const target = config.target(name);
        if (!target) throw configError('UNKNOWN_TARGET', `target ${JSON.stringify(name)} is not configured (jobs/*.yaml)`);
        if (!target.enabled) throw configError('TARGET_DISABLED', `target ${name} is disabled (enabled: false)`);
        return target;
      };

      const planRun: PlanRun = async (input, signal) => {
        const target = targetNamed(input.target);
        const ecs = ecsFor(target.account);
        // Pages of 1000 (Huawei's maximum): the listing is the run's only per-server ECS read.
        const resolved = resolveTargetServers(ecs, target.selector, { signal, pageSize: 1000 });
        if (input.serverIds === undefined) {
          return { serverIds: serversOf(resolved), batchSize: target.batchSize };
        }
        // An operator's list must stay inside the target: its policy and restart rules were
        // configured for those servers, not for any id typed on a command line.
        const members = new Set<string>();
        const requested = new Set(input.serverIds);
        const described = new Map<string, EcsServer>(); // only the requested ones: a target may be 100k servers
        for await (const r of resolved) {
          members.add(r.kind === 'found' ? r.server.id : r.serverId);
          if (r.kind === 'found' && requested.has(r.server.id)) described.set(r.server.id, r.server);
        }
        const foreign = input.serverIds.filter((id) => !members.has(id));
        if (foreign.length > 0) {
          throw configError(
            'SERVERS_NOT_IN_TARGET',
            `serverIds: ${foreign.length} id(s) are not servers of target ${target.name}: ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}`,
          );
        }
        return { serverIds: input.serverIds.map((id) => described.get(id) ?? id), batchSize: target.batchSize };
      };

      const rotateBatch: RotateBatch = async (input, { signal }) => {
        const target = targetNamed(input.target);
        const account = config.account(target.account);
        return runBatch(
          {
            ecs: ecsFor(target.account),
            vault: openedVault,
            locks,
            outcomes,
            audit,
            clock,
            random,
            logger,
            lockTtlMs: service.limits.lockTtlMs,
            ...(signal ? { signal } : {}),
            ...(options.rebootDeadlineMs !== undefined ? { rebootDeadlineMs: options.rebootDeadlineMs } : {}),
          },
          {
            runId: input.runId,
            batchIndex: input.batchIndex,
            serverIds: input.serverIds,
            ...(input.servers === undefined ? {} : { servers: input.servers.map(serverOfListing) }),
            dryRun: input.dryRun,
            target: {
              name: target.name,
              region: account.region,
              projectId: account.projectId,
              passwordPolicy: { ...target.passwordPolicy, requiredClasses: [...target.passwordPolicy.requiredClasses] },
              uniquePerServer: target.uniquePerServer,
              restartPolicy: input.restartPolicy ?? target.restartPolicy,
              dryRunPreflight: target.dryRunPreflight,
            },
          },
        );
      };

      workers = startRotationWorkers({
        queues,
        connection: redis,
        planRun,
        rotateBatch,
        logger,
        concurrency: service.limits.workerConcurrency,
        maxStalledCount: service.limits.maxStalledCount,
      });
      const started = workers;
      closers.push(() => started.close(service.limits.shutdownGraceMs));
      await workers.waitUntilReady();
      logger.info({ concurrency: service.limits.workerConcurrency }, 'worker: listening for runs and batches');
    }

    let scheduler: Scheduler | undefined;
    if (has('scheduler')) {
      scheduler = new Scheduler({
        targets: config.targets,
        enqueue: (target, slot) => queues.enqueueScheduledRun(target, slot),
        runExists: async (id) => (await queues.runs.getJob(id)) !== undefined,
        redis,
        keyPrefix: prefix,
        clock,
        logger,
        catchUp: options.catchUp ?? service.scheduler.catchUp,
        ...(options.cron ? { cron: options.cron } : {}),
      });
      const s = scheduler;
      closers.push(() => s.stop());
      await scheduler.start();
    }

    let http: RunningHttpServer | undefined;
    if (has('dashboard')) {
      const app = createHttpApp({
        queues,
        outcomes,
        targets: config.targets,
        readOnly: service.http.readOnly,
        auth: httpToken === undefined ? { mode: 'none' } : { mode: 'token', token: httpToken },
        ready: async () => (await redis.ping()) === 'PONG',
        logger,
      });
      http = await startHttpServer(app, { host: service.http.host, port: options.httpPort ?? service.http.port });
      const h = http;
      closers.push(() => h.close());
      logger.info({ url: `${http.url}/ui` }, 'dashboard: listening');
    }

    let stopping: Promise<void> | undefined;
    return {
      roles,
      queues,
      redis,
      outcomes,
      audit,
      http,
      simulator,
      scheduler,
      workers,
      vault,
      stop: () => (stopping ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

async function* serversOf(resolved: AsyncIterable<{ kind: 'found'; server: EcsServer } | { kind: 'not-found'; serverId: string }>) {
  // Found servers go on with what the listing said of them (their batch needs no GET); not-found
  // explicit ids go on as ids, and the batch records them `skipped` (not-found): honest outcomes.
  for await (const r of resolved) yield r.kind === 'found' ? r.server : r.serverId;
}

/** The Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis.url';
  }
}

/**
 * SIGTERM/SIGINT: the first stops gracefully and exits 0; a second exits at once with 143/130
 * (in-flight batches are then recovered by BullMQ's stalled-job check in another worker).
 */
export function installShutdownSignals(
  stop: () => Promise<void>,
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signalled) {
      logger.warn({ signal }, 'shutdown: second signal, exiting now');
      exit(code);
      return;
    }
    signalled = true;
    logger.info({ signal }, 'shutdown: stopping (send the signal again to exit at once)');
    stop().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: { message: (error as Error).message } }, 'shutdown: failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}
