import { createTask } from 'node-cron';

/** Options of {@link previousFireTime}. */
export interface PreviousFireTimeOptions {
  /** How far back to look, in minutes. @defaultValue 44640 (31 days: a monthly schedule still catches up) */
  lookbackMinutes?: number;
}

/**
 * The most recent minute at or before `nowMs` at which `expression` fires in `timezone` (the start
 * of that minute, in milliseconds), or undefined if it does not fire within the lookback.
 *
 * Minute granularity, like run slots: a 6-field expression counts when it fires at second 0 of a
 * minute. node-cron has no "previous match", so this walks back minute by minute with node-cron's
 * own matcher (same timezone and DST rules as the live ticks), and stops at the first match, which
 * is immediate for frequent schedules and at most `lookbackMinutes` checks for rare ones.
 */
export function previousFireTime(
  expression: string,
  timezone: string,
  nowMs: number,
  options: PreviousFireTimeOptions = {},
): number | undefined {
  const lookback = options.lookbackMinutes ?? 44_640;
  // A task that is never started: only its matcher is used. destroy() drops it from node-cron's registry.
  const task = createTask(expression, () => undefined, { timezone });
  try {
    const minute = 60_000;
    let t = Math.floor(nowMs / minute) * minute;
    for (let i = 0; i <= lookback; i++, t -= minute) {
      if (task.match(new Date(t))) return t;
    }
    return undefined;
  } finally {
    void task.destroy();
  }
}
