/**
 * `limits.workerConcurrency: auto` (the default): batches in flight sized by servers, not a fixed
 * count of batches, so that small batches do not leave the rate limits idle and large ones do not
 * hold a fleet's worth of work in memory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { effectiveWorkerConcurrency, MAX_AUTO, MIN_AUTO } from '../../src/config/worker-concurrency.js';
import { configWithLimits, PACKAGE_ROOT as ROOT } from '../helpers/config-with-limits.js';

const target = (batchSize: number, enabled = true) => ({ batchSize, enabled });

describe('effectiveWorkerConcurrency', () => {
  it('keeps about 4,000 servers in flight, by the largest batch of an enabled target, from 4 to 32 batches', () => {
    expect(effectiveWorkerConcurrency('auto', [target(100)])).toBe(32);
    expect(effectiveWorkerConcurrency('auto', [target(250)])).toBe(16);
    expect(effectiveWorkerConcurrency('auto', [target(500)])).toBe(8);
    expect(effectiveWorkerConcurrency('auto', [target(1000)])).toBe(4);
    expect(MIN_AUTO).toBe(4);
    expect(effectiveWorkerConcurrency('auto', [target(10)])).toBe(MAX_AUTO);
    expect(effectiveWorkerConcurrency('auto', [target(100), target(1000)])).toBe(4);
    // A disabled target's batches never run here.
    expect(effectiveWorkerConcurrency('auto', [target(100), target(1000, false)])).toBe(32);
    expect(effectiveWorkerConcurrency('auto', [])).toBe(MAX_AUTO);
  });

  it('takes a number as it is', () => {
    expect(effectiveWorkerConcurrency(3, [target(100)])).toBe(3);
    expect(effectiveWorkerConcurrency(200, [target(1000)])).toBe(200);
  });
});

describe('limits.workerConcurrency in the config', () => {
  const limits = configWithLimits();
  afterEach(() => limits.cleanup());
  const withLimits = (lines: string) => limits.load(lines);

  it('defaults to auto and takes a number', async () => {
    const shipped = await loadConfig({ env: {}, cwd: ROOT });
    expect(shipped.ok && shipped.config.service.limits.workerConcurrency).toBe('auto');
    const four = await withLimits('  workerConcurrency: 4');
    expect(four.ok && four.config.service.limits.workerConcurrency).toBe(4);
  });

  it.each([['0'], ['257'], ['2.5'], ['"many"'], ['"AUTO"']])('refuses %s, naming the field and what it expects', async (value) => {
    const result = await withLimits(`  workerConcurrency: ${value}`);
    expect(result.ok).toBe(false);
    const issue = !result.ok ? result.issues.find((i) => i.path === 'limits.workerConcurrency') : undefined;
    expect(issue?.expected).toBe('auto, or an integer from 1 to 256');
    expect(issue?.message).toContain('limits.workerConcurrency');
  });
});
