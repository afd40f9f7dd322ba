/**
 * The run's `dry_run` preflight: one call for up to 1000 servers (Huawei's maximum per call) when
 * the run is planned, instead of one per batch.
 *
 * A target with batches of 100 made two reset-API calls per batch (the `dry_run` and the reset), so
 * a 20,000-server run spent 400 of Huawei's ~200 requests/s per API: half of them on preflights that
 * change nothing. Asked by the planner for ten such batches at once, the preflights are 20 calls and
 * the run about 220. The batch's own preflight (steps/plan.ts) stays for what the planner did not
 * check: batches of more than 500 (nothing to share), a failed or missing run preflight, and a
 * verdict grown stale while the batch waited in the queue.
 *
 * A verdict may be minutes old when the batch uses it, as the listing may: the reset itself still
 * has the last word. A server refused here and fixed since is rotated by the next run; a server that
 * passed here and is refused by the reset ends `failed` with Huawei's code, its pending password
 * dropped. Neither writes a password anywhere it should not be.
 */
import type { Clock } from '../ports/clock.js';
import type { EcsApi, ServerResetResult } from '../ports/ecs-api.js';
import { EcsClientErrorCode } from '../domain/error-codes.js';

/** Huawei's definite refusal of one server in a `dry_run`. */
export interface PreflightRefusal {
  code: string;
  message: string;
}

/** What one `dry_run` call said of the servers it checked. */
export interface RunPreflight {
  /** When the answer came, in milliseconds since the epoch (the planning process's clock). */
  checkedAt: number;
  /** `X-Request-Id` of the dry-run call, recorded with the refusals it caused. */
  requestId: string | undefined;
  /** The servers it refused; every other server it checked passed, or is in `unsure`. */
  refused: ReadonlyMap<string, PreflightRefusal>;
  /**
   * The servers an answered call did not list (Huawei's "200-subset" form of a partial failure
   * lists only the servers that passed, see {@link isSilentAbout}): the batch reads their reset
   * plug-in flag, which nothing else checks when a preflight runs. Absent (earlier releases): none.
   */
  unsure?: ReadonlySet<string> | undefined;
}

/**
 * A run preflight older than this when its batch starts is not used: the batch asks again. Huawei's
 * answer is about state that changes (locks, status, the plug-in), and a batch can wait in the queue
 * behind a large run for minutes.
 */
export const RUN_PREFLIGHT_MAX_AGE_MS = 5 * 60_000;

/** Whether a batch starting at `now` may use `preflight` (clocks of two hosts may differ a little either way). */
export function isFreshPreflight(preflight: Pick<RunPreflight, 'checkedAt'>, now: number): boolean {
  const age = now - preflight.checkedAt;
  return age <= RUN_PREFLIGHT_MAX_AGE_MS && age >= -RUN_PREFLIGHT_MAX_AGE_MS;
}

/**
 * Batches of one run that share a preflight call: as many whole batches as fit in one call, or 1
 * (no sharing) when two do not fit, and the batches then keep their own preflights.
 */
export function batchesPerPreflight(batchSize: number, maxPerCall: number): number {
  return Math.max(1, Math.floor(maxPerCall / batchSize));
}

/** One `dry_run` call for `serverIds` (1 to 1000). Throws what the ECS client throws. */
export async function runPreflight(ecs: Pick<EcsApi, 'batchResetPasswords'>, clock: Clock, serverIds: readonly string[], signal: AbortSignal | undefined): Promise<RunPreflight> {
  const result = await ecs.batchResetPasswords({ password: undefined, serverIds, dryRun: true }, { signal });
  const refused = new Map<string, PreflightRefusal>();
  const unsure = new Set<string>();
  for (const r of result.results) {
    if (r.kind === 'rejected') refused.set(r.serverId, { code: r.code, message: r.message });
    else if (isSilentAbout(r)) unsure.add(r.serverId);
  }
  return { checkedAt: clock.now(), requestId: result.requestId, refused, unsure };
}

/**
 * Whether a dry-run result is Huawei's silence about the server in an answered call (a 200 that
 * does not list it: in the "200-subset" form of a partial failure, a refusal). Not a failed call
 * or a 400 partial failure, whose unlisted servers passed the check (or the reset decides).
 */
export function isSilentAbout(result: ServerResetResult): boolean {
  return result.kind === 'unknown' && result.code === EcsClientErrorCode.notInResponse;
}
