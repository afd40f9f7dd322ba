import { createTask } from 'node-cron';
import { describe, expect, it } from 'vitest';
import { cronProblem, formatInZone, isValidTimezone, nextFireTimes } from '../../src/config/index.js';

describe('cronProblem', () => {
  it('accepts 5 and 6 fields and rejects what either cron engine rejects', () => {
    expect(cronProblem('*/15 * * * *')).toBeUndefined();
    expect(cronProblem('0 30 2 * * 1-5')).toBeUndefined();
    expect(cronProblem('*/15 * * *')).toBe('it has 4 fields'); // cron-parser alone would accept it
    expect(cronProblem('* * * * * * *')).toBe('it has 7 fields');
    expect(cronProblem('0 0 1W * *')).toMatch(/not supported here/); // node-cron alone would accept it
    expect(cronProblem('0 25 * * *')).toMatch(/hour/);
  });
});

describe('isValidTimezone', () => {
  it('knows IANA zones', () => {
    expect(isValidTimezone('Europe/Berlin')).toBe(true);
    expect(isValidTimezone('UTC')).toBe(true);
    expect(isValidTimezone('Mars/Olympus')).toBe(false);
    expect(isValidTimezone(' Europe/Berlin')).toBe(false);
    expect(isValidTimezone('')).toBe(false);
  });
});

describe('nextFireTimes', () => {
  it('reads the schedule in the target zone, across a DST change', () => {
    // Europe/Berlin moves from UTC+1 to UTC+2 at 2025-03-30 01:00 UTC.
    const from = Date.parse('2025-03-29T00:00:00Z');
    const times = nextFireTimes('0 9 * * *', 'Europe/Berlin', 3, from).map((d) => d.toISOString());
    expect(times).toEqual(['2025-03-29T08:00:00.000Z', '2025-03-30T07:00:00.000Z', '2025-03-31T07:00:00.000Z']);
    expect(formatInZone(new Date(times[1]!), 'Europe/Berlin')).toBe('2025-03-30 09:00:00 GMT+2');
  });

  it('is strictly after fromMs', () => {
    const from = Date.parse('2025-06-01T12:15:00Z');
    expect(nextFireTimes('*/15 * * * *', 'UTC', 1, from)[0]!.toISOString()).toBe('2025-06-01T12:30:00.000Z');
  });

  it('agrees with the matcher node-cron fires with', () => {
    // Every time computed here must match in node-cron, and node-cron must match no minute in between.
    const cases: [string, string][] = [
      ['*/15 * * * *', 'Europe/Berlin'],
      ['0 2 * * 1-5', 'America/New_York'],
      ['30 23 * * 0', 'Asia/Kolkata'],
      ['0 0 1 * *', 'Australia/Lord_Howe'],
    ];
    const from = Date.parse('2025-03-28T00:00:00Z');
    for (const [schedule, timezone] of cases) {
      const task = createTask(schedule, () => undefined, { timezone });
      try {
        const times = nextFireTimes(schedule, timezone, 3, from).map((d) => d.getTime());
        let previous = from;
        for (const t of times) {
          expect(task.match(new Date(t)), `${schedule} in ${timezone} at ${new Date(t).toISOString()}`).toBe(true);
          // Minutes strictly between the previous fire time and this one must not match (bounded walk).
          const start = Math.floor(previous / 60_000) * 60_000 + 60_000;
          const extra: string[] = [];
          for (let m = start, n = 0; m < t && n < 50_000; m += 60_000, n++) if (task.match(new Date(m))) extra.push(new Date(m).toISOString());
          expect(extra).toEqual([]);
          previous = t;
        }
      } finally {
        void task.destroy();
      }
    }
  });
});
