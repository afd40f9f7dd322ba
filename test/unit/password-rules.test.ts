import { describe, expect, it } from 'vitest';
import { validatePassword } from '../../src/policy/password-rules.js';
import type { PasswordContext, PasswordRuleId, PasswordViolation } from '../../src/policy/password-rules.js';
import { seededRandom } from '../helpers/seeded-random.js';

function rules(password: string, context?: PasswordContext): PasswordRuleId[] {
  return validatePassword(password, context)
    .map((v) => v.rule)
    .sort();
}

/**
 * A violation message must not leak the password: not whole, not a 4-character piece of it in any
 * case, and not any of its non-alphanumeric characters (messages are plain words, digits and
 * `,;()`, so a Huawei special or other symbol in a message could only have come from the password).
 */
function expectNoLeak(password: string, violations: PasswordViolation[]): void {
  for (const { message } of violations) {
    expect(message).toMatch(/^[A-Za-z0-9 ,;()]+$/);
    // Shorter strings than 4 characters are words of any sentence; the 4-character pieces below cover the rest.
    if (password.length >= 4) expect(message).not.toContain(password);
    const foldedMessage = message.toLowerCase();
    const folded = password.toLowerCase();
    for (let i = 0; i + 4 <= folded.length; i += 1) {
      // Pieces with whitespace ("or o") match ordinary prose, and whitespace is never a password character.
      if (/\s/u.test(folded.slice(i, i + 4))) continue;
      expect(foldedMessage, `message reveals a piece of the password at ${i}`).not.toContain(folded.slice(i, i + 4));
    }
  }
}

describe('validatePassword: valid passwords', () => {
  it.each([
    ['8 characters, four classes', 'Xy7!Qp2_'],
    ['26 characters', 'Xy7-Qp2_Zk9=Wm4+Vb3[Hc5]Jd'],
    ['three classes without a special', 'Xy7wQp2zKv'],
    ['three classes without a digit', 'Xy!wQp_zKv'],
    ['three classes without an uppercase letter', 'xy7!qp2_kv'],
    ['three classes without a lowercase letter', 'XY7!QP2_KV'],
    ['every Huawei special', 'Aa1!@%-_=+[]:./?'],
    ['a slash that is not first', 'Aa1/bcdef'],
    ['root broken by a digit', 'Xr00t!9bb'],
    ['two letters of Administrator in a row', 'Ad1!Mi2.St'],
    ['Linux context', 'Xy7!Qp2_'],
  ])('%s', (_name, password) => {
    expect(validatePassword(password)).toEqual([]);
    expect(validatePassword(password, { osType: 'Linux', username: 'root' })).toEqual([]);
    expect(validatePassword(password, { osType: 'Windows', username: 'Administrator' })).toEqual([]);
  });
});

describe('validatePassword: each rule', () => {
  it.each<[string, string, PasswordRuleId[]]>([
    ['7 characters', 'Xy7!Qp2', ['length']],
    ['27 characters', 'Xy7-Qp2_Zk9=Wm4+Vb3[Hc5]JdQ', ['length']],
    ['empty', '', ['character-classes', 'length']],
    ['only lowercase and digits (2 classes)', 'abcdef12', ['character-classes']],
    ['only uppercase and specials (2 classes)', 'XYZ!?_QW', ['character-classes']],
    ['a space', 'Xy7 Qp2_', ['allowed-characters']],
    ['a tab', 'Xy7\tQp2_', ['allowed-characters']],
    ['a dollar sign', 'Xy7$Qp2_', ['allowed-characters']],
    ['a backslash', 'Xy7\\Qp2_', ['allowed-characters']],
    ['a hash, caret and braces', 'Xy7#^{}Qp', ['allowed-characters']],
    ['a non-ASCII letter', 'Xy7éQp2_', ['allowed-characters']],
    ['an emoji (one character, not two)', 'Xy7\u{1F600}Qp2_', ['allowed-characters']],
    ['a control character', 'Xy7\u0001Qp2_', ['allowed-characters']],
    ['root', 'Xy7!root2', ['username']],
    ['ROOT', 'Xy7!ROOT2', ['username']],
    ['rOoT', 'Xy7!rOoT2', ['username']],
    ['toor (root reversed)', 'Xy7!toor2', ['username']],
    ['tOoR', 'Xy7!tOoR2', ['username']],
    ['Administrator', 'Xy7!Administrator', ['username', 'username-run']],
    ['aDmInIsTrAtOr', 'Xy7!aDmInIsTrAtOr', ['username', 'username-run']],
    ['RoTaRtSiNiMdA (Administrator reversed)', 'Xy7!RoTaRtSiNiMdA', ['username', 'username-run']],
    ['adm', 'Xy7!adm2Q', ['username-run']],
    ['aDm', 'Xy7!aDm2Q', ['username-run']],
    ['ADM', 'Xy7!ADM2Q', ['username-run']],
    ['dmi', 'Xy7!dmi2Q', ['username-run']],
    ['MiN', 'Xy7!MiN2Q', ['username-run']],
    ['ini', 'Xy7!ini2Q', ['username-run']],
    ['nIs', 'Xy7!nIs2Q', ['username-run']],
    ['ist', 'Xy7!ist2Q', ['username-run']],
    ['STR', 'Xy7!STR2Q', ['username-run']],
    ['tra', 'Xy7!tra2Q', ['username-run']],
    ['rat', 'Xy7!rat2Q', ['username-run']],
    ['ato', 'Xy7!ato2Q', ['username-run']],
    ['tor', 'Xy7!tor2Q', ['username-run']],
    ['a run at the very end', 'Xy7!Q2Tor', ['username-run']],
    ['a run at the very start', 'Adm7!Q2yx', ['username-run']],
    ['a leading slash', '/Xy7Qp2a', ['leading-slash']],
  ])('%s', (_name, password, expected) => {
    const violations = validatePassword(password);
    expect(violations.map((v) => v.rule).sort()).toEqual(expected);
    for (const v of violations) expect(v.message.length).toBeGreaterThan(20);
    expectNoLeak(password, violations);
  });

  it('lists every rule broken at once', () => {
    // 29 characters; classes: special and lowercase only; a space; root; adm; starts with a slash.
    const password = '/ admroot' + 'x'.repeat(20);
    const violations = validatePassword(password);
    expect(violations.map((v) => v.rule).sort()).toEqual(
      ['allowed-characters', 'character-classes', 'leading-slash', 'length', 'username', 'username-run'].sort(),
    );
    expectNoLeak(password, violations);
  });

  it('reports each rule once, however often it is broken', () => {
    const violations = validatePassword('rootroot toor$$adm adm tor');
    const ids = violations.map((v) => v.rule);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('counts kinds of bad characters without naming them', () => {
    const [violation] = validatePassword('Xy7 \t$é#Qp2_');
    expect(violation?.rule).toBe('allowed-characters');
    expect(violation?.message).toContain('2 space or other whitespace');
    expect(violation?.message).toContain('1 non ASCII');
    expect(violation?.message).toContain('2 special outside');
  });
});

describe('validatePassword: context', () => {
  it('checks root and Administrator whatever the OS says', () => {
    expect(rules('Xy7!root2', { osType: 'Windows' })).toEqual(['username']);
    expect(rules('Xy7!Administrator', { osType: 'Linux' })).toEqual(['username', 'username-run']);
    expect(rules('Xy7!aDm2Q', { osType: 'Linux', username: 'root' })).toEqual(['username-run']);
  });

  it('adds a custom username, forwards and reversed, in any case', () => {
    expect(rules('Xy7!UbUnTu2', { osType: 'Linux', username: 'ubuntu' })).toEqual(['username']);
    expect(rules('Xy7!utnubu2', { osType: 'Linux', username: 'ubuntu' })).toEqual(['username']);
    expect(rules('Xy7!UbUnTu2')).toEqual([]);
  });

  it('applies runs of a custom username only to Windows (Huawei states the run rule for Windows)', () => {
    expect(rules('Xy7!Svc2Qa', { osType: 'Windows', username: 'svcops' })).toEqual(['username-run']);
    expect(rules('Xy7!Svc2Qa', { osType: 'Linux', username: 'svcops' })).toEqual([]);
    // Runs of root are not a rule, not even for Linux.
    expect(rules('Xy7!Roo2Qa', { osType: 'Linux', username: 'root' })).toEqual([]);
  });
});

describe('validatePassword: messages never leak the password', () => {
  it('holds for random strings full of bad characters and username pieces', () => {
    const random = seededRandom(20240611);
    const pieces = ['root', 'ToOr', 'ADMINISTRATOR', 'rotartsinimdA', 'aDm', 'tor', '/', ' ', '$', 'é', '\u{1F600}', '\u0000'];
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    let withViolations = 0;
    for (let n = 0; n < 5000; n += 1) {
      let password = '';
      const parts = random.int(12);
      for (let p = 0; p < parts; p += 1) {
        password +=
          random.int(3) === 0
            ? (pieces[random.int(pieces.length)] ?? '')
            : (printable[random.int(printable.length)] ?? '');
      }
      const violations = validatePassword(password, { osType: 'Windows', username: 'svcops' });
      if (violations.length > 0) withViolations += 1;
      expectNoLeak(password, violations);
    }
    // Guard against a vacuous test: most of these strings must break rules.
    expect(withViolations).toBeGreaterThan(4000);
  });
});
