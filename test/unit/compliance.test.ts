/**
 * Password age and compliance, pure: the policy (configured or derived from the schedule), each
 * server's age, overdue flag and reason, and a target's figures.
 */
import { describe, expect, it } from 'vitest';
import { DAY_MS, formatDuration, largestInterval, passwordAgePolicy } from '../../src/compliance/password-age-policy.js';
import { assessServer, emptyTargetCompliance, foldServer } from '../../src/compliance/server-compliance.js';
import { OUTCOME_KINDS } from '../../src/domain/outcome.js';
import type { ServerState } from '../../src/ports/outcome-store.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0); // a Monday
const HOUR = 3_600_000;

function state(patch: Partial<ServerState>): ServerState {
  return {
    serverId: 's1',
    target: 'web',
    runId: 'run-1',
    status: 'verified',
    lastAttemptAt: NOW - DAY_MS,
    lastSuccessAt: NOW - DAY_MS,
    versionId: 'v1',
    errorCode: undefined,
    reason: undefined,
    requestId: undefined,
    consecutiveFailures: 0,
    failingSince: undefined,
    ...patch,
  };
}

describe('password age policy', () => {
  it('takes maxPasswordAgeDays from the job file when set', () => {
    const p = passwordAgePolicy({ schedule: '*/15 * * * *', timezone: 'UTC', maxPasswordAgeDays: 30 }, NOW);
    expect(p).toMatchObject({ maxAgeMs: 30 * DAY_MS, maxAgeDays: 30, source: 'configured' });
  });

  it('derives two intervals from the schedule otherwise', () => {
    expect(passwordAgePolicy({ schedule: '*/15 * * * *', timezone: 'UTC' }, NOW)).toMatchObject({ maxAgeMs: 30 * 60_000, source: 'derived' });
    expect(passwordAgePolicy({ schedule: '0 3 * * *', timezone: 'Europe/Berlin' }, NOW).maxAgeMs).toBe(2 * DAY_MS);
    expect(passwordAgePolicy({ schedule: '0 3 * * 1', timezone: 'UTC' }, NOW).maxAgeMs).toBe(14 * DAY_MS);
    // Irregular: Monday and Thursday; the largest gap (Thursday → Monday, 4 days) counts.
    expect(largestInterval('0 3 * * 1,4', 'UTC', NOW)).toBe(4 * DAY_MS);
    // Monthly: the longest month in the window (31 days).
    expect(largestInterval('0 0 1 * *', 'UTC', NOW)).toBe(31 * DAY_MS);
    expect(passwordAgePolicy({ schedule: '0 3 * * *', timezone: 'UTC' }, NOW).description).toContain('2 × the schedule');
  });

  it('formats durations for people', () => {
    expect([formatDuration(15 * 60_000), formatDuration(6 * HOUR), formatDuration(7 * DAY_MS), formatDuration(36 * HOUR)]).toEqual([
      '15m',
      '6h',
      '7d',
      '1d 12h',
    ]);
  });
});

describe('server compliance', () => {
  const policy = passwordAgePolicy({ schedule: '0 3 * * *', timezone: 'UTC', maxPasswordAgeDays: 7 }, NOW);

  it('a recent rotation is compliant, with no reason', () => {
    const c = assessServer(state({}), policy, NOW);
    expect(c).toMatchObject({ overdue: false, passwordAgeMs: DAY_MS, reason: undefined, lastOutcome: 'verified' });
  });

  it('accepted but not verified by login: not overdue while young, and says why it is unverified', () => {
    const c = assessServer(state({ status: 'rotated-unverified', reason: 'Windows: no SSH login' }), policy, NOW);
    expect(c).toMatchObject({ overdue: false, lastOutcome: 'rotated-unverified' });
    expect(c.reason).toEqual({ code: 'unverified', text: 'accepted, not verified by login (Windows: no SSH login)' });
  });

  it('an old rotation with no attempt since is overdue and stale', () => {
    const c = assessServer(state({ lastSuccessAt: NOW - 10 * DAY_MS, lastAttemptAt: NOW - 10 * DAY_MS }), policy, NOW);
    expect(c.overdue).toBe(true);
    expect(c.reason).toEqual({ code: 'stale', text: 'no rotation attempted since 2026-11-20T12:00:00Z' });
  });

  it('failing: names the first failure of the streak, the count and the last code', () => {
    const c = assessServer(
      state({
        status: 'failed',
        lastSuccessAt: NOW - 9 * DAY_MS,
        lastAttemptAt: NOW - DAY_MS,
        failingSince: NOW - 3 * DAY_MS,
        consecutiveFailures: 3,
        errorCode: 'Ecs.0605',
        reason: 'The server is locked',
      }),
      policy,
      NOW,
    );
    expect(c.overdue).toBe(true);
    expect(c.reason).toEqual({
      code: 'failing',
      text: 'failing since 2026-11-27T12:00:00Z (3 attempts in a row; last failed: Ecs.0605: The server is locked)',
    });
    // Failing but still young: not overdue, the reason still shows.
    const young = assessServer(state({ status: 'unknown', failingSince: NOW - HOUR, consecutiveFailures: 1 }), policy, NOW);
    expect(young.overdue).toBe(false);
    expect(young.reason?.text).toMatch(/^failing since .*\(1 attempt; last outcome unknown\)$/);
  });

  it('never rotated: no known age, overdue, with why', () => {
    const c = assessServer(
      state({ status: 'skipped', lastSuccessAt: undefined, errorCode: 'no-reset-plugin', reason: 'plug-in not installed' }),
      policy,
      NOW,
    );
    expect(c).toMatchObject({ overdue: true, passwordAgeMs: undefined });
    expect(c.reason).toEqual({ code: 'skipped', text: 'never rotated; skipped because plug-in not installed (no-reset-plugin)' });
  });

  it('awaiting restart: pending-restart and the awaiting-restart skip', () => {
    const pending = assessServer(state({ status: 'pending-restart' }), policy, NOW);
    expect(pending).toMatchObject({ overdue: false, reason: { code: 'awaiting-restart' } });
    expect(pending.reason?.text).toContain('takes effect at the next restart');
    const full = assessServer(
      state({ status: 'skipped', lastSuccessAt: NOW - 8 * DAY_MS, errorCode: 'awaiting-restart', reason: 'restart it: rotator rotate web --restart soft' }),
      policy,
      NOW,
    );
    expect(full).toMatchObject({ overdue: true, reason: { code: 'awaiting-restart', text: 'awaiting restart: restart it: rotator rotate web --restart soft' } });
  });

  it('busy names when', () => {
    const c = assessServer(state({ status: 'busy', lastAttemptAt: NOW - HOUR }), policy, NOW);
    expect(c.reason).toEqual({ code: 'busy', text: 'busy: another run held the server at 2026-11-30T11:00:00Z' });
  });

  it('a target folds its servers', () => {
    const acc = emptyTargetCompliance('web', policy, OUTCOME_KINDS);
    for (const s of [
      state({ serverId: 'a' }),
      state({ serverId: 'b', lastSuccessAt: NOW - 12 * DAY_MS }),
      state({ serverId: 'c', status: 'failed', lastSuccessAt: undefined, failingSince: NOW - DAY_MS, consecutiveFailures: 1 }),
    ]) {
      foldServer(acc, assessServer(s, policy, NOW));
    }
    expect(acc).toMatchObject({ servers: 3, overdue: 2, failing: 1, maxPasswordAgeMs: 12 * DAY_MS, lastSuccessAt: NOW - DAY_MS });
    expect(acc.byOutcome).toMatchObject({ 'verified': 2, failed: 1 });
    expect(acc.byReason).toMatchObject({ stale: 1, failing: 1 });
  });
});
