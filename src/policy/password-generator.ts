import { RotatorError } from '../domain/rotator-error.js';
import type { RandomSource } from '../ports/random-source.js';
import { charClassOf, validatePassword } from './password-rules.js';
import { passwordAlphabet, unsatisfiablePolicyReasons } from './password-policy.js';
import type { CharClass, PasswordPolicy } from './password-policy.js';

/**
 * Password generation by rejection sampling of whole candidates.
 *
 * HOW: draw every position independently and uniformly from the policy's alphabet; keep the candidate
 * only if it contains every required class and passes {@link validatePassword}; otherwise draw a whole
 * new candidate.
 *
 * WHY THIS IS UNIFORM: each candidate string s of length L has probability |A|^-L, the same for all s.
 * Conditioning on "s is accepted" gives P(s | accepted) = |A|^-L / P(accepted) for every accepted s:
 * the same constant, so the result is uniform over exactly the set of valid passwords, and a password
 * carries the full log2(number of valid passwords) bits (about 124 bits for the default policy).
 *
 * WHY NOT FORCE CLASSES PER POSITION (the usual "draw one upper, one lower, one digit, one special,
 * fill the rest from the whole alphabet, shuffle"): a string s is then produced in as many ways as
 * there are choices of which of its characters were the forced ones, so
 *   P(s) is proportional to  n_upper(s)/26 * n_lower(s)/26 * n_digit(s)/10 * n_special(s)/|specials|
 * (n_c(s) = how many characters of class c s has). That depends on s: passwords whose classes are
 * balanced are favoured over those where a class occurs once, and the small classes (digits,
 * specials) come out more often than they do among valid passwords. The attacker who knows the
 * generator gets a skewed distribution to start from. Repairing a rejected candidate in place
 * (replacing only the offending characters) skews it the same way. Redrawing the whole candidate is
 * the simple scheme that does not. Its cost is small: for every usable policy most candidates are
 * accepted (about 9 in 10 for the default policy; the worst usable policy, length 8 with all four
 * classes required and '/' as the only special, still accepts about 1 in 15; see
 * test/unit/password-distribution.test.ts, which computes these rates exactly).
 *
 * WHY NOT THE generate-password PACKAGE (a dependency of this project): we decided against it here.
 * - Its `symbols` string is pasted into a RegExp character class to check `strict`: Huawei's `-`
 *   between two specials becomes a range (so `strict` can count a letter or digit as a "symbol"),
 *   and `]` closes the class early (and at some positions overflows the stack).
 * - On a failed `strict` check it calls itself recursively: a policy with a low acceptance rate
 *   (or a buggy one) overflows the stack instead of failing with a clear error.
 * - It reads crypto.randomBytes through module-level state: no RandomSource can be injected, so the
 *   distribution cannot be tested with a seeded source, and it cannot reject forbidden substrings.
 * Its per-character draw (rejection of biased bytes) is sound, but the whole is twenty lines we can
 * do better and test ourselves. (The package stays in package.json; nothing in src/policy uses it.)
 *
 * Pure apart from the injected RandomSource: no Math.random, no clock, no I/O.
 */

/** Options of {@link generatePassword}. */
export interface GeneratePasswordOptions {
  /**
   * Candidates to draw before giving up. Every usable policy accepts at least about 1 candidate in
   * 15 (6.9%), so 1000 attempts all fail with probability below 10^-30; reaching the bound means the
   * random source is broken (e.g. constant), not bad luck.
   * @defaultValue 1000
   */
  maxAttempts?: number;
}

export const DEFAULT_MAX_GENERATION_ATTEMPTS = 1000;

/** Code of the error thrown when the policy cannot produce a valid password. Not retryable. */
export const PASSWORD_POLICY_UNSATISFIABLE = 'PASSWORD_POLICY_UNSATISFIABLE';
/** Code of the error thrown when no candidate was accepted within the bound. Not retryable. */
export const PASSWORD_GENERATION_EXHAUSTED = 'PASSWORD_GENERATION_EXHAUSTED';
/** Code of the error thrown when the random source answers outside [0, max). Not retryable. */
export const RANDOM_SOURCE_OUT_OF_RANGE = 'RANDOM_SOURCE_OUT_OF_RANGE';

/**
 * A password drawn uniformly from all passwords of `policy.length` characters over the policy's
 * alphabet that contain every required class and pass {@link validatePassword} (Linux and Windows).
 *
 * @throws RotatorError `PASSWORD_POLICY_UNSATISFIABLE` with the reasons, `PASSWORD_GENERATION_EXHAUSTED`
 * after `maxAttempts` rejected candidates, `RANDOM_SOURCE_OUT_OF_RANGE` when `random` misbehaves.
 * No error message ever contains a candidate.
 */
export function generatePassword(policy: PasswordPolicy, random: RandomSource, options: GeneratePasswordOptions = {}): string {
  const reasons = unsatisfiablePolicyReasons(policy);
  if (reasons.length > 0) {
    throw new RotatorError({
      code: PASSWORD_POLICY_UNSATISFIABLE,
      message: `password policy cannot produce a valid Huawei password: ${reasons.join('; ')}`,
      retryable: false,
    });
  }
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_GENERATION_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`maxAttempts must be a whole number of at least 1, got ${String(maxAttempts)}`);
  }

  const alphabet = passwordAlphabet(policy);
  const required = new Set<CharClass>(policy.requiredClasses);
  const chars = new Array<string>(policy.length);
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const present = new Set<CharClass>();
    for (let i = 0; i < policy.length; i += 1) {
      const index = random.int(alphabet.length);
      const char = alphabet[index];
      // An index outside the alphabet (or a fraction) would give `undefined`; fail rather than
      // build a shorter or "undefined"-containing password.
      if (char === undefined || !Number.isInteger(index)) {
        throw new RotatorError({
          code: RANDOM_SOURCE_OUT_OF_RANGE,
          message: `random source returned a value outside [0, ${alphabet.length}) or not a whole number`,
          retryable: false,
        });
      }
      chars[i] = char;
      const charClass = charClassOf(char);
      if (charClass !== undefined) present.add(charClass);
    }
    let hasAllRequired = true;
    for (const charClass of required) if (!present.has(charClass)) hasAllRequired = false;
    if (!hasAllRequired) continue;
    const candidate = chars.join('');
    if (validatePassword(candidate).length === 0) return candidate;
  }
  throw new RotatorError({
    code: PASSWORD_GENERATION_EXHAUSTED,
    message:
      `no valid password in ${maxAttempts} candidates (length ${policy.length}, required ${policy.requiredClasses.join('/')}, ` +
      `${policy.specials.length} specials); the random source is probably not random`,
    retryable: false,
  });
}
