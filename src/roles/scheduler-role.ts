import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/index.js';
import type { Clock } from '../ports/clock.js';
import type { RotationQueues } from '../queue/rotation-queues.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { CronFactory } from '../scheduler/scheduler.js';

/** The scheduler role: cron ticks of every enabled target only enqueue runs (deterministic ids). */
export async function startSchedulerRole(deps: {
  config: LoadedConfig;
  queues: RotationQueues;
  redis: Redis;
  clock: Clock;
  logger: Logger;
  /** Overrides `scheduler.catchUp`. */
  catchUp?: boolean | undefined;
  /** @defaultValue node-cron */
  cron?: CronFactory | undefined;
  /** Registers the scheduler's stop, before it starts (a failed start still stops what it began). */
  onClose(close: () => Promise<void>): void;
}): Promise<Scheduler> {
  const { config, queues } = deps;
  const scheduler = new Scheduler({
    targets: config.targets,
    enqueue: (target, slot) => queues.enqueueScheduledRun(target, slot),
    runExists: async (id) => (await queues.runs.getJob(id)) !== undefined,
    redis: deps.redis,
    keyPrefix: config.service.redis.keyPrefix,
    clock: deps.clock,
    logger: deps.logger,
    catchUp: deps.catchUp ?? config.service.scheduler.catchUp,
    ...(deps.cron ? { cron: deps.cron } : {}),
  });
  deps.onClose(() => scheduler.stop());
  await scheduler.start();
  return scheduler;
}
