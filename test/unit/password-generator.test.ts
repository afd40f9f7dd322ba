import { describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { isRotatorError } from '../../src/domain/rotator-error.js';
import type { RandomSource } from '../../src/ports/random-source.js';
import {
  PASSWORD_GENERATION_EXHAUSTED,
  PASSWORD_POLICY_UNSATISFIABLE,
  RANDOM_SOURCE_OUT_OF_RANGE,
  generatePassword,
} from '../../src/policy/password-generator.js';
import { DEFAULT_PASSWORD_POLICY, HUAWEI_SPECIALS, passwordAlphabet } from '../../src/policy/password-policy.js';
import type { CharClass, PasswordPolicy } from '../../src/policy/password-policy.js';
import { charClassOf, validatePassword } from '../../src/policy/password-rules.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SAMPLES_PER_POLICY = 100_000;

/** The policies the property test covers: the default and the corners a config may choose. */
const PROPERTY_POLICIES: ReadonlyArray<[string, PasswordPolicy]> = [
  ['default (20, all classes, all specials)', { ...DEFAULT_PASSWORD_POLICY, requiredClasses: ['upper', 'lower', 'digit', 'special'] }],
  ['minimum length 8, three classes', { length: 8, requiredClasses: ['upper', 'lower', 'digit'], specials: HUAWEI_SPECIALS }],
  ['maximum length 26', { length: 26, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: HUAWEI_SPECIALS }],
  // The characters that break generate-password's regex (`-` range, `]`) and the leading-slash rule.
  ['restricted specials -]/[', { length: 12, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: '-]/[' }],
  ['no specials: upper, lower, digit', { length: 16, requiredClasses: ['upper', 'lower', 'digit'], specials: '' }],
  ['length 8, all four classes, only the slash', { length: 8, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: '/' }],
];

function expectRotatorError(fn: () => unknown, code: string): Error {
  try {
    fn();
  } catch (error) {
    expect(isRotatorError(error) && error.code).toBe(code);
    expect(isRotatorError(error) && error.retryable).toBe(false);
    return error as Error;
  }
  throw new Error(`expected a RotatorError ${code}, nothing was thrown`);
}

describe('generatePassword: property, every password valid', () => {
  it.each(PROPERTY_POLICIES)(`${SAMPLES_PER_POLICY} passwords under %s are valid and cover the alphabet`, (_name, policy) => {
    const random = seededRandom(policy.length * 7919 + policy.specials.length);
    const alphabet = new Set(passwordAlphabet(policy));
    const seen = new Set<string>();
    const distinct = new Set<string>();
    for (let n = 0; n < SAMPLES_PER_POLICY; n += 1) {
      const password = generatePassword(policy, random);
      // One combined check per password keeps 600,000 iterations fast; details only on failure.
      const classes = new Set<CharClass | undefined>();
      let inAlphabet = true;
      for (const char of password) {
        classes.add(charClassOf(char));
        if (!alphabet.has(char)) inAlphabet = false;
        seen.add(char);
      }
      const ok =
        password.length === policy.length &&
        inAlphabet &&
        policy.requiredClasses.every((c) => classes.has(c)) &&
        validatePassword(password).length === 0 &&
        validatePassword(password, { osType: 'Windows', username: 'Administrator' }).length === 0;
      if (!ok) {
        // Print rules, never the password (a habit worth keeping even in tests).
        expect.fail(
          `password ${n} breaks: length ${password.length}, in alphabet ${inAlphabet}, classes ${[...classes].join('/')}, ` +
            validatePassword(password).map((v) => v.rule).join(','),
        );
      }
      if (n < 10_000) distinct.add(password);
    }
    // Every allowed character shows up somewhere: a narrowed alphabet fails here.
    expect([...seen].sort()).toEqual([...alphabet].sort());
    // No repeats among the first 10,000 (a stuck or low-entropy source fails here).
    expect(distinct.size).toBe(10_000);
  });

  it('with the cryptographic source: 10,000 default-policy passwords, all valid and distinct', () => {
    const passwords = new Set<string>();
    for (let n = 0; n < 10_000; n += 1) {
      const password = generatePassword(DEFAULT_PASSWORD_POLICY, cryptoRandom);
      expect(validatePassword(password)).toEqual([]);
      expect(password).toHaveLength(20);
      passwords.add(password);
    }
    expect(passwords.size).toBe(10_000);
  });

  it('is deterministic for a given random sequence (so failures replay)', () => {
    expect(generatePassword(DEFAULT_PASSWORD_POLICY, seededRandom(1))).toBe(generatePassword(DEFAULT_PASSWORD_POLICY, seededRandom(1)));
    expect(generatePassword(DEFAULT_PASSWORD_POLICY, seededRandom(1))).not.toBe(generatePassword(DEFAULT_PASSWORD_POLICY, seededRandom(2)));
  });
});

describe('generatePassword: failures', () => {
  it('refuses an unsatisfiable policy with the reasons', () => {
    const error = expectRotatorError(
      () => generatePassword({ length: 30, requiredClasses: ['upper', 'lower'], specials: '$' }, cryptoRandom),
      PASSWORD_POLICY_UNSATISFIABLE,
    );
    expect(error.message).toMatch(/length must be between 8 and 26/);
    expect(error.message).toMatch(/at least 3 distinct classes/);
    expect(error.message).toMatch(/not allowed: "\$"/);
  });

  it('gives up after a bounded number of candidates instead of looping forever', () => {
    // A broken source that always answers 0 draws "AAAAAAAA…": never four classes.
    let calls = 0;
    const stuck: RandomSource = {
      int: () => {
        calls += 1;
        return 0;
      },
    };
    const error = expectRotatorError(() => generatePassword(DEFAULT_PASSWORD_POLICY, stuck, { maxAttempts: 50 }), PASSWORD_GENERATION_EXHAUSTED);
    expect(calls).toBe(50 * 20);
    expect(error.message).toMatch(/no valid password in 50 candidates/);
    expect(error.message).not.toContain('AAAA');
    expectRotatorError(() => generatePassword(DEFAULT_PASSWORD_POLICY, stuck), PASSWORD_GENERATION_EXHAUSTED);
    expect(calls).toBe(50 * 20 + 1000 * 20);
  });

  it('rejects a candidate that breaks a rule and draws a whole new one', () => {
    // Scripted source (a mock: it replays chosen indexes). First candidate "/Xy7Qp2a!..." starts
    // with a slash; the second is valid. The result must be exactly the second candidate.
    const policy: PasswordPolicy = { length: 8, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: HUAWEI_SPECIALS };
    const alphabet = passwordAlphabet(policy);
    const script = [...'/Xy7Qp2a', ...'Xy7!Qp2_'].map((c) => alphabet.indexOf(c));
    let i = 0;
    const scripted: RandomSource = { int: () => script[i++] ?? 0 };
    expect(generatePassword(policy, scripted)).toBe('Xy7!Qp2_');
    expect(i).toBe(16);
  });

  it('rejects a candidate missing a required class even when Huawei would accept it', () => {
    const policy: PasswordPolicy = { length: 8, requiredClasses: ['upper', 'lower', 'digit', 'special'], specials: HUAWEI_SPECIALS };
    const alphabet = passwordAlphabet(policy);
    // "Xy7wQp2z" has three classes (valid for Huawei) but no special, which this policy requires.
    const script = [...'Xy7wQp2z', ...'Xy7!Qp2_'].map((c) => alphabet.indexOf(c));
    let i = 0;
    expect(generatePassword(policy, { int: () => script[i++] ?? 0 })).toBe('Xy7!Qp2_');
  });

  it.each([
    ['too large', 75],
    ['negative', -1],
    ['fractional', 0.5],
  ])('refuses a random source that answers %s', (_name, value) => {
    expectRotatorError(() => generatePassword(DEFAULT_PASSWORD_POLICY, { int: () => value }), RANDOM_SOURCE_OUT_OF_RANGE);
  });

  it('refuses a maxAttempts below 1', () => {
    expect(() => generatePassword(DEFAULT_PASSWORD_POLICY, cryptoRandom, { maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});
