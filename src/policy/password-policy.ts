/**
 * What a generated password looks like, and whether such a password can exist under Huawei's rules.
 *
 * Semantics (read this before writing a config for it):
 * - The ALPHABET a password is drawn from is always A-Z, a-z, 0-9 plus `specials`. An empty
 *   `specials` gives an alphanumeric password.
 * - `requiredClasses` are the classes EVERY password must contain at least once. Huawei requires three
 *   of the four classes to appear, so at least three must be required here; requiring fewer would let
 *   the generator produce passwords Huawei rejects (`Ecs.0011`).
 *
 * Pure: no I/O, no clock, no randomness.
 */

export type CharClass = 'upper' | 'lower' | 'digit' | 'special';

/** Every class, in the order messages list them. */
export const CHAR_CLASSES: readonly CharClass[] = ['upper', 'lower', 'digit', 'special'];

/** The only special characters Huawei's reset API accepts, in the order its documentation lists them. */
export const HUAWEI_SPECIALS = '!@%-_=+[]:./?';

export const UPPERCASE_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWERCASE_LETTERS = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';

/** Huawei's bounds on the password length, inclusive. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 26;
/** Huawei requires at least this many of the four classes in a password. */
export const MIN_CHAR_CLASSES = 3;

export interface PasswordPolicy {
  /** Number of characters, 8 to 26 (Huawei's bounds). @defaultValue 20 */
  length: number;
  /**
   * Classes every generated password contains at least once; at least 3 distinct ones.
   * @defaultValue all four: upper, lower, digit, special
   */
  requiredClasses: CharClass[];
  /**
   * Special characters that may appear: a subset of {@link HUAWEI_SPECIALS} without repeats; may be
   * empty only when 'special' is not required.
   * @defaultValue {@link HUAWEI_SPECIALS} (all thirteen)
   */
  specials: string;
}

export const DEFAULT_PASSWORD_POLICY: Readonly<PasswordPolicy> = Object.freeze({
  length: 20,
  requiredClasses: Object.freeze(['upper', 'lower', 'digit', 'special']) as CharClass[],
  specials: HUAWEI_SPECIALS,
});

/**
 * Why no password satisfying `policy` and Huawei's rules (Linux AND Windows) can be generated, one
 * sentence per problem for an operator; empty when the policy is usable.
 *
 * Given a usable policy a valid password always exists: the alphabet always holds all letters and
 * digits, so a password can avoid every forbidden username, username run and a leading slash while
 * containing each required class (length >= 8 >= number of required classes).
 */
export function unsatisfiablePolicyReasons(policy: PasswordPolicy): string[] {
  const reasons: string[] = [];
  const { length, requiredClasses, specials } = policy;

  if (typeof length !== 'number' || !Number.isInteger(length)) {
    reasons.push(`length must be a whole number of characters between ${MIN_PASSWORD_LENGTH} and ${MAX_PASSWORD_LENGTH}, got ${describe(length)}`);
  } else if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    reasons.push(`length must be between ${MIN_PASSWORD_LENGTH} and ${MAX_PASSWORD_LENGTH} characters (Huawei's limits), got ${length}`);
  }

  const distinctClasses = new Set<CharClass>();
  if (!Array.isArray(requiredClasses)) {
    reasons.push(`requiredClasses must be a list of classes from ${CHAR_CLASSES.join(', ')}, got ${describe(requiredClasses)}`);
  } else {
    const unknown: string[] = [];
    const repeated: string[] = [];
    for (const value of requiredClasses as unknown[]) {
      if (typeof value !== 'string' || !(CHAR_CLASSES as readonly string[]).includes(value)) {
        unknown.push(describe(value));
      } else if (distinctClasses.has(value as CharClass)) {
        repeated.push(value);
      } else {
        distinctClasses.add(value as CharClass);
      }
    }
    if (unknown.length > 0) {
      reasons.push(`requiredClasses holds unknown classes ${unknown.join(', ')}; expected only ${CHAR_CLASSES.join(', ')}`);
    }
    if (repeated.length > 0) {
      reasons.push(`requiredClasses lists ${repeated.join(', ')} more than once`);
    }
    if (distinctClasses.size < MIN_CHAR_CLASSES) {
      reasons.push(
        `requiredClasses must name at least ${MIN_CHAR_CLASSES} distinct classes of ${CHAR_CLASSES.join(', ')} ` +
          `(Huawei requires ${MIN_CHAR_CLASSES} of the 4 in every password), got ${distinctClasses.size}`,
      );
    }
    if (typeof length === 'number' && Number.isInteger(length) && length < distinctClasses.size) {
      reasons.push(`length ${length} is shorter than the ${distinctClasses.size} required classes, one character each`);
    }
  }

  if (typeof specials !== 'string') {
    reasons.push(`specials must be a string of characters from ${HUAWEI_SPECIALS}, got ${describe(specials)}`);
  } else {
    // Policy text, not a password: naming the offending characters here leaks nothing.
    const chars = [...specials];
    const notAllowed = [...new Set(chars.filter((c) => !HUAWEI_SPECIALS.includes(c)))];
    if (notAllowed.length > 0) {
      reasons.push(
        `specials may only use Huawei's special characters ${HUAWEI_SPECIALS}; not allowed: ${notAllowed.map((c) => JSON.stringify(c)).join(' ')}`,
      );
    }
    const duplicated = [...new Set(chars.filter((c, i) => chars.indexOf(c) !== i))];
    if (duplicated.length > 0) {
      // A repeat would make that character more likely than the others.
      reasons.push(`specials lists ${duplicated.map((c) => JSON.stringify(c)).join(' ')} more than once`);
    }
    if (distinctClasses.has('special') && specials.length === 0) {
      reasons.push(`'special' is a required class but specials is empty`);
    }
  }
  return reasons;
}

/** The characters a password under `policy` is drawn from: upper, lower, digits, then the policy's specials. */
export function passwordAlphabet(policy: PasswordPolicy): string {
  return UPPERCASE_LETTERS + LOWERCASE_LETTERS + DIGITS + policy.specials;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}
