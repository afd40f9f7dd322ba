/**
 * Staging-label rules of one server's secret: the single place that says which label keeps which
 * password, and why no password that may log in is ever left without a label (invariant 1).
 *
 * | label                    | on                                                                 | leaves it when                                   |
 * |--------------------------|--------------------------------------------------------------------|--------------------------------------------------|
 * | AWSPENDING               | the password stored before a reset call, until its outcome is known | accepted (promote drops it) or definitely rejected by a call that first sent it |
 * | AWSCURRENT               | the last password Huawei accepted (the one in effect after the next restart) | the next accepted password is promoted (compare-and-swap) |
 * | AWSPREVIOUS              | the version AWSCURRENT left                                         | AWSCURRENT moves again                           |
 * | ROTATOR_UNCONFIRMED_1..3 | each accepted password not yet known to be in effect (the server may have restarted out of band, so any of them may log in now) | a later-or-equal accepted password is confirmed active (reboot success) |
 * | ROTATOR_ACTIVE           | the last password known to be in effect (confirmed by a reboot after its acceptance) | a newer password is confirmed active |
 *
 * Consequences:
 * - Restart policy `none`: every rotation adds one UNCONFIRMED slot; with all 3 taken the server is
 *   skipped (`awaiting-restart`) rather than given a 4th password we could not keep labelled. A run
 *   with restart policy soft/hard on such a server resends the AWSCURRENT password (phase `confirm`,
 *   no new password) and reboots, which confirms it active and frees the slots. The password in
 *   effect before the first managed rotation was never known to the vault: nothing keeps it.
 * - A server with AWSPENDING from an earlier attempt (outcome unknown) is sent THAT password again
 *   before anything new; it never gets a different password while the first one's fate is unknown.
 * - A rejected resend of such an inherited pending password does not drop it (the earlier, unanswered
 *   call may have been accepted), except for `Ecs.0011`: a password that breaks the rules was never set.
 * - AWSCURRENT is only moved by `promote`; the rotation never removes it.
 * - AWSCURRENT only ever names a password Huawei accepted, from a secret's first rotation on: a
 *   first reset that is rejected, unanswered or never sent leaves no version holding AWSCURRENT (the
 *   port's `describe` shows none). On AWS this needs care, because AWS attaches AWSCURRENT to a
 *   secret's first version by itself ("If this operation creates the first version for the secret,
 *   then Secrets Manager automatically attaches the staging label AWSCURRENT to it."): the AWS adapter
 *   creates every secret with a version that holds no password ("no password known yet"), which
 *   takes AWSCURRENT and which the port does not show; the first `promote` moves AWSCURRENT off it.
 * - A server's first rotation is one where no version outside the batch holds a label of an
 *   accepted password (AWSCURRENT, ROTATOR_ACTIVE, an unconfirmed slot): a version still pending
 *   from an earlier, unanswered first attempt does not make it a later one, since the password from
 *   before rotator may still be the one in effect (`isFirstRotation`).
 */
import type { SecretDescription, SecretVersionInfo } from '../ports/vault.js';
import { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING } from '../ports/vault.js';

/** How many accepted-but-unconfirmed passwords a server may have before it must be restarted. */
export const UNCONFIRMED_SLOT_COUNT = 3;

export const UNCONFIRMED_LABELS: readonly string[] = Array.from(
  { length: UNCONFIRMED_SLOT_COUNT },
  (_, i) => `ROTATOR_UNCONFIRMED_${i + 1}`,
);

export function isUnconfirmedLabel(label: string): boolean {
  return UNCONFIRMED_LABELS.includes(label);
}

/** The version holding `label`, if any. */
export function versionWithLabel(description: SecretDescription | undefined, label: string): SecretVersionInfo | undefined {
  return description?.versions.find((v) => v.labels.includes(label));
}

export function versionById(description: SecretDescription | undefined, versionId: string): SecretVersionInfo | undefined {
  return description?.versions.find((v) => v.versionId === versionId);
}

/** The unconfirmed slot labels in use, each with its version. */
export function usedUnconfirmedSlots(description: SecretDescription | undefined): { label: string; version: SecretVersionInfo }[] {
  const used: { label: string; version: SecretVersionInfo }[] = [];
  for (const version of description?.versions ?? []) {
    for (const label of version.labels) if (isUnconfirmedLabel(label)) used.push({ label, version });
  }
  return used;
}

/** The first free slot label, or undefined when all are taken. */
export function freeUnconfirmedSlot(description: SecretDescription | undefined): string | undefined {
  const used = new Set(usedUnconfirmedSlots(description).map((s) => s.label));
  return UNCONFIRMED_LABELS.find((l) => !used.has(l));
}

export function holdsUnconfirmedSlot(version: SecretVersionInfo | undefined): boolean {
  return version?.labels.some(isUnconfirmedLabel) ?? false;
}

export { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING };

/** Whether `version` holds a label that only an accepted password gets (AWSCURRENT, ROTATOR_ACTIVE, an unconfirmed slot). */
function holdsAcceptedLabel(version: SecretVersionInfo): boolean {
  return version.labels.some((l) => l === LABEL_CURRENT || l === LABEL_ACTIVE || isUnconfirmedLabel(l));
}

/**
 * No password outside `ownVersionIds` (the versions of the batch asking) was ever accepted for this
 * server: the password from before rotator managed it may still log in, and the vault never held it.
 */
export function isFirstRotation(description: SecretDescription | undefined, ownVersionIds: ReadonlySet<string>): boolean {
  return !(description?.versions.some((v) => !ownVersionIds.has(v.versionId) && holdsAcceptedLabel(v)) ?? false);
}

/*
 * What these rules cost in vault writes (AWS: 50 writes/s per account, shared by every writer), per
 * server and accepted rotation with restart policy `none`, counted by test/e2e/rotation-call-counts.test.ts:
 *   1. PutSecretValue with AWSPENDING: the password must be stored before the reset (invariant 1);
 *   2. an UNCONFIRMED slot label on it: once AWSCURRENT moves on again, nothing else keeps a password
 *      that may be in effect after an out-of-band restart;
 *   3. the AWSCURRENT compare-and-swap (promote);
 *   4. AWSPENDING's removal, or the next run would take it for an unanswered reset and resend it.
 * 4 writes, not the 2 issue 12 aims at: folding 2 into 1 (the slot set with PutSecretValue) and
 * dropping 4 (AWSPENDING left on the AWSCURRENT version, read as settled) change what the labels
 * mean, and belong with the label policy itself. A soft/hard restart adds ROTATOR_ACTIVE and clears
 * the slots it confirms. CreateSecret happens once per server, on the first rotation only.
 */
