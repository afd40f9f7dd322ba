/**
 * Staging-label rules of one server's secret: the single place that says which label keeps which
 * password, and why no password that may log in is ever left without a label (invariant 1).
 *
 * A *candidate* is an accepted password not yet proven by a login: it holds a
 * `ROTATOR_UNCONFIRMED_k` slot (k = 1..keepCandidates, default 3). `ROTATOR_ACTIVE` is on the last
 * password that was *verified* to log in (a login, never a reboot job: Huawei's in-guest reset can
 * fail without telling the API caller, and the reboot then brings the old password back up).
 *
 * Rules, event → labels after (the README has the same table):
 *
 * | event | labels after |
 * |---|---|
 * | new password stored before the reset | AWSPENDING and a free unconfirmed slot on it, in the one write that stores it (both moved off any older version) |
 * | new password stored, every slot taken, verification off, restart policy soft/hard | it takes an extra slot (N + 1 held until its reboot) |
 * | reset accepted | AWSCURRENT moves to it (compare-and-swap), AWSPREVIOUS to the version AWSCURRENT left; it keeps AWSPENDING and its slot (AWSPENDING on AWSCURRENT's version is settled, not pending) |
 * | reboot job succeeded after such a slide (verification off) | candidates older than the newest N leave their slots (they are older than the last N) |
 * | every slot taken, verification on or restart policy none, or N + 1 held (at plan time) | no new password: `confirm` (resend AWSCURRENT + reboot + verify or trim) with soft/hard, else `awaiting-restart` |
 * | reset definitely rejected, password first sent by this execution | AWSPENDING dropped, then its slot (never set) |
 * | reset rejected on a resend of an inherited pending password (any code, `Ecs.0011` included) | AWSPENDING and its slot kept: the earlier, unanswered call may have been accepted |
 * | reset outcome unknown / vault failed after the reset | AWSPENDING and its slot kept; the next run resends the same password |
 * | reboot job succeeded | ROTATOR_RESTARTED on the version (replay marker only); no other label moves (a reboot is not proof), except the trim above |
 * | password W verified to log in (login probe `works`) | ROTATOR_ACTIVE moves to W; unconfirmed slots of W and of every version created strictly before W are removed; newer candidates keep theirs (one of them may be staged for the next restart) |
 * | expected password refused, none of the labelled ones works | nothing moves (alert: `NO_LABELLED_PASSWORD_LOGS_IN`) |
 * | verification unreachable / unverifiable | nothing moves |
 *
 * Reading AWSPENDING: on a version that does not hold AWSCURRENT it marks a reset whose outcome is
 * not settled (*unsettled*: resend it, never a different password); on AWSCURRENT's own version it
 * is what an accepted rotation leaves behind (*settled*), and the next new password takes it over.
 * The slot an unsettled version holds is not proof of acceptance: it is reserved before the reset
 * because the password may be in effect as soon as the reset call is sent. So an unsettled version
 * counts as a candidate for admission (its slot is taken) but not as accepted (`isFirstRotation`),
 * and verification does not try it (its fate is decided by the resend).

 * Why dropping slots older than a verified W is safe: W logs in now, so W was applied by a reset
 * and activated by a later restart. A candidate accepted before W that had been applied was staged
 * before W was, and W's own reset replaced it as the staged password: it can neither be in effect now
 * nor after the next restart. Versions created at the same instant as W are kept (no order known).
 *
 * AWSCURRENT is only moved by `promote`; the rotation never removes it. The password in effect before
 * the first managed rotation was never known to the vault: nothing keeps it.
 *
 * Also:
 * - AWSCURRENT only ever names a password Huawei accepted, from a secret's first rotation on: a
 *   first reset that is rejected, unanswered or never sent leaves no version holding AWSCURRENT (the
 *   port's `describe` shows none). On AWS this needs care, because AWS attaches AWSCURRENT to a
 *   secret's first version by itself ("If this operation creates the first version for the secret,
 *   then Secrets Manager automatically attaches the staging label AWSCURRENT to it."): the AWS adapter
 *   creates every secret with a version that holds no password ("no password known yet"), which
 *   takes AWSCURRENT and which the port does not show; the first `promote` moves AWSCURRENT off it.
 * - A server's first rotation is one where no version outside the batch holds a label of an
 *   accepted password (AWSCURRENT, ROTATOR_ACTIVE, an unconfirmed slot on a version that is not
 *   unsettled pending): a version still pending from an earlier, unanswered first attempt does not
 *   make it a later one, although it holds a slot, since the password from before rotator may still
 *   be the one in effect (`isFirstRotation`).
 */
import type { SecretDescription, SecretVersionInfo } from '../ports/vault.js';
import { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING, LABEL_PREVIOUS } from '../ports/vault.js';

/** Default number of unverified candidates kept labelled (the target's `keepCandidates`). */
export const DEFAULT_KEEP_CANDIDATES = 3;
/** Most candidates a target may keep (`keepCandidates` is 3 to this). */
export const MAX_KEEP_CANDIDATES = 10;

/** Marks the version after whose acceptance a reboot job succeeded: lets a replay skip a second reboot. Not proof of anything. */
export const LABEL_RESTARTED = 'ROTATOR_RESTARTED';

/**
 * Every slot label that may exist: N + 1 are used while a slide waits for its reboot, and a target
 * may have lowered `keepCandidates` (slots above it still count as candidates).
 */
export const UNCONFIRMED_LABELS: readonly string[] = Array.from({ length: MAX_KEEP_CANDIDATES + 1 }, (_, i) => `ROTATOR_UNCONFIRMED_${i + 1}`);

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

/** The first free slot label among the first `keep`, or undefined when they are all taken. */
export function freeUnconfirmedSlot(description: SecretDescription | undefined, keep: number = DEFAULT_KEEP_CANDIDATES): string | undefined {
  const used = usedUnconfirmedSlots(description);
  if (used.length >= keep) return undefined;
  const taken = new Set(used.map((s) => s.label));
  return UNCONFIRMED_LABELS.find((l) => !taken.has(l));
}

export function holdsUnconfirmedSlot(version: SecretVersionInfo | undefined): boolean {
  return version?.labels.some(isUnconfirmedLabel) ?? false;
}

export interface CandidatePolicy {
  /** The target's `keepCandidates`. */
  keep: number;
  /** Whether the target verifies by login (`verify.method` ssh). */
  verification: boolean;
  restartPolicy: 'none' | 'soft' | 'hard';
}

/**
 * Plan time: may this server receive a new password now?
 * - `slot`: a slot is free;
 * - `slide`: all N taken, verification off, the server is rebooted after the reset: the new one takes
 *   an extra slot, and once its reboot succeeded the candidates older than the newest N leave theirs
 *   (`candidatesBeyondWindow`); never before the reboot, when an older one may still be the one in effect;
 * - `confirm`: all taken and the server is rebooted, but either verification is on (only a login frees
 *   slots) or an earlier slide's reboot did not finish (more than N held): resend AWSCURRENT, reboot,
 *   then verify or trim;
 * - `awaiting-restart`: all taken with restart policy none.
 */
export function admission(description: SecretDescription | undefined, policy: CandidatePolicy): 'slot' | 'slide' | 'confirm' | 'awaiting-restart' {
  if (freeUnconfirmedSlot(description, policy.keep) !== undefined) return 'slot';
  if (policy.restartPolicy === 'none') return 'awaiting-restart';
  if (policy.verification) return 'confirm';
  return usedUnconfirmedSlots(description).length === policy.keep ? 'slide' : 'confirm';
}

/**
 * The slot a version takes when its password is stored (or, stored without one by an older release,
 * when accepted): its own, a free one among the first N, or (sliding) an extra one; undefined when
 * none is allowed.
 */
export function slotForAccepted(description: SecretDescription | undefined, versionId: string, policy: CandidatePolicy): string | undefined {
  const own = versionById(description, versionId)?.labels.find(isUnconfirmedLabel);
  if (own !== undefined) return own;
  const free = freeUnconfirmedSlot(description, policy.keep);
  if (free !== undefined) return free;
  if (admission(description, policy) !== 'slide') return undefined;
  return freeUnconfirmedSlot(description, MAX_KEEP_CANDIDATES + 1);
}

/**
 * Verification off, after a successful reboot that made `expected` the password expected in effect:
 * the candidates older than the newest `keep` (counting `expected`) leave their slots. `expected` is
 * never among them.
 */
export function candidatesBeyondWindow(description: SecretDescription | undefined, keep: number, expected: string): { label: string; versionId: string }[] {
  const used = usedUnconfirmedSlots(description).sort((a, b) => b.version.createdAt - a.version.createdAt);
  const others = used.filter((s) => s.version.versionId !== expected);
  const room = Math.max(0, keep - (used.length - others.length));
  return others.slice(room).map((s) => ({ label: s.label, versionId: s.version.versionId }));
}

/** Label changes once `versionId` is verified to log in now (the table's "verified" row). */
export function labelsAfterVerified(
  description: SecretDescription | undefined,
  versionId: string,
): { moveActive: boolean; removeSlots: { label: string; versionId: string }[] } {
  const verified = versionById(description, versionId);
  const moveActive = !(verified?.labels.includes(LABEL_ACTIVE) ?? false);
  if (verified === undefined) return { moveActive, removeSlots: [] };
  const removeSlots = usedUnconfirmedSlots(description)
    .filter((s) => s.version.versionId === versionId || s.version.createdAt < verified.createdAt)
    .map((s) => ({ label: s.label, versionId: s.version.versionId }));
  return { moveActive, removeSlots };
}

/** Labels whose versions may log in (now or after a restart): the ones verification tries. */
export const LOGIN_CANDIDATE_LABELS: readonly string[] = [LABEL_ACTIVE, LABEL_CURRENT, LABEL_PREVIOUS, ...UNCONFIRMED_LABELS];

/**
 * The versions to try, in order: `expected` first (if labelled), then newest first. An unsettled
 * pending version is not tried, although it holds a slot: its outcome is unknown and it is kept and
 * resent anyway (unless ROTATOR_ACTIVE or AWSPREVIOUS says more).
 */
export function verificationOrder(description: SecretDescription | undefined, expected: string | undefined): SecretVersionInfo[] {
  const versions = (description?.versions ?? []).filter((v) =>
    v.labels.some((l) => (isUnsettledPending(v) ? l === LABEL_ACTIVE || l === LABEL_PREVIOUS : LOGIN_CANDIDATE_LABELS.includes(l))),
  );
  versions.sort((a, b) => b.createdAt - a.createdAt);
  const first = versions.findIndex((v) => v.versionId === expected);
  if (first > 0) versions.unshift(...versions.splice(first, 1));
  return versions;
}

export { LABEL_ACTIVE, LABEL_CURRENT, LABEL_PENDING, LABEL_PREVIOUS };
/**
 * Whether `version` is stored for a reset whose outcome is not settled: AWSPENDING on a version that
 * does not hold AWSCURRENT (on AWSCURRENT's version, AWSPENDING is what an accepted rotation leaves).
 */
export function isUnsettledPending(version: SecretVersionInfo | undefined): boolean {
  return version !== undefined && version.labels.includes(LABEL_PENDING) && !version.labels.includes(LABEL_CURRENT);
}

/** The version whose reset outcome is not settled (the one to resend), if any. */
export function unsettledPendingVersion(description: SecretDescription | undefined): SecretVersionInfo | undefined {
  const pending = versionWithLabel(description, LABEL_PENDING);
  return isUnsettledPending(pending) ? pending : undefined;
}

/**
 * Whether `version` holds a label that only an accepted password gets (AWSCURRENT, ROTATOR_ACTIVE, an
 * unconfirmed slot). The slot of an unsettled pending version does not count: it was taken before the
 * reset, whose answer is unknown.
 */
function holdsAcceptedLabel(version: SecretVersionInfo): boolean {
  if (version.labels.some((l) => l === LABEL_CURRENT || l === LABEL_ACTIVE)) return true;
  return !isUnsettledPending(version) && version.labels.some(isUnconfirmedLabel);
}

/**
 * No password outside `ownVersionIds` (the versions of the batch asking) was ever accepted for this
 * server: the password from before rotator managed it may still log in, and the vault never held it.
 */
export function isFirstRotation(description: SecretDescription | undefined, ownVersionIds: ReadonlySet<string>): boolean {
  return !(description?.versions.some((v) => !ownVersionIds.has(v.versionId) && holdsAcceptedLabel(v)) ?? false);
}

/**
 * `description` as it is after a write that left `versionId` holding exactly `labels` (each moved off
 * any other version; the version added, created `createdAt`, if the description did not list it):
 * what a step knows from a write's answer without reading the secret again.
 */
export function withVersionLabels(description: SecretDescription, versionId: string, labels: readonly string[], createdAt: number): SecretDescription {
  const versions = description.versions.map((v) =>
    v.versionId === versionId ? { ...v, labels: [...labels] } : { ...v, labels: v.labels.filter((l) => !labels.includes(l)) },
  );
  if (!versions.some((v) => v.versionId === versionId)) versions.push({ versionId, labels: [...labels], createdAt });
  return { ...description, versions: versions.filter((v) => v.labels.length > 0) };
}

/** `description` after a successful `promote` of `versionId`: AWSCURRENT on it, AWSPREVIOUS on the version AWSCURRENT left (if any). */
export function afterPromotion(description: SecretDescription, versionId: string): SecretDescription {
  const left = versionWithLabel(description, LABEL_CURRENT)?.versionId;
  if (left === versionId) return description;
  const versions = description.versions.map((v) => {
    let labels = v.labels.filter((l) => l !== LABEL_CURRENT && (left === undefined || l !== LABEL_PREVIOUS));
    if (v.versionId === versionId) labels = [...labels, LABEL_CURRENT];
    if (v.versionId === left) labels = [...labels, LABEL_PREVIOUS];
    return { ...v, labels };
  });
  return { ...description, versions: versions.filter((v) => v.labels.length > 0) };
}

/*
 * What these rules cost in vault writes (AWS: 50 writes/s per account, shared by every writer), per
 * server and accepted rotation with restart policy `none`, counted by test/e2e/rotation-call-counts.test.ts:
 *   1. PutSecretValue with VersionStages [AWSPENDING, ROTATOR_UNCONFIRMED_k]: the password must be
 *      stored before the reset (invariant 1), and once AWSCURRENT moves on again only its slot keeps a
 *      password that may be in effect after an out-of-band restart; AWS moves both labels in this one
 *      call ("If you specify a staging label that's already associated with a different version of
 *      the same secret, then Secrets Manager removes the label from the other version and attaches it
 *      to this version", API_PutSecretValue). The slot is one that was free in the plan's read under
 *      the server's lock: only a rotation holding that lock ever attaches a slot (verification only
 *      removes them), so this unconditional move never takes a slot off another candidate.
 *   2. the AWSCURRENT compare-and-swap (promote: UpdateSecretVersionStage with RemoveFromVersionId).
 * AWSPENDING is not removed: on AWSCURRENT's version it reads as settled (above), and the next
 * PutSecretValue moves it anyway. CreateSecret once per server, on its first rotation only.
 * Costs outside the common case, each for a reason above: a definite rejection drops AWSPENDING and
 * the slot (2 writes; the pending label first, so that a crash in between leaves a spare slot, never
 * a rejected password to resend forever); `confirm` moves AWSPENDING onto the AWSCURRENT version it
 * resends when it is not there; a restart policy soft/hard adds ROTATOR_RESTARTED, ROTATOR_ACTIVE and
 * the slot removals a login or a trim allows; a version stored by an older release without a slot
 * takes one when accepted.
 */
