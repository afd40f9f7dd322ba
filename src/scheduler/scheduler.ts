/**
 * The scheduler role: one cron task per enabled target, in the target's timezone. A tick ONLY
 * enqueues the run for its slot (`run|<target>|<slot>`, slot = the tick's scheduled minute in UTC);
 * the workers do the rest. Any number of replicas may run this: the deterministic job id makes
 * BullMQ keep one job per slot, and a per-target `lastSlot` record in Redis (written after the
 * add) stops a late replica from re-adding a slot whose job was already removed by retention.
 *
 * At start-up, catch-up: when the most recent slot before now is newer than the target's record
 * (no scheduler was running then), it is enqueued once — through the same path, so replicas
 * starting together still add one job. A target seen for the first time (no record at all) was
 * never scheduled, so nothing was missed: its record starts at that slot, and it first runs at
 * its next slot. (Rotating a fleet the moment a job file is added would surprise operators, and
 * would collide with the manual `rotator rotate` they usually start first.)
 */
import { schedule as cronSchedule } from 'node-cron';
import type { Logger as CronLogger } from 'node-cron';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../ports/clock.js';
import { scheduledRunId, slotOf } from '../domain/job-ids.js';
import type { EnqueuedRun } from '../queue/rotation-queues.js';
import { previousFireTime } from './previous-fire-time.js';

/** What the scheduler needs to know of a target (config `jobs/*.yaml`). */
export interface ScheduledTarget {
  name: string;
  /** Cron expression, 5 or 6 fields (validated by config). */
  schedule: string;
  /** IANA zone the expression is read in. */
  timezone: string;
  enabled: boolean;
}

/** A started cron task. */
export interface CronTask {
  stop(): void | Promise<void>;
}

/**
 * Starts a cron task that calls `onTick` with each tick's scheduled time, and `onMissed` when the
 * event loop was too busy to tick on time. The default is node-cron; tests may pass their own.
 */
export type CronFactory = (
  expression: string,
  handlers: { onTick(scheduledAt: Date): void; onMissed(scheduledAt: Date): void },
  options: { timezone: string; name: string },
) => CronTask;

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  targets: readonly ScheduledTarget[];
  /** Adds the run of `target` for `slot` (RotationQueues.enqueueScheduledRun). */
  enqueue(target: string, slot: string): Promise<EnqueuedRun>;
  /** Tells whether a run job exists (RotationQueues.runs.getJob), used by catch-up. */
  runExists(runId: string): Promise<boolean>;
  /** Holds the `lastSlot` records. */
  redis: Redis;
  /** Key prefix (config `redis.keyPrefix`); records are `<prefix>:scheduler:lastSlot:<target>`. */
  keyPrefix: string;
  clock: Clock;
  logger: Logger;
  /** Enqueue a missed slot at start-up (config `scheduler.catchUp`). @defaultValue true */
  catchUp?: boolean;
  /** How far back catch-up looks for the last slot, in minutes. @defaultValue 44640 (31 days) */
  catchUpLookbackMinutes?: number;
  /** @defaultValue node-cron's `schedule` */
  cron?: CronFactory;
}

export type TickResult =
  | { kind: 'enqueued'; runId: string; created: boolean }
  | { kind: 'already-recorded'; runId: string };

// Slots are fixed-width (yyyymmddThhmmZ), so string order is time order.
const SET_MAX_SLOT = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0`;

/** Routes node-cron's own messages into our logger (otherwise it prints to the console). */
export function cronLogger(logger: Logger): CronLogger {
  return {
    info: (m) => logger.info({ component: 'node-cron' }, m),
    warn: (m) => logger.warn({ component: 'node-cron' }, m),
    error: (m) => logger.error({ component: 'node-cron' }, m instanceof Error ? m.message : m),
    debug: (m) => logger.debug({ component: 'node-cron' }, m instanceof Error ? m.message : m),
  };
}

export function nodeCronFactory(logger: Logger): CronFactory {
  return (expression, handlers, options) => {
    const task = cronSchedule(expression, (ctx) => handlers.onTick(ctx.date), {
      timezone: options.timezone,
      name: options.name,
      noOverlap: true,
      logger: cronLogger(logger),
    });
    task.on('execution:missed', (ctx) => handlers.onMissed(ctx.date));
    return { stop: () => task.destroy() };
  };
}

export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly tasks: CronTask[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(options: SchedulerOptions) {
    this.options = options;
  }

  private lastSlotKey(target: string): string {
    return `${this.options.keyPrefix}:scheduler:lastSlot:${target}`;
  }

  /** The last slot enqueued for `target` by any replica, if recorded. */
  async lastSlot(target: string): Promise<string | undefined> {
    return (await this.options.redis.get(this.lastSlotKey(target))) ?? undefined;
  }

  /**
   * Enqueues the run of `target` for the slot of `scheduledAt`, unless a replica already did.
   * Safe to call concurrently from any number of processes.
   */
  async tick(target: string, scheduledAt: Date | number): Promise<TickResult> {
    const slot = slotOf(scheduledAt);
    const runId = scheduledRunId(target, slot);
    const last = await this.lastSlot(target);
    if (last !== undefined && last >= slot) return { kind: 'already-recorded', runId };
    // Add first, record second: a crash in between leaves no record, and the next replica or
    // catch-up adds the same id again, which BullMQ ignores while the job exists.
    const { created } = await this.options.enqueue(target, slot);
    await this.options.redis.eval(SET_MAX_SLOT, 1, this.lastSlotKey(target), slot);
    return { kind: 'enqueued', runId, created };
  }

  /**
   * For each enabled target: if its most recent slot before now is newer than its record and has
   * no job, enqueue it (no record at all: write the baseline, enqueue nothing). Returns the run ids enqueued (by this call; a replica may have added the same id).
   */
  async catchUp(): Promise<string[]> {
    const enqueued: string[] = [];
    const now = this.options.clock.now();
    for (const target of this.options.targets) {
      if (!target.enabled) continue;
      const at = previousFireTime(target.schedule, target.timezone, now, {
        lookbackMinutes: this.options.catchUpLookbackMinutes,
      });
      if (at === undefined) continue;
      const slot = slotOf(at);
      const last = await this.lastSlot(target.name);
      if (last === undefined) {
        // First sight of this target: a baseline, not a missed slot (see the header comment).
        await this.options.redis.eval(SET_MAX_SLOT, 1, this.lastSlotKey(target.name), slot);
        this.options.logger.info({ target: target.name, slot }, 'scheduler: new target, first run at its next slot');
        continue;
      }
      if (last >= slot) continue;
      const runId = scheduledRunId(target.name, slot);
      if (await this.options.runExists(runId)) continue;
      const result = await this.tick(target.name, at);
      if (result.kind === 'enqueued') {
        this.options.logger.info({ target: target.name, slot, runId, created: result.created }, 'scheduler: catch-up run enqueued');
        enqueued.push(runId);
      }
    }
    return enqueued;
  }

  /** Runs catch-up (when enabled), then starts one cron task per enabled target. */
  async start(): Promise<void> {
    if (this.options.catchUp ?? true) await this.catchUp();
    const cron = this.options.cron ?? nodeCronFactory(this.options.logger);
    for (const target of this.options.targets) {
      if (!target.enabled) continue;
      const fire = (scheduledAt: Date, missed: boolean): void => {
        if (this.stopped) return;
        const p = this.tick(target.name, scheduledAt).then(
          (r) =>
            this.options.logger.info(
              { target: target.name, runId: r.runId, result: r.kind, missed },
              'scheduler: tick',
            ),
          (error: unknown) =>
            // Redis down: the next replica's tick or the next start's catch-up covers the slot.
            this.options.logger.error(
              { target: target.name, err: { message: (error as Error).message } },
              'scheduler: could not enqueue the run',
            ),
        );
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      };
      this.tasks.push(
        cron(
          target.schedule,
          { onTick: (d) => fire(d, false), onMissed: (d) => fire(d, true) },
          { timezone: target.timezone, name: `rotate-${target.name}` },
        ),
      );
      this.options.logger.info({ target: target.name, schedule: target.schedule, timezone: target.timezone }, 'scheduler: target scheduled');
    }
  }

  /** Stops every cron task and waits for ticks being enqueued. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.tasks.splice(0).map((t) => t.stop()));
    await Promise.allSettled([...this.inFlight]);
  }
}
