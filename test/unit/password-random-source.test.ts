import { describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import type { RandomSource } from '../../src/ports/random-source.js';
import { chiSquareCriticalValue, chiSquareSurvival, chiSquareTest } from '../helpers/chi-square.js';
import { seededRandom } from '../helpers/seeded-random.js';

describe('chi-square helper', () => {
  it.each([
    // Critical values from standard tables (NIST/SEMATECH e-Handbook, upper tail).
    [1, 0.001, 10.828],
    [10, 0.001, 29.588],
    [74, 0.05, 95.081],
    [100, 0.001, 149.449],
    [100, 0.05, 124.342],
  ])('df %i, alpha %f: critical value %f', (df, alpha, critical) => {
    expect(chiSquareCriticalValue(alpha, df)).toBeCloseTo(critical, 2);
    expect(chiSquareSurvival(critical, df)).toBeCloseTo(alpha, 5);
  });
});

const SOURCES: ReadonlyArray<[string, RandomSource]> = [
  ['cryptoRandom', cryptoRandom],
  ['seededRandom', seededRandom(42)],
];

describe.each(SOURCES)('%s', (_name, random) => {
  it('stays within [0, max) and gives whole numbers, including the bounds 1 and 2^32', () => {
    for (let n = 0; n < 1000; n += 1) {
      for (const max of [1, 2, 75, 2 ** 31 + 1, 2 ** 32]) {
        const value = random.int(max);
        expect(Number.isInteger(value) && value >= 0 && value < max).toBe(true);
      }
    }
  });

  it.each([0, -1, 1.5, 2 ** 32 + 1, Number.NaN])('refuses the bound %f', (max) => {
    expect(() => random.int(max)).toThrow(RangeError);
  });

  it('is uniform over 75 values (chi-square, p < 0.001 fails)', () => {
    const counts = new Array<number>(75).fill(0);
    const n = 150_000;
    for (let i = 0; i < n; i += 1) {
      const value = random.int(75);
      counts[value] = (counts[value] ?? 0) + 1;
    }
    expect(chiSquareTest(counts, new Array<number>(75).fill(n / 75)).pValue).toBeGreaterThanOrEqual(0.001);
  });

  it('has no modulo bias for a bound that does not divide 2^32', () => {
    // With max = 3 * 2^30, "u mod max" on a 32-bit u would give [0, 2^30) twice the weight: 1/2
    // instead of 1/3 of the draws. Rejection sampling keeps it at 1/3.
    const max = 3 * 2 ** 30;
    const n = 30_000;
    let low = 0;
    for (let i = 0; i < n; i += 1) if (random.int(max) < 2 ** 30) low += 1;
    expect(chiSquareTest([low, n - low], [n / 3, (2 * n) / 3]).pValue).toBeGreaterThanOrEqual(0.001);
  });
});

describe('seededRandom', () => {
  it('replays the same sequence for the same seed and another for another seed', () => {
    const draw = (seed: number): number[] => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => random.int(1000));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });
});
