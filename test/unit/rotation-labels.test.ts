/**
 * The label rules of src/rotation/labels.ts, row by row of its table (pure decisions; the steps that
 * apply them are exercised end to end in test/e2e/lockout-regressions.test.ts and rotation-run-batch).
 */
import { describe, expect, it } from 'vitest';
import type { SecretDescription } from '../../src/ports/vault.js';
import {
  admission,
  afterPromotion,
  candidatesBeyondWindow,
  isFirstRotation,
  labelsAfterVerified,
  slotForAccepted,
  unsettledPendingVersion,
  verificationOrder,
  withVersionLabels,
  type CandidatePolicy,
} from '../../src/rotation/labels.js';

/** Versions v0, v1, … created in that order, with the given labels. */
function secret(labels: string[][]): SecretDescription {
  return {
    name: 'n',
    key: { region: 'r', projectId: 'p', serverId: 's' },
    lastChangedAt: undefined,
    versions: labels.map((l, i) => ({ versionId: `v${i}`, labels: l, createdAt: 1_000 + i })),
  };
}
const U = (k: number) => `ROTATOR_UNCONFIRMED_${k}`;
const policy = (p: Partial<CandidatePolicy> = {}): CandidatePolicy => ({ keep: 3, verification: false, restartPolicy: 'soft', ...p });
const full = secret([['ROTATOR_ACTIVE'], [U(1)], [U(2), 'AWSPREVIOUS'], [U(3), 'AWSCURRENT']]);

describe('admission (plan time)', () => {
  it('a free slot admits; all taken: slide with verification off and a reboot, confirm with verification on, else awaiting-restart', () => {
    expect(admission(secret([['ROTATOR_ACTIVE'], [U(1), 'AWSCURRENT']]), policy())).toBe('slot');
    expect(admission(full, policy())).toBe('slide');
    expect(admission(full, policy({ verification: true }))).toBe('confirm');
    expect(admission(full, policy({ restartPolicy: 'none' }))).toBe('awaiting-restart');
    expect(admission(full, policy({ restartPolicy: 'none', verification: true }))).toBe('awaiting-restart');
    // keepCandidates raises the limit.
    expect(admission(full, policy({ keep: 4, restartPolicy: 'none' }))).toBe('slot');
  });
});

describe('reset accepted', () => {
  it('takes a free slot, keeps its own on a replay, and when sliding takes an extra slot (nothing leaves before the reboot)', () => {
    const some = secret([['ROTATOR_ACTIVE'], [U(2), 'AWSCURRENT'], ['AWSPENDING']]);
    expect(slotForAccepted(some, 'v2', policy())).toBe(U(1));
    expect(slotForAccepted(full, 'v3', policy())).toBe(U(3));
    const withNew = secret([['ROTATOR_ACTIVE'], [U(1)], [U(2), 'AWSPREVIOUS'], [U(3), 'AWSCURRENT'], ['AWSPENDING']]);
    expect(slotForAccepted(withNew, 'v4', policy())).toBe(U(4));
    expect(slotForAccepted(withNew, 'v4', policy({ verification: true }))).toBeUndefined();
    expect(slotForAccepted(withNew, 'v4', policy({ restartPolicy: 'none' }))).toBeUndefined();
  });

  it('after the reboot of a slide, the candidates older than the newest N leave; the expected one never does', () => {
    const slid = secret([['ROTATOR_ACTIVE'], [U(1)], [U(2), 'AWSPREVIOUS'], [U(3)], [U(4), 'AWSCURRENT']]);
    expect(candidatesBeyondWindow(slid, 3, 'v4')).toEqual([{ label: U(1), versionId: 'v1' }]);
    // An N + 1 left by a reboot that did not finish: the next slide or confirm is refused a new slot, and confirms instead.
    expect(admission(slid, policy())).toBe('confirm');
    // Even if the expected one were the oldest, it stays.
    expect(candidatesBeyondWindow(slid, 1, 'v1')).toEqual([
      { label: U(4), versionId: 'v4' },
      { label: U(3), versionId: 'v3' },
      { label: U(2), versionId: 'v2' },
    ]);
  });
});

describe('password verified', () => {
  it('ROTATOR_ACTIVE moves to it; slots of it and of older versions go; newer candidates keep theirs', () => {
    expect(labelsAfterVerified(full, 'v2')).toEqual({
      moveActive: true,
      removeSlots: [
        { label: U(1), versionId: 'v1' },
        { label: U(2), versionId: 'v2' },
      ],
    });
    // The one already active verified again: nothing older holds a slot, newer ones stay.
    expect(labelsAfterVerified(full, 'v0')).toEqual({ moveActive: false, removeSlots: [] });
  });

  it('a version created at the same instant as the verified one keeps its slot (no order known)', () => {
    const same = secret([[U(1)], [U(2)]]);
    same.versions[0]!.createdAt = same.versions[1]!.createdAt;
    expect(labelsAfterVerified(same, 'v1').removeSlots).toEqual([{ label: U(2), versionId: 'v1' }]);
  });
});

describe('verification order', () => {
  it('the expected version first, then every labelled one newest first; pending and unlabelled versions are not tried', () => {
    const s = secret([['ROTATOR_ACTIVE'], [], [U(1), 'AWSPREVIOUS'], [U(2), 'AWSCURRENT'], ['AWSPENDING']]);
    expect(verificationOrder(s, 'v3').map((v) => v.versionId)).toEqual(['v3', 'v2', 'v0']);
    expect(verificationOrder(s, 'v0').map((v) => v.versionId)).toEqual(['v0', 'v3', 'v2']);
    expect(verificationOrder(undefined, undefined)).toEqual([]);
  });
});

describe('reading AWSPENDING', () => {
  it('on AWSCURRENT\'s version it is settled; elsewhere it is an unsettled reset to resend', () => {
    expect(unsettledPendingVersion(secret([[U(1), 'AWSCURRENT', 'AWSPENDING']]))).toBeUndefined();
    expect(unsettledPendingVersion(secret([[U(1), 'AWSCURRENT'], [U(2), 'AWSPENDING']]))?.versionId).toBe('v1');
    expect(unsettledPendingVersion(secret([['AWSPENDING']]))?.versionId).toBe('v0');
  });

  it('the slot of an unsettled pending version is taken (admission) but proves no acceptance (first rotation)', () => {
    // A first attempt whose reset went unanswered: its slot was reserved before the call.
    const unanswered = secret([[U(1), 'AWSPENDING']]);
    expect(isFirstRotation(unanswered, new Set())).toBe(true);
    expect(admission(unanswered, policy({ keep: 1, restartPolicy: 'none' }))).toBe('awaiting-restart');
    // Once promoted it is accepted: AWSPENDING stays on it, settled.
    expect(isFirstRotation(secret([[U(1), 'AWSPENDING', 'AWSCURRENT']]), new Set())).toBe(false);
    // A kept candidate without AWSPENDING still counts as accepted, as before.
    expect(isFirstRotation(secret([[U(1)]]), new Set())).toBe(false);
    // The batch's own versions never count.
    expect(isFirstRotation(secret([[U(1), 'AWSPENDING', 'AWSCURRENT']]), new Set(['v0']))).toBe(true);
  });

  it('verification does not try an unsettled pending version, although it holds a slot', () => {
    const s = secret([[U(1), 'AWSCURRENT'], [U(2), 'AWSPENDING']]);
    expect(verificationOrder(s, undefined).map((v) => v.versionId)).toEqual(['v0']);
    const settled = secret([[U(1), 'AWSPREVIOUS'], [U(2), 'AWSPENDING', 'AWSCURRENT']]);
    expect(verificationOrder(settled, undefined).map((v) => v.versionId)).toEqual(['v1', 'v0']);
  });
});

describe('what a write\'s answer tells', () => {
  it('a store moves its labels off every other version; a promotion moves AWSCURRENT and AWSPREVIOUS follows', () => {
    const before = secret([[U(1), 'AWSPREVIOUS'], [U(2), 'AWSCURRENT', 'AWSPENDING']]);
    const stored = withVersionLabels(before, 'v2', ['AWSPENDING', U(3)], 2_000);
    expect(stored.versions.map((v) => [v.versionId, v.labels])).toEqual([
      ['v0', [U(1), 'AWSPREVIOUS']],
      ['v1', [U(2), 'AWSCURRENT']],
      ['v2', ['AWSPENDING', U(3)]],
    ]);
    const promoted = afterPromotion(stored, 'v2');
    expect(promoted.versions.map((v) => [v.versionId, v.labels])).toEqual([
      ['v0', [U(1)]],
      ['v1', [U(2), 'AWSPREVIOUS']],
      ['v2', ['AWSPENDING', U(3), 'AWSCURRENT']],
    ]);
    // A first promotion: nothing was current, AWSPREVIOUS stays where it is (nowhere).
    expect(afterPromotion(secret([[U(1), 'AWSPENDING']]), 'v0').versions[0]?.labels).toEqual([U(1), 'AWSPENDING', 'AWSCURRENT']);
    // A replay changes nothing.
    expect(afterPromotion(promoted, 'v2')).toBe(promoted);
  });
});
