import { describe, expect, it } from 'vitest';
import type { RandomSource } from '../../src/ports/random-source.js';
import { generatePassword } from '../../src/policy/password-generator.js';
import { DEFAULT_PASSWORD_POLICY, HUAWEI_SPECIALS, passwordAlphabet } from '../../src/policy/password-policy.js';
import type { CharClass, PasswordPolicy } from '../../src/policy/password-policy.js';
import { chiSquareCriticalValue, chiSquareTest } from '../helpers/chi-square.js';
import { seededRandom } from '../helpers/seeded-random.js';

/*
 * Is every allowed character equally likely at every position, among accepted passwords?
 *
 * Not exactly, and on purpose: the generator is uniform over VALID PASSWORDS, and that is not the
 * same as uniform per character. Conditioning on validity shifts the per-position frequencies:
 * - candidates containing a forbidden run (adm, tor, rat, ..., root, toor) are rejected, so the
 *   letters of those runs (a, d, m, i, n, s, t, r, o, in both cases) are slightly rarer, more so in
 *   the middle of the password than at its ends (a run cannot start in the last two positions);
 * - a candidate missing a required class is rejected, so the smaller classes (digits, specials) are
 *   slightly MORE frequent than 1/|alphabet| (e.g. length 8, digits required: P(no digit) = 0.32);
 * - '/' never comes first.
 * So instead of comparing against 1/|alphabet| (which would fail for a correct generator, see the
 * last test) we compute the EXACT expected frequency of each character at each position under "uniform
 * over valid passwords", with a dynamic program over an Aho-Corasick automaton of the forbidden
 * strings and the set of classes seen so far, written from Huawei's rules independently of
 * src/policy/password-rules.ts. Pearson's chi-square then compares observed counts against those.
 *
 * Significance: each per-position test fails with probability 0.001 for a correct generator:
 * alpha = 0.001 split over the positions (Bonferroni, which holds although positions are dependent).
 * Each position's p-value comes from the chi-square distribution with (characters with non-zero
 * expectation - 1) degrees of freedom (helpers/chi-square.ts), not from a table. The samples come
 * from a seeded source, so a result replays exactly.
 *
 * A second test compares the number of characters of one class per password with its exact
 * distribution (alpha 0.001): "force one character of each class" or "repair a candidate in place"
 * schemes barely move per-position frequencies for long passwords but clearly change that count.
 * Checked by hand once: a repair-in-place generator failed it with p < 1e-80 on the default policy,
 * while the per-position test alone did not catch it there.
 */

const SAMPLES = 100_000;
const ALPHA = 0.001;

/** Forbidden, case-insensitive, from shared/docs/huawei-ecs-api.md ("Password rules for this API"). */
const FORBIDDEN = [
  'root',
  'toor',
  'administrator',
  'rotartsinimda',
  ...['adm', 'dmi', 'min', 'ini', 'nis', 'ist', 'str', 'tra', 'rat', 'ato', 'tor'],
];

const CLASS_BIT: Record<CharClass, number> = { upper: 1, lower: 2, digit: 4, special: 8 };

function classBit(char: string): number {
  if (/[A-Z]/.test(char)) return CLASS_BIT.upper;
  if (/[a-z]/.test(char)) return CLASS_BIT.lower;
  if (/[0-9]/.test(char)) return CLASS_BIT.digit;
  return CLASS_BIT.special;
}

function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m > 0; m >>= 1) n += m & 1;
  return n;
}

/** Aho-Corasick automaton over the alphabet's characters (case-folded): next[state * |A| + k], dead[state]. */
function buildAutomaton(alphabet: string): { next: Int32Array; dead: boolean[]; states: number } {
  const children: Array<Map<string, number>> = [new Map()];
  const terminal: boolean[] = [false];
  for (const pattern of FORBIDDEN) {
    let state = 0;
    for (const char of pattern) {
      let child = children[state]?.get(char);
      if (child === undefined) {
        child = children.length;
        children.push(new Map());
        terminal.push(false);
        children[state]?.set(char, child);
      }
      state = child;
    }
    terminal[state] = true;
  }
  const states = children.length;
  const size = alphabet.length;
  const next = new Int32Array(states * size);
  const fail = new Int32Array(states);
  const dead = terminal.slice();
  const order: number[] = [0];
  for (let head = 0; head < order.length; head += 1) {
    const state = order[head] ?? 0;
    if (state !== 0) dead[state] = (dead[state] ?? false) || (dead[fail[state] ?? 0] ?? false);
    for (let k = 0; k < size; k += 1) {
      const folded = (alphabet[k] ?? '').toLowerCase();
      const child = children[state]?.get(folded);
      const viaFail = state === 0 ? 0 : (next[(fail[state] ?? 0) * size + k] ?? 0);
      if (child !== undefined) {
        fail[child] = viaFail;
        next[state * size + k] = child;
        order.push(child);
      } else {
        next[state * size + k] = viaFail;
      }
    }
  }
  return { next, dead, states };
}

/**
 * expected[i][k]: probability that position i holds alphabet[k], given that the candidate (each
 * position uniform over the alphabet) is accepted. Also returns P(accepted).
 */
function acceptedDistribution(policy: PasswordPolicy): { expected: number[][]; acceptance: number } {
  const alphabet = passwordAlphabet(policy);
  const size = alphabet.length;
  const q = 1 / size;
  const { next, dead, states } = buildAutomaton(alphabet);
  const bits = [...alphabet].map(classBit);
  const required = policy.requiredClasses.reduce((mask, c) => mask | CLASS_BIT[c], 0);
  const L = policy.length;
  const cells = states * 16;
  const allowed = (i: number, k: number): boolean => !(i === 0 && alphabet[k] === '/');

  // forward[i][s*16+m]: probability of a length-i prefix that ends in automaton state s with class set m.
  const forward: Float64Array[] = [new Float64Array(cells)];
  (forward[0] as Float64Array)[0] = 1;
  for (let i = 0; i < L; i += 1) {
    const from = forward[i] as Float64Array;
    const to = new Float64Array(cells);
    for (let cell = 0; cell < cells; cell += 1) {
      const p = from[cell] ?? 0;
      if (p === 0) continue;
      const s = cell >> 4;
      const m = cell & 15;
      for (let k = 0; k < size; k += 1) {
        if (!allowed(i, k)) continue;
        const s2 = next[s * size + k] ?? 0;
        if (dead[s2]) continue;
        const c2 = s2 * 16 + (m | (bits[k] ?? 0));
        to[c2] = (to[c2] ?? 0) + p * q;
      }
    }
    forward.push(to);
  }
  // backward[i][s*16+m]: probability that positions i..L-1 complete an accepted password.
  const backward: Float64Array[] = new Array<Float64Array>(L + 1);
  const last = new Float64Array(cells);
  for (let cell = 0; cell < cells; cell += 1) {
    const m = cell & 15;
    last[cell] = (m & required) === required && popcount(m) >= 3 ? 1 : 0;
  }
  backward[L] = last;
  for (let i = L - 1; i >= 0; i -= 1) {
    const after = backward[i + 1] as Float64Array;
    const here = new Float64Array(cells);
    for (let cell = 0; cell < cells; cell += 1) {
      const s = cell >> 4;
      const m = cell & 15;
      let sum = 0;
      for (let k = 0; k < size; k += 1) {
        if (!allowed(i, k)) continue;
        const s2 = next[s * size + k] ?? 0;
        if (dead[s2]) continue;
        sum += q * (after[s2 * 16 + (m | (bits[k] ?? 0))] ?? 0);
      }
      here[cell] = sum;
    }
    backward[i] = here;
  }
  const acceptance = backward[0]?.[0] ?? 0;
  const expected: number[][] = [];
  for (let i = 0; i < L; i += 1) {
    const from = forward[i] as Float64Array;
    const after = backward[i + 1] as Float64Array;
    const row = new Array<number>(size).fill(0);
    for (let cell = 0; cell < cells; cell += 1) {
      const p = from[cell] ?? 0;
      if (p === 0) continue;
      const s = cell >> 4;
      const m = cell & 15;
      for (let k = 0; k < size; k += 1) {
        if (!allowed(i, k)) continue;
        const s2 = next[s * size + k] ?? 0;
        if (dead[s2]) continue;
        row[k] = (row[k] ?? 0) + (p * q * (after[s2 * 16 + (m | (bits[k] ?? 0))] ?? 0)) / acceptance;
      }
    }
    expected.push(row);
  }
  return { expected, acceptance };
}

/**
 * P(a valid password holds exactly n characters of `charClass`), n = 0..L, under "uniform over valid
 * passwords": the same automaton, with the count as one more state dimension.
 */
function classCountDistribution(policy: PasswordPolicy, charClass: CharClass): number[] {
  const alphabet = passwordAlphabet(policy);
  const size = alphabet.length;
  const q = 1 / size;
  const { next, dead, states } = buildAutomaton(alphabet);
  const bits = [...alphabet].map(classBit);
  const required = policy.requiredClasses.reduce((mask, c) => mask | CLASS_BIT[c], 0);
  const L = policy.length;
  const counts = L + 1;
  const cell = (s: number, m: number, n: number): number => (s * 16 + m) * counts + n;
  let from = new Float64Array(states * 16 * counts);
  from[cell(0, 0, 0)] = 1;
  for (let i = 0; i < L; i += 1) {
    const to = new Float64Array(from.length);
    for (let c = 0; c < from.length; c += 1) {
      const p = from[c] ?? 0;
      if (p === 0) continue;
      const n = c % counts;
      const s = Math.floor(c / counts) >> 4;
      const m = Math.floor(c / counts) & 15;
      for (let k = 0; k < size; k += 1) {
        if (i === 0 && alphabet[k] === '/') continue;
        const s2 = next[s * size + k] ?? 0;
        if (dead[s2]) continue;
        const bit = bits[k] ?? 0;
        const target = cell(s2, m | bit, n + (bit === CLASS_BIT[charClass] ? 1 : 0));
        to[target] = (to[target] ?? 0) + p * q;
      }
    }
    from = to;
  }
  const byCount = new Array<number>(counts).fill(0);
  for (let c = 0; c < from.length; c += 1) {
    const m = Math.floor(c / counts) & 15;
    if ((m & required) !== required || popcount(m) < 3) continue;
    byCount[c % counts] = (byCount[c % counts] ?? 0) + (from[c] ?? 0);
  }
  const total = byCount.reduce((a, b) => a + b, 0);
  return byCount.map((p) => p / total);
}

/** Counts per position and character of SAMPLES passwords, and how many candidates were drawn. */
function sample(policy: PasswordPolicy, seed: number): { counts: number[][]; candidates: number } {
  const alphabet = passwordAlphabet(policy);
  const index = new Map([...alphabet].map((c, k) => [c, k] as const));
  const counts = Array.from({ length: policy.length }, () => new Array<number>(alphabet.length).fill(0));
  const source = seededRandom(seed);
  let draws = 0;
  const counting: RandomSource = {
    int(max) {
      draws += 1;
      return source.int(max);
    },
  };
  for (let n = 0; n < SAMPLES; n += 1) {
    const password = generatePassword(policy, counting);
    for (let i = 0; i < password.length; i += 1) {
      const row = counts[i] as number[];
      const k = index.get(password[i] ?? '') ?? -1;
      row[k] = (row[k] ?? 0) + 1;
    }
  }
  // The generator draws all positions of every candidate, accepted or not.
  return { counts, candidates: draws / policy.length };
}

const POLICIES: ReadonlyArray<[string, PasswordPolicy, number]> = [
  ['default policy', { ...DEFAULT_PASSWORD_POLICY, requiredClasses: ['upper', 'lower', 'digit', 'special'] }, 101],
  ['length 8, upper/lower/digit required, all specials allowed', { length: 8, requiredClasses: ['upper', 'lower', 'digit'], specials: HUAWEI_SPECIALS }, 202],
  ['length 10, all four required, specials -]/[', { length: 10, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: '-]/[' }, 303],
];

describe('the exact accepted distribution (the yardstick of the chi-square test)', () => {
  it('is a distribution at every position, never puts a slash first, and makes r, o, t rarer than z', () => {
    const policy = POLICIES[0]?.[1] as PasswordPolicy;
    const alphabet = passwordAlphabet(policy);
    const { expected, acceptance } = acceptedDistribution(policy);
    expect(acceptance).toBeGreaterThan(0.85);
    expect(acceptance).toBeLessThan(0.95);
    for (const row of expected) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(expected[0]?.[alphabet.indexOf('/')]).toBe(0);
    const middle = expected[10] as number[];
    for (const letter of 'rotRmd') expect(middle[alphabet.indexOf(letter)]).toBeLessThan(middle[alphabet.indexOf('z')] ?? 0);
  });

  it('accepts about 1 candidate in 15 for the worst usable policy: length 8, all four classes, only the slash', () => {
    // The worst usable policy the generator's comment cites: the one special can't come first.
    const { acceptance } = acceptedDistribution({ length: 8, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: '/' });
    expect(acceptance).toBeGreaterThan(0.06);
    expect(acceptance).toBeLessThan(0.08);
  });
});

describe('generatePassword: every allowed character equally likely per position among valid passwords', () => {
  it.each(POLICIES)('%s: chi-square per position against the exact accepted distribution', (_name, policy, seed) => {
    const { expected, acceptance } = acceptedDistribution(policy);
    const { counts, candidates } = sample(policy, seed);
    const alphaPerPosition = ALPHA / policy.length;

    for (let i = 0; i < policy.length; i += 1) {
      const observed = counts[i] as number[];
      const expectedCounts = (expected[i] as number[]).map((p) => p * SAMPLES);
      // Characters that cannot occur there ('/' first) must not occur at all.
      expectedCounts.forEach((e, k) => {
        if (e === 0) expect(observed[k], `character ${k} at position ${i}`).toBe(0);
      });
      const result = chiSquareTest(observed, expectedCounts);
      const critical = chiSquareCriticalValue(alphaPerPosition, result.degreesOfFreedom);
      expect(
        result.pValue,
        `position ${i}: chi-square ${result.statistic.toFixed(1)} with ${result.degreesOfFreedom} df exceeds ${critical.toFixed(1)}`,
      ).toBeGreaterThanOrEqual(alphaPerPosition);
    }

    // The acceptance rate matches too (so the generator rejects exactly the invalid candidates):
    // SAMPLES accepted out of `candidates` is binomial; |z| > 4.4 has probability about 1e-5.
    const z = (SAMPLES - candidates * acceptance) / Math.sqrt(candidates * acceptance * (1 - acceptance));
    expect(Math.abs(z)).toBeLessThan(4.4);
  });

  it('would wrongly fail a correct generator if compared with 1/|alphabet| (why the exact yardstick is needed)', () => {
    const policy = POLICIES[1]?.[1] as PasswordPolicy;
    const { counts } = sample(policy, 404);
    const size = passwordAlphabet(policy).length;
    const naive = chiSquareTest(counts[4] as number[], new Array<number>(size).fill(SAMPLES / size));
    expect(naive.pValue).toBeLessThan(ALPHA / policy.length);
  });

  it.each<[string, PasswordPolicy, CharClass, number]>([
    ['default policy, specials', POLICIES[0]?.[1] as PasswordPolicy, 'special', 505],
    ['length 8 with upper/lower/digit, digits', POLICIES[1]?.[1] as PasswordPolicy, 'digit', 606],
  ])('%s: how many characters of a class a password holds follows the exact distribution', (_name, policy, charClass, seed) => {
    // Per-position frequencies can hide a scheme that forces or repairs classes (it mostly changes
    // how MANY characters of a rare class a password holds, e.g. too many with exactly one). So
    // compare the histogram of that count with its exact distribution. Tail bins with an expected
    // count below 5 are merged (the usual validity condition of Pearson's test).
    const probabilities = classCountDistribution(policy, charClass);
    const random = seededRandom(seed);
    const observed = new Array<number>(policy.length + 1).fill(0);
    for (let n = 0; n < SAMPLES; n += 1) {
      let count = 0;
      for (const char of generatePassword(policy, random)) if ((classBit(char) & CLASS_BIT[charClass]) !== 0) count += 1;
      observed[count] = (observed[count] ?? 0) + 1;
    }
    const bins: Array<{ observed: number; expected: number }> = [];
    let pending = { observed: 0, expected: 0 };
    probabilities.forEach((p, n) => {
      pending = { observed: pending.observed + (observed[n] ?? 0), expected: pending.expected + p * SAMPLES };
      if (pending.expected >= 5) {
        bins.push(pending);
        pending = { observed: 0, expected: 0 };
      }
    });
    const lastBin = bins[bins.length - 1];
    if (lastBin !== undefined) {
      lastBin.observed += pending.observed;
      lastBin.expected += pending.expected;
    }
    const result = chiSquareTest(
      bins.map((b) => b.observed),
      bins.map((b) => b.expected),
    );
    expect(result.degreesOfFreedom).toBeGreaterThanOrEqual(4);
    expect(result.pValue, `chi-square ${result.statistic.toFixed(1)} with ${result.degreesOfFreedom} df`).toBeGreaterThanOrEqual(ALPHA);
  });
});
