/**
 * The compliance policy of a target: how old a server's password may get before it is overdue.
 *
 * `maxPasswordAgeDays` in the job file sets it; without it, it is two schedule intervals (the largest
 * gap between consecutive fire times), so that one missed or failed run is tolerated and a second one
 * is not. Pure: the reference time is an argument (the gaps of some schedules, e.g. monthly, depend on it).
 */
import { nextFireTimes } from '../config/schedule.js';

export const DAY_MS = 86_400_000;

/** How many intervals a server may go without a rotation when the job file sets no maximum. */
export const DEFAULT_INTERVALS = 2;

/** Fire times examined to find the largest interval (covers a week of a daily schedule, two years of a monthly one). */
const FIRES_EXAMINED = 25;

export interface PasswordAgePolicy {
  /** The maximum age, in milliseconds. */
  maxAgeMs: number;
  /** The same in days (fractions for sub-day schedules). */
  maxAgeDays: number;
  /** `configured` (maxPasswordAgeDays in the job file) or `derived` (from the schedule). */
  source: 'configured' | 'derived';
  /** One sentence for reports: where the figure comes from. */
  description: string;
}

export interface AgePolicyTarget {
  schedule: string;
  timezone: string;
  maxPasswordAgeDays?: number | undefined;
}

export function passwordAgePolicy(target: AgePolicyTarget, nowMs: number): PasswordAgePolicy {
  if (target.maxPasswordAgeDays !== undefined) {
    return {
      maxAgeMs: target.maxPasswordAgeDays * DAY_MS,
      maxAgeDays: target.maxPasswordAgeDays,
      source: 'configured',
      description: `maxPasswordAgeDays: ${target.maxPasswordAgeDays} (job file)`,
    };
  }
  const interval = largestInterval(target.schedule, target.timezone, nowMs);
  const maxAgeMs = DEFAULT_INTERVALS * interval;
  return {
    maxAgeMs,
    maxAgeDays: maxAgeMs / DAY_MS,
    source: 'derived',
    description: `${DEFAULT_INTERVALS} × the schedule's interval (${formatDuration(interval)}, "${target.schedule}" ${target.timezone}); set maxPasswordAgeDays to choose`,
  };
}

/** The largest gap between consecutive fire times of `schedule` from `nowMs` on, in milliseconds. */
export function largestInterval(schedule: string, timezone: string, nowMs: number): number {
  const fires = nextFireTimes(schedule, timezone, FIRES_EXAMINED, nowMs).map((d) => d.getTime());
  let largest = 0;
  for (let i = 1; i < fires.length; i++) largest = Math.max(largest, fires[i]! - fires[i - 1]!);
  // A schedule that fires once or never in the window (e.g. a yearly one near its end) gives no
  // gap; a year is then the honest interval.
  return largest > 0 ? largest : 365 * DAY_MS;
}

/** `15m`, `6h`, `7d`, `1d 12h`: durations for people. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`;
}
