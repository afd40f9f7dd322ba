/**
 * Scheduler replicas against real Redis: one run per slot however many replicas tick, and
 * catch-up of a slot missed while no scheduler ran.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { nodeCronFactory } from '../../src/scheduler/scheduler.js';
import type { CronFactory, ScheduledTarget, SchedulerOptions } from '../../src/scheduler/scheduler.js';
import { slotOf } from '../../src/domain/job-ids.js';
import { capturedLogger, deleteUnder, fixedClock, redisClient, uniquePrefix } from './queue-helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NOW = Date.UTC(2026, 10, 27, 12, 7, 30); // 2026-11-27T12:07:30Z
const web: ScheduledTarget = { name: 'web', schedule: '*/15 * * * *', timezone: 'UTC', enabled: true };

/** A cron factory the test fires by hand. */
function manualCron(): CronFactory & { fire(name: string, at: Date): void; started: string[] } {
  const handlers = new Map<string, (at: Date) => void>();
  const started: string[] = [];
  const factory = ((_expr, h, o) => {
    handlers.set(o.name, h.onTick);
    started.push(o.name);
    return { stop: () => void handlers.delete(o.name) };
  }) as CronFactory & { fire(name: string, at: Date): void; started: string[] };
  factory.fire = (name, at) => handlers.get(name)?.(at);
  factory.started = started;
  return factory;
}

/** One scheduler replica with its own Redis connection and queue objects, as a separate process would have. */
function replica(prefix: string, options: Partial<SchedulerOptions> & { targets: ScheduledTarget[] }) {
  const redis: Redis = redisClient();
  const queues = new RotationQueues({
    connection: redis,
    prefix,
    keepCompleted: { count: 100, ageSeconds: 3600 },
    keepFailed: { count: 100, ageSeconds: 3600 },
  });
  const { logger, text } = capturedLogger();
  const scheduler = new Scheduler({
    enqueue: (t, slot) => queues.enqueueScheduledRun(t, slot),
    runExists: async (id) => (await queues.runs.getJob(id)) !== undefined,
    redis,
    keyPrefix: prefix,
    clock: fixedClock(NOW),
    logger,
    ...options,
  });
  cleanups.push(async () => {
    await scheduler.stop();
    await queues.close();
    redis.disconnect();
  });
  return { scheduler, queues, redis, logs: text };
}

function freshPrefix(): string {
  const prefix = uniquePrefix('sched');
  cleanups.push(async () => {
    const r = redisClient();
    await deleteUnder(r, prefix);
    r.disconnect();
  });
  return prefix;
}

describe('scheduler replicas', () => {
  it('two replicas ticking the same slot enqueue one run', async () => {
    const prefix = freshPrefix();
    const a = replica(prefix, { targets: [web], catchUp: false });
    const b = replica(prefix, { targets: [web], catchUp: false });
    const at = new Date(Date.UTC(2026, 10, 27, 12, 15, 0, 4)); // node-cron may tick a few ms late
    const results = await Promise.all([a.scheduler.tick('web', at), b.scheduler.tick('web', at), a.scheduler.tick('web', at)]);
    expect(new Set(results.map((r) => r.runId))).toEqual(new Set(['run|web|20261127T1215Z']));
    const jobs = await a.queues.runs.getJobs(['waiting', 'active', 'completed']);
    expect(jobs.map((j) => j.id)).toEqual(['run|web|20261127T1215Z']);
    expect(jobs[0]!.data).toEqual({ target: 'web', trigger: 'schedule', slot: '20261127T1215Z', dryRun: false });
    expect(await a.scheduler.lastSlot('web')).toBe('20261127T1215Z');
    // A late replica after the job was removed by retention still does not re-add the slot.
    await a.queues.runs.obliterate({ force: true });
    expect((await b.scheduler.tick('web', at)).kind).toBe('already-recorded');
    expect(await a.queues.runs.count()).toBe(0);
  });

  it('ticks from real node-cron in two replicas give one run per slot', async () => {
    const prefix = freshPrefix();
    const everySecond: ScheduledTarget = { name: 'web', schedule: '* * * * * *', timezone: 'UTC', enabled: true };
    const tickedSlots: string[] = [];
    const { logger } = capturedLogger();
    let reached!: () => void;
    const enough = new Promise<void>((resolve) => (reached = resolve));
    // Real node-cron, observed: every tick of either replica is counted.
    const observed: CronFactory = (expr, h, o) =>
      nodeCronFactory(logger)(
        expr,
        {
          onTick: (d) => {
            h.onTick(d);
            tickedSlots.push(slotOf(d));
            if (tickedSlots.length >= 4) reached();
          },
          onMissed: h.onMissed,
        },
        o,
      );
    const a = replica(prefix, { targets: [everySecond], catchUp: false, cron: observed });
    const b = replica(prefix, { targets: [everySecond], catchUp: false, cron: observed });
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    await enough;
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]); // waits for ticks being enqueued
    const ids = (await a.queues.runs.getJobs(['waiting'])).map((j) => j.id).sort();
    expect(ids).toEqual([...new Set(tickedSlots)].sort().map((s) => `run|web|${s}`));
    expect(ids.length).toBeLessThan(tickedSlots.length);
  });

  it('does not schedule disabled targets', async () => {
    const prefix = freshPrefix();
    const cron = manualCron();
    const { scheduler } = replica(prefix, {
      targets: [web, { ...web, name: 'db', enabled: false }],
      catchUp: false,
      cron,
    });
    await scheduler.start();
    expect(cron.started).toEqual(['rotate-web']);
  });

  it('a cron tick enqueues through the same path', async () => {
    const prefix = freshPrefix();
    const cron = manualCron();
    const r = replica(prefix, { targets: [web], catchUp: false, cron });
    await r.scheduler.start();
    cron.fire('rotate-web', new Date(Date.UTC(2026, 10, 27, 12, 30)));
    await r.scheduler.stop(); // waits for in-flight ticks
    expect((await r.queues.runs.getJobs(['waiting'])).map((j) => j.id)).toEqual(['run|web|20261127T1230Z']);
  });
});

describe('catch-up at start-up', () => {
  it('does not run a target seen for the first time, but records where its schedule starts', async () => {
    const prefix = freshPrefix();
    const a = replica(prefix, { targets: [web], cron: manualCron() });
    await a.scheduler.start();
    expect(await a.queues.runs.count()).toBe(0);
    expect(await a.scheduler.lastSlot('web')).toBe('20261127T1200Z');
    expect(a.logs()).toContain('first run at its next slot');
  });

  it('enqueues the missed slot once, even with two replicas starting together', async () => {
    const prefix = freshPrefix();
    const cron = manualCron();
    // A scheduler ran before (its record says 11:45), then nothing ran at the 12:00 slot.
    const seed = redisClient();
    await seed.set(`${prefix}:scheduler:lastSlot:web`, '20261127T1145Z');
    seed.disconnect();
    const a = replica(prefix, { targets: [web], cron });
    const b = replica(prefix, { targets: [web], cron });
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    const ids = (await a.queues.runs.getJobs(['waiting'])).map((j) => j.id);
    expect(ids).toEqual(['run|web|20261127T1200Z']);
    expect(a.logs() + b.logs()).toContain('catch-up run enqueued');
    // A later start (restart) finds the record and adds nothing.
    const c = replica(prefix, { targets: [web], cron });
    expect(await c.scheduler.catchUp()).toEqual([]);
    expect(await a.queues.runs.count()).toBe(1);
  });

  it('adds nothing when the last slot already ran', async () => {
    const prefix = freshPrefix();
    const a = replica(prefix, { targets: [web], catchUp: false });
    await a.scheduler.tick('web', new Date(Date.UTC(2026, 10, 27, 12, 0)));
    await a.queues.runs.obliterate({ force: true });
    expect(await a.scheduler.catchUp()).toEqual([]);
  });

  it('does not catch up when disabled', async () => {
    const prefix = freshPrefix();
    const a = replica(prefix, { targets: [web], catchUp: false, cron: manualCron() });
    await a.scheduler.start();
    expect(await a.queues.runs.count()).toBe(0);
  });

  it('reads the schedule in the target’s timezone', async () => {
    const prefix = freshPrefix();
    const berlin: ScheduledTarget = { name: 'db', schedule: '0 3 * * *', timezone: 'Europe/Berlin', enabled: true };
    const a = replica(prefix, { targets: [berlin] });
    const seed = redisClient();
    await seed.set(`${prefix}:scheduler:lastSlot:db`, '20261126T0200Z'); // yesterday's slot ran
    seed.disconnect();
    // 03:00 in Berlin on 27 November (CET, UTC+1) is 02:00 UTC.
    expect(await a.scheduler.catchUp()).toEqual(['run|db|20261127T0200Z']);
  });
});
