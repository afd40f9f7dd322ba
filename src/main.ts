/**
 * Composition root: builds the shared adapters (Redis, queues, outcome store, audit log) from a
 * loaded config and starts the roles of one process; it holds no use-case logic (that is in
 * src/rotation). Each role is composed in src/roles/:
 * - `scheduler`: cron → enqueue only (src/scheduler);
 * - `worker`: vault, ECS clients, the rotation use cases and the BullMQ workers that call them
 *   (src/queue → src/rotation); with `simulator.enabled`, also the embedded ECS simulator (demo only);
 * - `dashboard`: bull-board, health and status over HTTP (src/http).
 * All roles by default; `rotator run --role …` picks some. Signals: src/shutdown-signals.ts.
 *
 * Invariant 6 (validate before side effects): config arrives validated (src/config); here, before any
 * role starts, every enabled target's account credentials are resolved, the vault is opened (a wrong
 * key fails here), Redis must answer, and the HTTP token must exist when token auth is on.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cryptoRandom } from './adapters/crypto-random.js';
import { RedisAuditLog, RedisOutcomeStore, RedisRunHistory } from './adapters/redis/index.js';
import type { Notifications } from './notifications/start-notifications.js';
import { createServiceMetrics, type ServiceMetrics } from './observability/service-metrics.js';
import { systemClock } from './adapters/system-clock.js';
import type { LoadedConfig } from './config/index.js';
import type { RunningHttpServer } from './http/http-server.js';
import type { Clock } from './ports/clock.js';
import type { RandomSource } from './ports/random-source.js';
import type { Vault } from './ports/vault.js';
import { closeRedisConnection, connectRedis } from './queue/redis-connection.js';
import { RotationQueues } from './queue/rotation-queues.js';
import type { RotationWorkers } from './queue/rotation-workers.js';
import { startSchedulerRole } from './roles/scheduler-role.js';
import { checkBeforeStart } from './roles/start-checks.js';
import { startWorkerRole } from './roles/worker-role.js';
import type { WorkerRole } from './roles/worker-role.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { CronFactory } from './scheduler/scheduler.js';
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
  /** Backoff between notification delivery attempts (tests shorten it). */
  notificationBackoff?: { baseDelayMs: number; maxDelayMs: number };
}

export interface RunningService {
  readonly roles: readonly Role[];
  readonly queues: RotationQueues;
  /** The command client (keys under `service.redis.keyPrefix`). */
  readonly redis: Redis;
  readonly outcomes: RedisOutcomeStore;
  readonly audit: RedisAuditLog;
  readonly runHistory: RedisRunHistory;
  /** This process's Prometheus instruments (served on `/metrics` with the fleet gauges). */
  readonly metrics: ServiceMetrics;
  readonly http: RunningHttpServer | undefined;
  readonly simulator: RunningSimulator | undefined;
  readonly scheduler: Scheduler | undefined;
  readonly workers: RotationWorkers | undefined;
  /** The vault the workers use (worker role only). */
  readonly vault: Vault | undefined;
  /** Notifications and the compliance watch (worker role only). */
  readonly notifications: Notifications | undefined;
  /** Graceful: stop the scheduler, let batches finish within `limits.shutdownGraceMs`, close everything. */
  stop(): Promise<void>;
}

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  const service = config.service;
  const roles = [...new Set(options.roles ?? ROLES)];
  const has = (role: Role): boolean => roles.includes(role);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;

  // Invariant 6: validate before any side effect (throws naming the missing variable or file).
  const { httpToken } = checkBeforeStart(config, roles);

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

  const onClose = (close: () => Promise<void>): void => void closers.push(close);

  try {
    // Fails fast with one REDIS_UNAVAILABLE line when Redis does not answer (no ioredis stacks).
    const redis = await connectRedis(service.redis.url, 'rotator');
    closers.push(() => closeRedisConnection(redis));
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
    const runHistory = new RedisRunHistory({ redis, keyPrefix: prefix });
    const metrics = createServiceMetrics();

    let worker: WorkerRole | undefined;
    if (has('worker')) {
      worker = await startWorkerRole({
        config,
        redis,
        queues,
        outcomes,
        audit,
        clock,
        random,
        logger,
        env: options.env ?? {},
        cwd: options.cwd ?? process.cwd(),
        simulatorPort: options.simulatorPort,
        rebootDeadlineMs: options.rebootDeadlineMs,
        onClose,
        metrics,
        runHistory,
        notificationBackoff: options.notificationBackoff,
      });
    }

    let scheduler: Scheduler | undefined;
    if (has('scheduler')) {
      scheduler = await startSchedulerRole({ config, queues, redis, clock, logger, catchUp: options.catchUp, cron: options.cron, onClose });
    }

    let http: RunningHttpServer | undefined;
    if (has('dashboard')) {
      // Loaded only for this role: express and the job dashboard cost a worker-only process about 20 MB.
      const { startDashboardRole } = await import('./roles/dashboard-role.js');
      const started = await startDashboardRole({ config, queues, outcomes, redis, logger, httpToken, port: options.httpPort, runHistory, audit, metricsRegistry: metrics.registry, clock, verifyTarget: worker?.verifyTarget });
      onClose(() => started.close());
      http = started;
    }

    let stopping: Promise<void> | undefined;
    return {
      roles,
      queues,
      redis,
      outcomes,
      audit,
      runHistory,
      metrics,
      http,
      simulator: worker?.simulator,
      scheduler,
      workers: worker?.workers,
      vault: worker?.vault,
      notifications: worker?.notifications,
      stop: () => (stopping ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
