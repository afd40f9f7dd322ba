import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD_POLICY,
  HUAWEI_SPECIALS,
  passwordAlphabet,
  unsatisfiablePolicyReasons,
} from '../../src/policy/password-policy.js';
import type { PasswordPolicy } from '../../src/policy/password-policy.js';

function policy(overrides: Partial<PasswordPolicy>): PasswordPolicy {
  return { ...DEFAULT_PASSWORD_POLICY, requiredClasses: [...DEFAULT_PASSWORD_POLICY.requiredClasses], ...overrides };
}

describe('DEFAULT_PASSWORD_POLICY', () => {
  it('is 20 characters, all four classes, all 13 Huawei specials', () => {
    expect(DEFAULT_PASSWORD_POLICY).toEqual({
      length: 20,
      requiredClasses: ['upper', 'lower', 'digit', 'special'],
      specials: '!@%-_=+[]:./?',
    });
    expect(HUAWEI_SPECIALS).toHaveLength(13);
    expect(unsatisfiablePolicyReasons(DEFAULT_PASSWORD_POLICY)).toEqual([]);
  });

  it('cannot be changed by a caller that reuses it', () => {
    expect(Object.isFrozen(DEFAULT_PASSWORD_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_PASSWORD_POLICY.requiredClasses)).toBe(true);
  });

  it('draws from 26 + 26 + 10 + 13 = 75 characters', () => {
    expect(new Set(passwordAlphabet(DEFAULT_PASSWORD_POLICY)).size).toBe(75);
  });
});

describe('unsatisfiablePolicyReasons', () => {
  it.each<[string, Partial<PasswordPolicy>]>([
    ['length 8 with three classes', { length: 8, requiredClasses: ['upper', 'lower', 'digit'] }],
    ['length 26', { length: 26 }],
    ['no specials when special is not required', { requiredClasses: ['upper', 'lower', 'digit'], specials: '' }],
    ['specials allowed but not required', { requiredClasses: ['lower', 'upper', 'digit'], specials: '-]' }],
    ['a single special', { length: 8, specials: '/' }],
  ])('accepts %s', (_name, overrides) => {
    expect(unsatisfiablePolicyReasons(policy(overrides))).toEqual([]);
  });

  it.each<[string, Partial<PasswordPolicy>, RegExp]>([
    ['length 7', { length: 7 }, /length must be between 8 and 26 .*got 7/],
    ['length 27', { length: 27 }, /length must be between 8 and 26 .*got 27/],
    ['a fractional length', { length: 12.5 }, /length must be a whole number .*got 12\.5/],
    ['a length that is not a number', { length: '20' as unknown as number }, /length must be a whole number .*got "20"/],
    ['two classes', { requiredClasses: ['upper', 'lower'] }, /at least 3 distinct classes .*got 2/],
    ['three classes with a repeat', { requiredClasses: ['upper', 'lower', 'lower'] }, /lower more than once/],
    ['an unknown class', { requiredClasses: ['upper', 'lower', 'symbol' as 'special'] }, /unknown classes "symbol"/],
    ['requiredClasses not a list', { requiredClasses: 'upper' as unknown as PasswordPolicy['requiredClasses'] }, /requiredClasses must be a list/],
    ['a special Huawei rejects', { specials: '!$' }, /not allowed: "\$"/],
    ['a space in specials', { specials: '! ' }, /not allowed: " "/],
    ['a non-ASCII special', { specials: '!§' }, /not allowed: "§"/],
    ['a duplicated special', { specials: '!!@' }, /specials lists "!" more than once/],
    ['special required but no specials', { specials: '' }, /'special' is a required class but specials is empty/],
    ['specials not a string', { specials: ['!'] as unknown as string }, /specials must be a string/],
  ])('rejects %s', (_name, overrides, reason) => {
    const reasons = unsatisfiablePolicyReasons(policy(overrides));
    expect(reasons.some((r) => reason.test(r)), reasons.join(' | ')).toBe(true);
  });

  it('lists every problem at once', () => {
    const reasons = unsatisfiablePolicyReasons({ length: 1, requiredClasses: ['upper', 'upper', 'special'], specials: '$$' });
    expect(reasons).toHaveLength(6);
    expect(reasons.join('\n')).toMatch(/length must be between 8 and 26/);
    expect(reasons.join('\n')).toMatch(/upper more than once/);
    expect(reasons.join('\n')).toMatch(/at least 3 distinct classes/);
    expect(reasons.join('\n')).toMatch(/length 1 is shorter than the 2 required classes/);
    expect(reasons.join('\n')).toMatch(/not allowed: "\$"/);
    expect(reasons.join('\n')).toMatch(/"\$" more than once/);
  });
});
