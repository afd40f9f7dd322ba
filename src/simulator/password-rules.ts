/**
 * Huawei's password rules for the reset API, implemented here independently of src/policy on
 * purpose: the simulator is a second, separate reading of ../../../shared/docs/huawei-ecs-api.md,
 * so that a bug in the project's own validator cannot hide behind the same bug in its simulator.
 *
 * Where Huawei is silent the simulator is STRICTER than the cloud is likely to be (a client that
 * passes here passes there): username checks ignore case, and the Windows-only rules (runs of three
 * characters of `Administrator`, no leading `/`) apply to every server, as the current spec says.
 */

/** The only specials Huawei accepts. */
const SPECIALS = new Set('!@%-_=+[]:./?'.split(''));
const USERNAMES = ['root', 'administrator'];

/** Names of the rules `password` breaks; empty when it is acceptable. Never returns the password. */
export function huaweiPasswordViolations(password: string): string[] {
  const violations: string[] = [];
  if (password.length < 8 || password.length > 26) violations.push('length must be 8 to 26 characters');
  let upper = false;
  let lower = false;
  let digit = false;
  let special = false;
  let other = false;
  for (const c of password) {
    if (c >= 'A' && c <= 'Z') upper = true;
    else if (c >= 'a' && c <= 'z') lower = true;
    else if (c >= '0' && c <= '9') digit = true;
    else if (SPECIALS.has(c)) special = true;
    else other = true;
  }
  // Why no character is named: naming the offending character would leak part of the password.
  if (other) violations.push('contains a character outside letters, digits and !@%-_=+[]:./?');
  if ([upper, lower, digit, special].filter(Boolean).length < 3) {
    violations.push('needs at least three of: uppercase, lowercase, digit, special');
  }
  const lowered = password.toLowerCase();
  for (const name of USERNAMES) {
    const reversed = [...name].reverse().join('');
    if (lowered.includes(name) || lowered.includes(reversed)) {
      violations.push('contains the username or the username reversed');
      break;
    }
  }
  const administrator = USERNAMES[1]!;
  for (let i = 0; i + 3 <= administrator.length; i++) {
    if (lowered.includes(administrator.slice(i, i + 3))) {
      violations.push('contains three consecutive characters of Administrator');
      break;
    }
  }
  if (password.startsWith('/')) violations.push('starts with /');
  return violations;
}
