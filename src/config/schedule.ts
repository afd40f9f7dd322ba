/**
 * Cron schedules and time zones of targets.
 *
 * The scheduler fires with node-cron; fire times are computed (for `config check`, catch-up and
 * tests) with cron-parser, which node-cron does not expose. A schedule is valid only when BOTH accept
 * it, so what `config check` shows is what the scheduler will do. (They differ at the edges: node-cron
 * accepts `1W`, cron-parser rejects it; cron-parser accepts 4 fields, node-cron rejects them.)
 *
 * Pure: the reference time is always an argument.
 */
import { CronExpressionParser } from 'cron-parser';
import { validateDetailed } from 'node-cron';

/** Why `schedule` is not usable, in one sentence; undefined when it is. */
export function cronProblem(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (!schedule.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    return `it has ${fields.length} field${fields.length === 1 ? '' : 's'}`;
  }
  const detailed = validateDetailed(schedule);
  if (!detailed.valid) {
    const first = detailed.errors[0];
    return first === undefined ? 'node-cron rejects it' : first.message;
  }
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' });
  } catch (error) {
    return `it uses syntax not supported here (${error instanceof Error ? error.message : String(error)})`;
  }
  return undefined;
}

/**
 * How many times a minute a valid schedule fires: 1 for 5 fields, the number of values of the
 * seconds field for 6 (`0,30 * * * * *` → 2; every tenth second → 6).
 */
export function firesPerMinute(schedule: string): number {
  if (schedule.trim().split(/\s+/).length !== 6) return 1;
  return CronExpressionParser.parse(schedule, { tz: 'UTC' }).fields.second.values.length;
}

/** True when `timezone` is an IANA zone name this runtime (and the cron engines) know. */
export function isValidTimezone(timezone: string): boolean {
  if (timezone.trim() === '' || timezone !== timezone.trim()) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    return false;
  }
  // cron-parser resolves zones through luxon; make sure it agrees with Intl.
  try {
    CronExpressionParser.parse('0 0 * * *', { tz: timezone, currentDate: new Date(0) }).next();
    return true;
  } catch {
    return false;
  }
}

/**
 * The next `count` fire times of `schedule` in `timezone`, strictly after `fromMs` (epoch ms).
 * Throws on an invalid schedule or zone (validate with `cronProblem`/`isValidTimezone` first).
 */
export function nextFireTimes(schedule: string, timezone: string, count: number, fromMs: number): Date[] {
  const expression = CronExpressionParser.parse(schedule, { tz: timezone, currentDate: new Date(fromMs) });
  const out: Date[] = [];
  for (let i = 0; i < count && expression.hasNext(); i++) out.push(expression.next().toDate());
  return out;
}

/** `2025-06-01 14:15:00 GMT+2` as the wall clock in `timezone` shows it. */
export function formatInZone(at: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'shortOffset',
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')} ${get('timeZoneName')}`;
}
