/**
 * The worker role's composition: the vault, the ECS clients (one per account, rate-limited in
 * Redis), the rotation use cases built from them (src/rotation/rotation-service.ts), and the BullMQ
 * workers that call those use cases. With `simulator.enabled`, the embedded ECS simulator starts
 * first (demo only: each process would get its own fleet) and `endpoint: simulator` accounts use it.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createVault } from '../adapters/create-vault.js';
import { createEcsClientRegistry } from '../adapters/huawei-ecs/ecs-client-registry.js';
import { RedisHostKeyStore, RedisNotificationStore, RedisRateLimiter, RedisServerLocks } from '../adapters/redis/index.js';
import type { RedisRunHistory } from '../adapters/redis/index.js';
import { SshPasswordVerifier } from '../adapters/ssh/ssh-password-verifier.js';
import { startNotifications, type Notifications } from '../notifications/start-notifications.js';
import { instrumentEcsApi, instrumentRotateBatch, instrumentVault } from '../observability/instrumented-ports.js';
import { observeRuns } from '../observability/run-observer.js';
import type { ServiceMetrics } from '../observability/service-metrics.js';
import type { RedisAuditLog, RedisOutcomeStore } from '../adapters/redis/index.js';
import { SIMULATOR_ENDPOINT } from '../config/index.js';
import type { LoadedConfig } from '../config/index.js';
import type { Clock } from '../ports/clock.js';
import type { RandomSource } from '../ports/random-source.js';
import type { Vault } from '../ports/vault.js';
import type { RotationQueues } from '../queue/rotation-queues.js';
import { startRotationWorkers } from '../queue/rotation-workers.js';
import type { RotationWorkers } from '../queue/rotation-workers.js';
import { createRotationService, type RotationService } from '../rotation/rotation-service.js';
import { batchJobId } from '../domain/job-ids.js';
import { RunJobDataSchema } from '../queue/job-schemas.js';
import { createBatchAdmission } from '../rotation/batch-admission.js';
import { effectiveWorkerConcurrency } from '../config/worker-concurrency.js';
import { startSimulator } from '../simulator/simulator.js';
import type { RunningSimulator } from '../simulator/simulator.js';

export interface WorkerRoleDeps {
  config: LoadedConfig;
  /** The command client; keys go under `service.redis.keyPrefix`. */
  redis: Redis;
  queues: RotationQueues;
  outcomes: RedisOutcomeStore;
  audit: RedisAuditLog;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** The environment (the file vault key may come from it). */
  env: Readonly<Record<string, string | undefined>>;
  /** Relative vault paths resolve against it. */
  cwd: string;
  /** Overrides `simulator.port`. */
  simulatorPort?: number | undefined;
  /** Reboot job deadline passed to the rotation core. */
  rebootDeadlineMs?: number | undefined;
  /** Registers a component's close; the caller closes them in reverse order (also when a later start fails). */
  onClose(close: () => Promise<void>): void;
  /** This process's instruments: the ports handed to the rotation core are decorated with them. */
  metrics: ServiceMetrics;
  /** Where finished runs are recorded (once per run). */
  runHistory: RedisRunHistory;
  /** Backoff between notification delivery attempts (tests shorten it). */
  notificationBackoff?: { baseDelayMs: number; maxDelayMs: number } | undefined;
}

export interface WorkerRole {
  readonly simulator: RunningSimulator | undefined;
  readonly vault: Vault;
  readonly workers: RotationWorkers;
  readonly notifications: Notifications;
  /** Verification by login on its own (the HTTP API's verify endpoint). */
  readonly verifyTarget: RotationService['verifyTarget'];
}

/** Burst of the shared AWS write limiters: a fifth of a second's worth, at least 1. */
function awsBurst(writesPerSecond: number): number {
  return Math.max(1, Math.floor(writesPerSecond / 5));
}

export async function startWorkerRole(deps: WorkerRoleDeps): Promise<WorkerRole> {
  const { config, redis, clock, random, logger } = deps;
  const service = config.service;
  const prefix = service.redis.keyPrefix;
  // One request rate per key for every worker of the deployment (ECS: per account; AWS writes: per region).
  const sharedLimiter = (key: string, requestsPerSecond: number, burst?: number): RedisRateLimiter =>
    new RedisRateLimiter({ redis, key: `${prefix}:ratelimit:${key}`, requestsPerSecond, clock, ...(burst === undefined ? {} : { burst }) });

  let simulator: RunningSimulator | undefined;
  const usesSimulator = config.targets.some((t) => t.enabled && config.account(t.account).endpoint === SIMULATOR_ENDPOINT);
  if (service.simulator.enabled && usesSimulator) {
    const sim = service.simulator;
    const account = service.accounts.find((a) => a.endpoint === SIMULATOR_ENDPOINT);
    const verifiesBySsh = config.targets.some((t) => t.enabled && config.account(t.account).endpoint === SIMULATOR_ENDPOINT && t.verify.method === 'ssh');
    const started = await startSimulator({
      host: sim.host,
      port: deps.simulatorPort ?? sim.port,
      fleet: { count: sim.servers, seed: sim.seed },
      // The simulated servers' SSH endpoints, for targets that verify by login. Tests start the
      // simulator on port 0: its SSH endpoints then take a free port too.
      ...(verifiesBySsh ? { ssh: { port: deps.simulatorPort === 0 ? 0 : sim.sshPort } } : {}),
      ...(account ? { projectId: account.projectId, region: account.region } : {}),
    });
    simulator = started;
    deps.onClose(() => started.close());
    logger.info({ url: started.url, servers: sim.servers }, 'simulator: embedded ECS simulator listening (demo only)');
  }

  const aws = service.vault.kind === 'aws-secrets-manager' ? service.vault.awsSecretsManager : undefined;
  const vault = await createVault(service.vault, {
    env: deps.env,
    logger,
    clock,
    cwd: deps.cwd,
    // Secrets Manager's write quotas are per account and region: share them across every worker.
    // A burst of a fifth of a second's writes lets the limiter make up for timers that fire late
    // (without it every late wake-up is lost for good) and stays well inside AWS's own bucket.
    ...(aws
      ? {
          awsWriteLimiter: sharedLimiter(`aws-writes:${aws.region}`, aws.writesPerSecond, awsBurst(aws.writesPerSecond)),
          awsCreateLimiter: sharedLimiter(`aws-creates:${aws.region}`, aws.writesPerSecond, awsBurst(aws.writesPerSecond)),
        }
      : {}),
  });
  deps.onClose(() => vault.close());
  const { metrics } = deps;
  const ecsClient = createEcsClientRegistry({
    account: (name) => config.account(name),
    credentials: (name) => config.credentials(name),
    rateLimiterFor: (account) => sharedLimiter(`ecs:${account.name}`, account.requestsPerSecond, Math.max(1, Math.floor(account.requestsPerSecond))),
    simulator: simulator ? { host: '127.0.0.1', port: simulator.port } : service.simulator,
    clock,
    random,
    logger,
  });
  // Metrics at the edges: the rotation core gets decorated ports and knows nothing of them.
  const meteredEcs = new Map<string, ReturnType<typeof ecsClient>>();
  const ecsFor = (name: string): ReturnType<typeof ecsClient> => {
    let client = meteredEcs.get(name);
    if (!client) meteredEcs.set(name, (client = instrumentEcsApi(ecsClient(name), metrics, name)));
    return client;
  };

  const rotation = createRotationService({
    target: (name) => config.target(name),
    account: (name) => config.account(name),
    ecsFor,
    vault: instrumentVault(vault, metrics),
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: deps.outcomes,
    audit: deps.audit,
    clock,
    random,
    logger,
    lockTtlMs: service.limits.lockTtlMs,
    rebootDeadlineMs: deps.rebootDeadlineMs,
    // Host keys of every server, recorded on first contact (fingerprints only), shared by all workers.
    verifier: new SshPasswordVerifier({ hostKeys: new RedisHostKeyStore({ redis, keyPrefix: prefix }), clock }),
    // A simulator account's servers answer SSH on the embedded simulator's port, whatever the job file says.
    verifyFor: (target) => {
      const ssh = simulator?.ssh;
      const settings = target.verify;
      if (settings === undefined || ssh === undefined || config.account(target.account).endpoint !== SIMULATOR_ENDPOINT) return settings;
      return { ...settings, port: ssh.port };
    },
  });
  // Every batch job, whoever enqueued it, is checked against its run and target before anything happens.
  const admitBatch = createBatchAdmission({
    loadRun: async (runId) => {
      const parsed = RunJobDataSchema.safeParse((await deps.queues.runs.getJob(runId))?.data);
      return parsed.success ? parsed.data : undefined;
    },
    target: (name) => config.target(name),
    targetMembers: rotation.targetMembers,
    listedSoFar: rotation.listedSoFar,
    runQueue: deps.queues.runs.qualifiedName,
    batchJobId,
  });
  // auto: about 4,000 servers in flight, by the largest batch of an enabled target (worker-concurrency.ts).
  const concurrency = effectiveWorkerConcurrency(service.limits.workerConcurrency, config.targets);
  const workers = startRotationWorkers({
    queues: deps.queues,
    connection: redis,
    planRun: rotation.planRun,
    rotateBatch: instrumentRotateBatch(rotation.rotateBatch, metrics),
    admitBatch,
    logger,
    concurrency,
    maxStalledCount: service.limits.maxStalledCount,
  });
  const notifications = startNotifications({
    channels: service.notifications.channels,
    secrets: (name) => config.notificationChannel(name),
    targets: config.targets,
    store: deps.outcomes,
    deliveries: new RedisNotificationStore({ redis, keyPrefix: prefix }),
    checkIntervalMs: service.notifications.checkIntervalSeconds * 1000,
    metrics,
    clock,
    random,
    logger,
    ...(deps.notificationBackoff ? { backoff: deps.notificationBackoff } : {}),
  });
  deps.onClose(() => notifications.close());
  // Closed after the workers (closes run in reverse): runs finishing during a graceful stop are recorded.
  const stopObserving = observeRuns({
    runs: workers.runWorker,
    history: deps.runHistory,
    metrics,
    clock,
    logger,
    onRun: (run) => notifications.onRun(run),
  });
  deps.onClose(async () => stopObserving());
  deps.onClose(() => workers.close(service.limits.shutdownGraceMs));
  await workers.waitUntilReady();
  logger.info({ concurrency, ...(service.limits.workerConcurrency === 'auto' ? { concurrencyFrom: 'auto' } : {}) }, 'worker: listening for runs and batches');
  return { simulator, vault, workers, notifications, verifyTarget: rotation.verifyTarget };
}
