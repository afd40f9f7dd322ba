/**
 * The sentences that some outcomes always state, built here so that the rotation that says them and
 * the outcome store that keeps them agree on every word.
 *
 * Why the store cares: a server's state in Redis is a small hash, which Redis keeps compact (a
 * listpack) only while every value is at most 64 bytes (`hash-max-listpack-value`). One longer
 * reason turned a state of about 344 bytes into about 800, for good (Redis never converts back).
 * Servers awaiting a restart, without the reset plug-in or in a dry run say the same long sentence
 * each, so the store keeps such a sentence by a short key ({@link storedReason}) and gives it back
 * in full on reading ({@link reasonFromStored}). Every other reason is kept as it came.
 */
import { HuaweiCode } from './error-codes.js';

/** `skipped no-reset-plugin`, from the listing's `resetpwd_flag`. */
export const NO_RESET_PLUGIN_REASON = 'one-click password reset plug-in not installed (resetpwd_flag False)';

/** `skipped dry-run`: what a dry run concluded for a server it would have rotated. */
export const DRY_RUN_REASON = 'dry run: eligible and not refused by the preflight; nothing was written or reset';

/** Who answered a dry run that refused a server for its plug-in. */
export type PreflightSource = "run's dry-run preflight" | 'dry-run preflight';
const PREFLIGHT_SOURCES: readonly PreflightSource[] = ["run's dry-run preflight", 'dry-run preflight'];

/** Huawei's per-server codes for "the one-click reset plug-in is missing or unusable" (huawei-ecs-api.md). */
export const NO_PLUGIN_CODES: readonly string[] = [HuaweiCode.pluginCheckFailed, HuaweiCode.pluginMissing];

/** `skipped no-reset-plugin`, from a dry run's per-server answer (`code` one of {@link NO_PLUGIN_CODES}). */
export function noResetPluginAnsweredReason(by: PreflightSource, code: string): string {
  return `one-click password reset plug-in not installed or unusable (the ${by} answered ${code})`;
}

/**
 * `skipped awaiting-restart`: every one of the `keep` candidate slots holds an accepted password
 * that nothing has confirmed yet, so a new one would have to push out a password that may be in
 * effect (invariant 1).
 */
export function awaitingRestartReason(keep: number, verification: boolean): string {
  return !verification
    ? `${keep} accepted passwords are still unconfirmed (the server has not been restarted since): restart it, or rotate it once ` +
        'with restart policy soft or hard (`rotator rotate <target> --restart soft`), before rotating it again'
    : `${keep} accepted passwords are still unverified and no login proved any of them: check that the server answers SSH ` +
        '(`rotator verify <target> --servers <id>`), or restart it, before rotating it again';
}

/** Candidate counts the catalogue covers: `keepCandidates` is 3 to 10; a wider range costs nothing. */
const KEEP_RANGE = { min: 1, max: 32 };

/** Every standard sentence by its key, and the reverse. Keys are short and never change meaning. */
const BY_KEY = new Map<string, string>();
const KEY_OF = new Map<string, string>();
function add(key: string, sentence: string): void {
  BY_KEY.set(key, sentence);
  KEY_OF.set(sentence, key);
}
add('np', NO_RESET_PLUGIN_REASON);
add('dry', DRY_RUN_REASON);
PREFLIGHT_SOURCES.forEach((by, i) => {
  for (const code of NO_PLUGIN_CODES) add(`np/${i}/${code}`, noResetPluginAnsweredReason(by, code));
});
for (let keep = KEEP_RANGE.min; keep <= KEEP_RANGE.max; keep++) {
  add(`ar/${keep}`, awaitingRestartReason(keep, false));
  add(`arv/${keep}`, awaitingRestartReason(keep, true));
}

/** Marks a stored key; a reason that itself starts with it is stored with one more in front. */
const MARK = '@';

/** The form a reason is stored in: `@<key>` for a standard sentence, else the reason itself. */
export function storedReason(reason: string): string {
  const key = KEY_OF.get(reason);
  if (key !== undefined) return `${MARK}${key}`;
  return reason.startsWith(MARK) ? `${MARK}${reason}` : reason;
}

/**
 * The reason a stored form stands for. A key this release does not know (written by a newer one) is
 * given back as it is stored: a short code-like text is better than nothing.
 */
export function reasonFromStored(stored: string): string {
  if (!stored.startsWith(MARK)) return stored;
  if (stored.startsWith(MARK, 1)) return stored.slice(1);
  return BY_KEY.get(stored.slice(1)) ?? stored;
}
