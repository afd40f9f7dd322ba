import type { OsType } from '../domain/server.js';
import { HUAWEI_SPECIALS, MAX_PASSWORD_LENGTH, MIN_CHAR_CLASSES, MIN_PASSWORD_LENGTH } from './password-policy.js';
import type { CharClass } from './password-policy.js';

/**
 * Huawei's password rules for the batch reset API (see shared/docs/huawei-ecs-api.md), checked as the
 * union of the Linux and the Windows rules so that one password is valid for any server.
 *
 * HAZARD: the violations end up in logs and error messages. A message is chosen per rule from fixed
 * text (plus the length and counts of kinds of problem): it never quotes the password, any part of
 * it, which username matched, or which character offended. Keep it that way.
 *
 * Pure: no I/O.
 */

/** Stable identifiers of the rules; callers may switch on them. */
export type PasswordRuleId =
  | 'length'
  | 'character-classes'
  | 'allowed-characters'
  | 'username'
  | 'username-run'
  | 'leading-slash';

export interface PasswordViolation {
  rule: PasswordRuleId;
  /** For an operator; never contains the password nor any part of it. */
  message: string;
}

export interface PasswordContext {
  /**
   * The server's OS. The rules are always the union of Linux and Windows, so this only decides whether
   * the run rule also applies to a custom `username`.
   */
  osType?: OsType | undefined;
  /**
   * The account whose password is set, when it is not root/Administrator (e.g. a renamed Windows
   * administrator). It is checked IN ADDITION to root and Administrator, never instead.
   */
  username?: string | undefined;
}

/**
 * Usernames the password must never contain, forwards or backwards, in any letter case: the reset API
 * sets the password of `root` (Linux) or `Administrator` (Windows). Huawei does not say whether it
 * compares case-insensitively; Windows compares account names case-insensitively, so we avoid every
 * case variant.
 */
export const RESET_USERNAMES: readonly string[] = ['root', 'Administrator'];

/**
 * Windows rejects passwords that contain more than two consecutive characters of the account name.
 * We apply this to EVERY password, Linux included: Huawei's current documentation applies it to all
 * servers, a server's OS type may be missing or wrong in its metadata, and a password rejected inside
 * the guest after the API "accepted" it fails silently (the API does not report a failed reset
 * script), which would leave the vault and the server disagreeing. The cost is tiny: a few rare
 * letter triples are never generated.
 */
export const WINDOWS_USERNAME = 'Administrator';
export const USERNAME_RUN_LENGTH = 3;

const ADMINISTRATOR_RUNS = runsOf(WINDOWS_USERNAME.toLowerCase());

export function charClassOf(char: string): CharClass | undefined {
  if (char.length !== 1) return undefined;
  if (char >= 'A' && char <= 'Z') return 'upper';
  if (char >= 'a' && char <= 'z') return 'lower';
  if (char >= '0' && char <= '9') return 'digit';
  if (HUAWEI_SPECIALS.includes(char)) return 'special';
  return undefined;
}

/**
 * Every rule `password` breaks (empty when it is valid). Rules checked: length 8 to 26; at least 3 of
 * the 4 classes; only ASCII letters, digits and Huawei's specials; neither root nor Administrator nor
 * their reverses in any case; no run of 3 consecutive characters of Administrator in any case; no
 * leading slash. `context` can only add checks.
 */
export function validatePassword(password: string, context: PasswordContext = {}): PasswordViolation[] {
  const violations: PasswordViolation[] = [];
  // Count code points, not UTF-16 units, so a non-BMP character counts as the one character Huawei sees.
  const chars = [...password];

  if (chars.length < MIN_PASSWORD_LENGTH || chars.length > MAX_PASSWORD_LENGTH) {
    violations.push({
      rule: 'length',
      message: `the password has ${chars.length} characters; Huawei requires ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH}`,
    });
  }

  const classes = new Set<CharClass>();
  let whitespace = 0;
  let control = 0;
  let nonAscii = 0;
  let otherSpecial = 0;
  for (const char of chars) {
    const charClass = charClassOf(char);
    if (charClass !== undefined) {
      classes.add(charClass);
      continue;
    }
    const code = char.codePointAt(0) ?? 0;
    if (/^\s$/u.test(char)) whitespace += 1;
    else if (code < 0x20 || code === 0x7f) control += 1;
    else if (code > 0x7f) nonAscii += 1;
    else otherSpecial += 1;
  }
  if (classes.size < MIN_CHAR_CLASSES) {
    violations.push({
      rule: 'character-classes',
      message:
        `the password contains ${classes.size} of the 4 character classes (uppercase, lowercase, digit, special); ` +
        `Huawei requires at least ${MIN_CHAR_CLASSES}`,
    });
  }
  const kinds = [
    [whitespace, 'space or other whitespace'],
    [control, 'control'],
    [nonAscii, 'non ASCII'],
    [otherSpecial, 'special outside the 13 Huawei accepts'],
  ] as const;
  const found = kinds.filter(([count]) => count > 0).map(([count, kind]) => `${count} ${kind}`);
  if (found.length > 0) {
    violations.push({
      rule: 'allowed-characters',
      message:
        `the password contains characters Huawei does not accept (${found.join(', ')}); ` +
        `only ASCII letters, digits and the 13 Huawei special characters are allowed`,
    });
  }

  const folded = password.toLowerCase();
  const usernames = RESET_USERNAMES.map((name) => name.toLowerCase());
  const extraUsername = context.username?.toLowerCase();
  if (extraUsername !== undefined && extraUsername.length > 0 && !usernames.includes(extraUsername)) {
    usernames.push(extraUsername);
  }
  if (usernames.some((name) => folded.includes(name) || folded.includes(reverse(name)))) {
    violations.push({
      rule: 'username',
      message: 'the password contains a login username or a login username reversed (in some letter case); Huawei forbids both',
    });
  }

  const runs = [...ADMINISTRATOR_RUNS];
  if (context.osType === 'Windows' && extraUsername !== undefined) runs.push(...runsOf(extraUsername));
  if (runs.some((run) => folded.includes(run))) {
    violations.push({
      rule: 'username-run',
      message: `the password contains ${USERNAME_RUN_LENGTH} or more consecutive characters of the Windows username (in some letter case), which Windows forbids`,
    });
  }

  if (password.startsWith('/')) {
    violations.push({
      rule: 'leading-slash',
      message: 'the password begins with a slash, which the Windows console reads as an option',
    });
  }
  return violations;
}

/** Every run of USERNAME_RUN_LENGTH consecutive characters of `name` (lowercase). */
function runsOf(name: string): string[] {
  const runs: string[] = [];
  for (let i = 0; i + USERNAME_RUN_LENGTH <= name.length; i += 1) runs.push(name.slice(i, i + USERNAME_RUN_LENGTH));
  return runs;
}

function reverse(text: string): string {
  return [...text].reverse().join('');
}
