/**
 * Deterministic BullMQ job ids. BullMQ ignores `add` of an id that still exists, which is what lets
 * any number of scheduler replicas enqueue one run per slot, and a replayed fan-out add each batch
 * once. Separators are `|` and `-` only: BullMQ rejects most ids containing `:` and all-digit ids.
 */

/** Target names are `[a-z0-9-]` (config); checked again here because an id is built from them. */
const TARGET_NAME = /^[a-z0-9][a-z0-9-]*$/;

function checkTargetName(target: string): void {
  if (!TARGET_NAME.test(target)) {
    throw new Error(`target name: expected [a-z0-9-] starting with a letter or digit, found ${JSON.stringify(target)}`);
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * The schedule slot of a tick: its scheduled minute in UTC, e.g. `20261127T1200Z`. Seconds are
 * dropped, so a cron expression with a seconds field that fires several times a minute maps to one
 * slot (one run per minute at most, by design).
 */
export function slotOf(scheduledAt: Date | number): string {
  const d = new Date(scheduledAt);
  if (Number.isNaN(d.getTime())) throw new Error('slot: expected a valid date');
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}Z`
  );
}

const SLOT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/;

/** The instant a slot names (milliseconds since the epoch), or undefined if it is not a slot. */
export function slotTime(slot: string): number | undefined {
  const m = SLOT.exec(slot);
  if (!m) return undefined;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi);
  return slotOf(t) === slot ? t : undefined;
}

/** `run|<target>|<slot>`: the id of a scheduled run. */
export function scheduledRunId(target: string, slot: string): string {
  checkTargetName(target);
  if (slotTime(slot) === undefined) throw new Error(`slot: expected yyyymmddThhmmZ, found ${JSON.stringify(slot)}`);
  return `run|${target}|${slot}`;
}

/** `run|<target>|manual-<uuid>`: the id of a run an operator asked for. */
export function manualRunId(target: string, uuid: string): string {
  checkTargetName(target);
  if (!/^[0-9a-f-]{8,64}$/i.test(uuid)) throw new Error('manual run id: expected a uuid');
  return `run|${target}|manual-${uuid}`;
}

/**
 * `<runId>|b<index>`: the id of one batch of a run, also the owner of the batch's server locks
 * (deterministic, so a re-run after a crash takes its own locks back). The only formatter of this
 * id; {@link parseBatchJobId} is its only parser.
 */
export function batchJobId(runId: string, batchIndex: number): string {
  if (!Number.isInteger(batchIndex) || batchIndex < 0) throw new Error('batchIndex: expected an integer ≥ 0');
  return `${runId}|b${batchIndex}`;
}

const BATCH_ID = /^(run\|.+)\|b(\d+)$/;

/** The run id and batch index a batch job id names, or undefined if it is not a batch id. */
export function parseBatchJobId(batchId: string): { runId: string; batchIndex: number } | undefined {
  const m = BATCH_ID.exec(batchId);
  if (!m) return undefined;
  return { runId: m[1] as string, batchIndex: Number(m[2]) };
}

const RUN_ID = /^run\|([a-z0-9][a-z0-9-]*)\|[^|]+$/;

/** The target a run id names (`run|<target>|…`), or undefined if it is not a run id. */
export function targetOfRunId(runId: string): string | undefined {
  return RUN_ID.exec(runId)?.[1];
}

/** The run id a batch job id belongs to, or undefined if it is not a batch id. */
export function runIdOfBatch(batchId: string): string | undefined {
  return parseBatchJobId(batchId)?.runId;
}
