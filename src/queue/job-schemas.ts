/**
 * What a job carries. Ids only (target name, server ids, run id): never a password, nor anything a
 * password could be derived from — job data, return values and progress all live in Redis and on
 * the dashboard (invariant 2). Payloads are validated when a job STARTS, because Redis may hold jobs
 * written by an older or newer release, or by hand.
 */
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { MAX_SERVERS_PER_CALL } from '../domain/batch-limits.js';
import { OUTCOME_KINDS } from '../domain/outcome.js';
import type { EcsServer } from '../domain/server.js';
import type { PreflightRefusal, RunPreflight } from '../rotation/run-preflight.js';
import { RANGES_PATTERN } from './position-ranges.js';

/** A manual run may override the target's restart policy (e.g. reboot in a maintenance window). */
const restartPolicy = z.enum(['none', 'soft', 'hard']).optional();
const targetName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a target name of [a-z0-9-]');
/** ECS server ids are UUIDs; accept any short id-like token so the simulator's ids pass too. */
const serverId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'a server id of [A-Za-z0-9_-]');

export const RunJobPayloadSchema = z.strictObject({
  target: targetName,
  trigger: z.enum(['schedule', 'manual']),
  /** The schedule slot (`20261127T1200Z`) for scheduled runs. */
  slot: z
    .string()
    .regex(/^\d{8}T\d{4}Z$/, 'a slot like 20261127T1200Z')
    .optional(),
  /** Manual runs may name servers; they must still belong to the target (the planner checks). */
  serverIds: z.array(serverId).min(1).max(100_000).optional(),
  dryRun: z.boolean(),
  restartPolicy,
});
export type RunJobPayload = z.infer<typeof RunJobPayloadSchema>;

/**
 * The run job's data once it has fanned out: the payload plus a marker, written after the
 * children are added, so that a replay (stalled-job recovery) does not plan twice.
 */
export const RunJobDataSchema = RunJobPayloadSchema.extend({
  fanOut: z
    .strictObject({
      batches: z.number().int().min(0),
      /** Undefined when recovered after a crash between adding children and writing this marker. */
      servers: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type RunJobData = z.infer<typeof RunJobDataSchema>;

/**
 * What the run's listing said of a server, so that the batch needs no GET per server:
 * `[name, osType ('' when Huawei gave none), status, locked, fixed addresses, floating addresses]`,
 * in a batch job's `listing`, at the server's position in `serverIds` (a tuple without the id: a
 * batch job holds up to 1000 of them in Redis, kept with the job). The addresses are what
 * verification by login connects to. Not secret: what `GET /servers/detail` shows anyone with read
 * access.
 */
const ipv4List = z.array(z.string().max(45)).max(32);
const listedCore = [z.string().max(255), z.enum(['Linux', 'Windows', '']), z.string().min(1).max(64), z.boolean()] as const;
const ListedDetailsSchema = z.tuple([...listedCore, ipv4List, ipv4List]);
export type ListedDetails = z.infer<typeof ListedDetailsSchema>;
/**
 * The previous releases' form, in `servers`: the same with the id first, for some of `serverIds`
 * (a 5-tuple without addresses from the release before). Still read.
 */
const ListedServerSchema = z.union([z.tuple([serverId, ...listedCore, ipv4List, ipv4List]), z.tuple([serverId, ...listedCore])]);

export function listedDetailsOf(server: EcsServer): ListedDetails {
  return [server.name, server.osType ?? '', server.status, server.locked, server.addresses?.fixed ?? [], server.addresses?.floating ?? []];
}

/** Back to the domain's server (tags and enterprise project are not carried: the batch does not use them). */
function serverOfListing(id: string, [name, osType, status, locked, fixed, floating]: readonly [string, 'Linux' | 'Windows' | '', string, boolean, string[]?, string[]?]): EcsServer {
  return {
    id,
    name,
    osType: osType === '' ? undefined : osType,
    status,
    locked,
    tags: {},
    enterpriseProjectId: undefined,
    ...(fixed === undefined ? {} : { addresses: { fixed, floating: floating ?? [] } }),
  };
}

/**
 * The run's `dry_run` preflight of a batch's servers (src/rotation/run-preflight.ts): when Huawei
 * answered (ms since the epoch), the call's request id, and the servers it refused as
 * `[position in serverIds, Huawei's code, Huawei's message]`, and the positions of the servers it
 * gave no definite answer about (`unsure`). Every other server passed.
 */
const PreflightSchema = z.strictObject({
  at: z.number().int().min(0),
  requestId: z.string().max(256).optional(),
  refused: z.array(z.tuple([z.number().int().min(0).max(MAX_SERVERS_PER_CALL - 1), z.string().min(1).max(64), z.string().max(1024)])).max(MAX_SERVERS_PER_CALL),
  unsure: z.array(z.number().int().min(0).max(MAX_SERVERS_PER_CALL - 1)).max(MAX_SERVERS_PER_CALL).optional(),
});
export type BatchPreflight = z.infer<typeof PreflightSchema>;

export const BatchJobDataSchema = z
  .strictObject({
    runId: z.string().regex(/^run\|[a-z0-9-]+\|[A-Za-z0-9-]+$/, 'a run id like run|<target>|<slot>'),
    target: targetName,
    batchIndex: z.number().int().min(0),
    serverIds: z.array(serverId).min(1).max(MAX_SERVERS_PER_CALL),
    /** Listing details of `serverIds`, position by position (`null`: not described by the listing). */
    listing: z.array(ListedDetailsSchema.nullable()).max(MAX_SERVERS_PER_CALL).optional(),
    /** Listing details of some of `serverIds`, with their ids (jobs of the previous releases). */
    servers: z.array(ListedServerSchema).max(MAX_SERVERS_PER_CALL).optional(),
    /** The run's `dry_run` preflight of `serverIds`, when the planner made one for several batches at once. */
    preflight: PreflightSchema.optional(),
    dryRun: z.boolean(),
    restartPolicy,
  })
  .refine((d) => d.listing === undefined || d.listing.length === d.serverIds.length, {
    path: ['listing'],
    message: 'one entry (or null) per server id',
  })
  .refine((d) => d.preflight === undefined || d.preflight.refused.every(([position]) => position < d.serverIds.length), {
    path: ['preflight', 'refused'],
    message: 'positions within serverIds',
  })
  .refine((d) => d.preflight?.unsure === undefined || d.preflight.unsure.every((position) => position < d.serverIds.length), {
    path: ['preflight', 'unsure'],
    message: 'positions within serverIds',
  });
export type BatchJobData = z.infer<typeof BatchJobDataSchema>;

const counts = z.record(z.enum(OUTCOME_KINDS), z.number().int().min(0));

const outcomeFields = {
  outcome: z.enum(OUTCOME_KINDS),
  code: z.string().optional(),
  reason: z.string().optional(),
  requestId: z.string().optional(),
  versionId: z.string().optional(),
};

/** A batch's return value as stored by BullMQ (`BatchResult` of run-summary.ts; `accepted` and `grouped` absent in earlier releases'). */
export const BatchResultSchema = z.object({
  runId: z.string(),
  batchIndex: z.number().int(),
  outcomes: z.array(z.object({ serverId: z.string(), ...outcomeFields })),
  grouped: z.array(z.object({ ...outcomeFields, serverIds: z.array(z.string()).min(1) })).optional(),
  accepted: z.array(z.object({ ...outcomeFields, servers: z.string().max(100_000).regex(RANGES_PATTERN, 'positions like 0-997,999') })).optional(),
  counts: counts.optional(),
});

/** Renders zod issues as `field: expected …` lines, naming the field of every problem. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : '(payload)';
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

const RUN_ID = /^run\|[a-z0-9-]+\|[A-Za-z0-9-]+$/;
const TARGET_NAME = /^[a-z0-9][a-z0-9-]*$/;
const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const BATCH_JOB_KEYS: ReadonlySet<string> = new Set(['runId', 'target', 'batchIndex', 'serverIds', 'listing', 'servers', 'preflight', 'dryRun', 'restartPolicy']);
const PREFLIGHT_KEYS: ReadonlySet<string> = new Set(['at', 'requestId', 'refused', 'unsure']);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIpv4List = (v: unknown): boolean => Array.isArray(v) && v.length <= 32 && v.every((a) => typeof a === 'string' && a.length <= 45);

/**
 * {@link BatchJobDataSchema} without zod for the jobs this release writes (`listing`, no `servers`):
 * true only for data the schema accepts as it is. Every batch job is parsed when it starts, and a
 * job of 1000 servers with their listing is thousands of values; anything else goes through zod,
 * which names each field.
 */
function quickBatchJobData(data: unknown): boolean {
  if (!isRecord(data)) return false;
  for (const key in data) if (!BATCH_JOB_KEYS.has(key)) return false;
  const { runId, target, batchIndex, serverIds, listing, servers, preflight, dryRun, restartPolicy } = data;
  if (typeof runId !== 'string' || !RUN_ID.test(runId) || typeof target !== 'string' || !TARGET_NAME.test(target)) return false;
  if (typeof batchIndex !== 'number' || !Number.isSafeInteger(batchIndex) || batchIndex < 0 || typeof dryRun !== 'boolean') return false;
  if (restartPolicy !== undefined && restartPolicy !== 'none' && restartPolicy !== 'soft' && restartPolicy !== 'hard') return false;
  if (servers !== undefined) return false; // a job of an earlier release: zod reads it
  if (!Array.isArray(serverIds) || serverIds.length < 1 || serverIds.length > MAX_SERVERS_PER_CALL) return false;
  for (const id of serverIds) if (typeof id !== 'string' || !SERVER_ID.test(id)) return false;
  if (preflight !== undefined && !quickPreflight(preflight, serverIds.length)) return false;
  if (listing === undefined) return true;
  if (!Array.isArray(listing) || listing.length !== serverIds.length) return false;
  for (const entry of listing) {
    if (entry === null) continue;
    if (!Array.isArray(entry) || entry.length !== 6) return false;
    const [name, osType, status, locked, fixed, floating] = entry as unknown[];
    if (typeof name !== 'string' || name.length > 255 || (osType !== 'Linux' && osType !== 'Windows' && osType !== '')) return false;
    if (typeof status !== 'string' || status.length < 1 || status.length > 64 || typeof locked !== 'boolean') return false;
    if (!isIpv4List(fixed) || !isIpv4List(floating)) return false;
  }
  return true;
}

function quickPreflight(preflight: unknown, servers: number): boolean {
  if (!isRecord(preflight)) return false;
  for (const key in preflight) if (!PREFLIGHT_KEYS.has(key)) return false;
  const { at, requestId, refused, unsure } = preflight;
  if (unsure !== undefined) {
    if (!Array.isArray(unsure) || unsure.length > MAX_SERVERS_PER_CALL) return false;
    for (const position of unsure as unknown[]) if (typeof position !== 'number' || !Number.isInteger(position) || position < 0 || position >= servers) return false;
  }
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return false;
  if (requestId !== undefined && (typeof requestId !== 'string' || requestId.length > 256)) return false;
  if (!Array.isArray(refused) || refused.length > MAX_SERVERS_PER_CALL) return false;
  for (const entry of refused) {
    if (!Array.isArray(entry) || entry.length !== 3) return false;
    const [position, code, message] = entry as unknown[];
    if (typeof position !== 'number' || !Number.isInteger(position) || position < 0 || position >= servers) return false;
    if (typeof code !== 'string' || code.length < 1 || code.length > 64 || typeof message !== 'string' || message.length > 1024) return false;
  }
  return true;
}

/** Quick exact checks of the schemas parsed for every job (see {@link quickBatchJobData}). */
const QUICK_CHECKS = new Map<z.ZodType, (data: unknown) => boolean>([[BatchJobDataSchema, quickBatchJobData]]);

/**
 * Parses job data; a bad payload can never succeed on retry, so it fails the job once with
 * `UnrecoverableError` whose message names each field. The message repeats field names and zod's
 * expectation only, never the received values (they are ids, but a hand-written job could hold anything).
 */
export function parseJobData<S extends z.ZodType>(schema: S, data: unknown, what: string): z.infer<S> {
  if (QUICK_CHECKS.get(schema)?.(data) === true) return data as z.infer<S>;
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new UnrecoverableError(`invalid ${what} payload: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** The servers a batch job's listing describes, whichever release wrote the job (undefined: none). */
export function listedServersOf(data: Pick<BatchJobData, 'serverIds' | 'listing' | 'servers'>): EcsServer[] | undefined {
  if (data.listing !== undefined) {
    return data.serverIds.flatMap((id, i) => {
      const details = data.listing?.[i];
      return details === null || details === undefined ? [] : [serverOfListing(id, details)];
    });
  }
  return data.servers?.map(([id, ...details]) => serverOfListing(id, details));
}

/** The run's preflight a batch job carries, as the use case takes it (undefined: none). */
export function preflightOf(data: Pick<BatchJobData, 'serverIds' | 'preflight'>): RunPreflight | undefined {
  if (data.preflight === undefined) return undefined;
  const refused = new Map<string, PreflightRefusal>();
  for (const [position, code, message] of data.preflight.refused) {
    const id = data.serverIds[position];
    if (id !== undefined) refused.set(id, { code, message });
  }
  if (data.preflight.unsure === undefined) return { checkedAt: data.preflight.at, requestId: data.preflight.requestId, refused };
  const unsure = new Set<string>();
  for (const position of data.preflight.unsure) {
    const id = data.serverIds[position];
    if (id !== undefined) unsure.add(id);
  }
  return { checkedAt: data.preflight.at, requestId: data.preflight.requestId, refused, unsure };
}

/** A batch's share of a run preflight, in a batch job's form. */
export function batchPreflightOf(preflight: RunPreflight, serverIds: readonly string[]): BatchPreflight {
  const refused: BatchPreflight['refused'] = [];
  const unsure: number[] = [];
  serverIds.forEach((id, position) => {
    const refusal = preflight.refused.get(id);
    // Bounded as the schema bounds it: Huawei's messages are short; a long one is cut, never refused.
    // A refusal without a code cannot be recorded as one: the reset then decides for that server.
    if (refusal !== undefined && refusal.code !== '') refused.push([position, refusal.code.slice(0, 64), refusal.message.slice(0, 1024)]);
    else if (refusal === undefined && preflight.unsure?.has(id) === true) unsure.push(position);
  });
  return {
    at: Math.max(0, Math.floor(preflight.checkedAt)),
    ...(preflight.requestId === undefined ? {} : { requestId: preflight.requestId.slice(0, 256) }),
    refused,
    ...(unsure.length === 0 ? {} : { unsure }),
  };
}
