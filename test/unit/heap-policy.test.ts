import { pino } from 'pino';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { configWithLimits, PACKAGE_ROOT as ROOT } from '../helpers/config-with-limits.js';
import { growthPercentFor, MAX_GROWTH_PERCENT, MIN_FORCED_INTERVAL_MS, MIN_GROWTH_PERCENT, startHeapPolicy } from '../../src/heap-policy.js';

const MiB = 1024 * 1024;
const logger = pino({ level: 'silent' });

describe('growthPercentFor', () => {
  it('lets the heap grow to the target, between the floor and the ceiling', () => {
    expect(growthPercentFor(128 * MiB, 256 * MiB)).toBe(100);
    expect(growthPercentFor(160 * MiB, 256 * MiB)).toBe(60);
    // A live set near or above the target gets the floor: more memory, never a stop.
    expect(growthPercentFor(200 * MiB, 256 * MiB)).toBe(MIN_GROWTH_PERCENT);
    expect(growthPercentFor(2000 * MiB, 256 * MiB)).toBe(MIN_GROWTH_PERCENT);
    // A small live set gets the ceiling, not V8's four times.
    expect(growthPercentFor(20 * MiB, 256 * MiB)).toBe(MAX_GROWTH_PERCENT);
    expect(growthPercentFor(0, 256 * MiB)).toBe(MAX_GROWTH_PERCENT);
  });
});

describe('startHeapPolicy', () => {
  function harness(targetMb: number) {
    const flags: string[] = [];
    const state = { used: 0, now: 0, collections: 0 };
    const policy = startHeapPolicy({
      targetMb,
      logger,
      setFlags: (f) => flags.push(f),
      usedBytes: () => state.used,
      collect: () => {
        state.collections += 1;
        state.used = 100 * MiB; // what survives
      },
      now: () => state.now,
    });
    return { policy, flags, state };
  }

  it('sets V8 heap growth after each full collection, only when it changes', () => {
    const { policy, flags, state } = harness(256);
    try {
      state.used = 128 * MiB;
      policy.afterFullCollection();
      policy.afterFullCollection();
      state.used = 220 * MiB;
      policy.afterFullCollection();
      expect(flags).toEqual(['--heap-growing-percent=100', `--heap-growing-percent=${MIN_GROWTH_PERCENT}`]);
      expect(policy.growthPercent).toBe(MIN_GROWTH_PERCENT);
    } finally {
      policy.stop();
    }
  });

  it('forces a full collection when the heap passes the target and what the growth allows, at most once per interval', () => {
    const { policy, state } = harness(256);
    try {
      state.now = MIN_FORCED_INTERVAL_MS;
      state.used = 200 * MiB;
      policy.check(); // under the target
      expect(state.collections).toBe(0);
      state.used = 300 * MiB; // V8 has not collected yet (its limit at start is far higher)
      policy.check();
      expect(state.collections).toBe(1);
      expect(policy.forcedCollections).toBe(1);
      expect(policy.growthPercent).toBe(MAX_GROWTH_PERCENT); // 100 MiB survived: 256 / 100 − 1 is above the ceiling
      state.used = 300 * MiB;
      state.now += MIN_FORCED_INTERVAL_MS - 1;
      policy.check(); // too soon after the last full collection
      expect(state.collections).toBe(1);
      state.now += 1;
      policy.check();
      expect(state.collections).toBe(2);
    } finally {
      policy.stop();
    }
  });

  it('lets a live set above the target grow by the floor instead of collecting again and again', () => {
    const { policy, state } = harness(256);
    try {
      state.used = 400 * MiB;
      policy.afterFullCollection(); // 400 MiB live: growth at the floor, the heap may reach 400 × (1 + floor)
      const allowed = 400 * (1 + MIN_GROWTH_PERCENT / 100);
      state.now = 10 * MIN_FORCED_INTERVAL_MS;
      state.used = (allowed - 10) * MiB;
      policy.check();
      expect(state.collections).toBe(0);
      state.used = (allowed + 1) * MiB; // past what the floor allows and V8 has not collected: force one
      policy.check();
      expect(state.collections).toBe(1);
    } finally {
      policy.stop();
    }
  });

  it('drives the real V8: exposes gc() without the command-line flag and forces a full collection', () => {
    let now = 0;
    const policy = startHeapPolicy({ targetMb: 1, logger, now: () => now });
    try {
      now = MIN_FORCED_INTERVAL_MS;
      policy.check(); // this process uses more than 1 MiB
      expect(policy.forcedCollections).toBe(1);
      expect(policy.growthPercent).toBe(MIN_GROWTH_PERCENT);
    } finally {
      policy.stop();
      setFlagsFromString('--heap-growing-percent=0'); // V8's own again, for the other tests in this process
    }
  });

  it('hears of full collections V8 runs (through perf_hooks) and sets the growth after them', async () => {
    const policy = startHeapPolicy({ targetMb: 1, logger });
    try {
      setFlagsFromString('--expose-gc');
      (runInNewContext('gc') as () => void)();
      await vi.waitFor(() => expect(policy.growthPercent).toBe(MIN_GROWTH_PERCENT));
      expect(policy.forcedCollections).toBe(0);
    } finally {
      policy.stop();
      setFlagsFromString('--heap-growing-percent=0');
    }
  });

  it('does nothing with a target of 0', () => {
    const { policy, flags, state } = harness(0);
    state.now = 10 * MIN_FORCED_INTERVAL_MS;
    state.used = 4000 * MiB;
    policy.check();
    policy.stop();
    expect(flags).toEqual([]);
    expect(state.collections).toBe(0);
  });
});

describe('limits.heapTargetMb in the config', () => {
  const limits = configWithLimits();
  afterEach(() => limits.cleanup());
  const withLimits = (lines: string) => limits.load(lines);

  it('defaults to 128 MiB and takes 0 (off)', async () => {
    const shipped = await loadConfig({ env: {}, cwd: ROOT });
    expect(shipped.ok && shipped.config.service.limits.heapTargetMb).toBe(128);
    const off = await withLimits('  heapTargetMb: 0');
    expect(off.ok && off.config.service.limits.heapTargetMb).toBe(0);
  });

  it.each([['-1'], ['1.5'], ['"lots"'], ['2000000']])('refuses %s, naming the field and what it expects', async (value) => {
    const result = await withLimits(`  heapTargetMb: ${value}`);
    expect(result.ok).toBe(false);
    const issue = !result.ok ? result.issues.find((i) => i.path === 'limits.heapTargetMb') : undefined;
    expect(issue?.expected).toBe("a whole number of MiB from 0 (off: V8's own defaults) to 1048576");
    expect(issue?.message).toContain('limits.heapTargetMb');
  });
});
