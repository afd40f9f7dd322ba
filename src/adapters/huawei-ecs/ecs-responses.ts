import { z } from 'zod';
import type { EcsJob, EcsJobStatus } from '../../ports/ecs-api.js';
import type { EcsServer, OsType, ServerAddresses } from '../../domain/server.js';

/**
 * Shapes of Huawei's success answers, checked before use: a malformed answer becomes an
 * `EcsApiError` `BAD_RESPONSE` naming the field, never an `undefined` deep in the rotation.
 * Only the fields this project reads are declared; others are ignored.
 */
const nullableString = z.string().nullish();

export const serverSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string().min(1),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  tags: z.array(z.string()).nullish(),
  locked: z.boolean().nullish(),
  enterprise_project_id: nullableString,
  // Read leniently: an address entry we do not understand is skipped, never a failure of the call.
  addresses: z.record(z.string(), z.array(z.unknown()).nullish()).nullish().catch(undefined),
});

export const listServersSchema = z.object({
  count: z.number().int().nonnegative(),
  servers: z.array(serverSchema),
});

export const getServerSchema = z.object({ server: serverSchema });

export const resetFlagSchema = z.object({
  resetpwd_flag: z.string().regex(/^(true|false)$/i, 'expected "True" or "False"'),
});

export const batchResetSuccessSchema = z.object({
  response: z.array(z.object({ id: z.string().min(1) })),
});

export const jobIdSchema = z.object({ job_id: z.string().min(1) });

const jobStatusSchema = z.enum(['INIT', 'RUNNING', 'SUCCESS', 'FAIL']);

export const jobSchema = z.object({
  job_id: z.string().min(1),
  status: jobStatusSchema,
  fail_reason: nullableString,
  error_code: nullableString,
  entities: z
    .object({
      sub_jobs: z
        .array(
          z.object({
            status: jobStatusSchema,
            entities: z.object({ server_id: nullableString }).nullish(),
            fail_reason: nullableString,
            error_code: nullableString,
          }),
        )
        .nullish(),
    })
    .nullish(),
});

/*
 * Quick checks of the common answers: true only for a value the schema above accepts as it is (what
 * it would strip or replace, unknown fields, is never read), so that the many servers of a list page
 * are not each taken through zod's general machinery. Anything else is parsed by the schema, which
 * names the field and what was expected.
 */
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNullish = (v: unknown): v is null | undefined => v === null || v === undefined;

function quickServer(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const { id, name, status, metadata, tags, locked, enterprise_project_id: ep, addresses } = value;
  if (typeof id !== 'string' || id.length === 0 || typeof name !== 'string' || typeof status !== 'string' || status.length === 0) return false;
  if (!isNullish(metadata) && !isRecord(metadata)) return false;
  if (!isNullish(tags)) {
    if (!Array.isArray(tags)) return false;
    for (const tag of tags) if (typeof tag !== 'string') return false;
  }
  if (!isNullish(locked) && typeof locked !== 'boolean') return false;
  if (!isNullish(ep) && typeof ep !== 'string') return false;
  if (!isNullish(addresses)) {
    // The schema replaces an address map it does not understand by undefined: left to it.
    if (!isRecord(addresses)) return false;
    for (const key in addresses) if (!isNullish(addresses[key]) && !Array.isArray(addresses[key])) return false;
  }
  return true;
}

/** {@link listServersSchema}'s quick check. */
export function quickListServers(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const { count, servers } = value;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || !Array.isArray(servers)) return false;
  for (const server of servers) if (!quickServer(server)) return false;
  return true;
}

/** {@link batchResetSuccessSchema}'s quick check. */
export function quickBatchResetSuccess(value: unknown): boolean {
  if (!isRecord(value) || !Array.isArray(value.response)) return false;
  for (const entry of value.response) if (!isRecord(entry) || typeof entry.id !== 'string' || entry.id.length === 0) return false;
  return true;
}

/** `servers[3].id: Invalid input: expected string, received number` for the first problem found. */
export function describeSchemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'malformed answer';
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return `${path || '(body)'}: ${issue.message}`;
}

export function toEcsServer(raw: z.infer<typeof serverSchema>): EcsServer {
  const tags: Record<string, string> = {};
  for (const tag of raw.tags ?? []) {
    const eq = tag.indexOf('=');
    if (eq < 0) tags[tag] = '';
    else tags[tag.slice(0, eq)] = tag.slice(eq + 1);
  }
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status,
    osType: toOsType(raw.metadata?.os_type),
    tags,
    // Huawei always sends `locked`; if it does not, treat the server as unlocked: a reset of a locked
    // server is refused with Ecs.0605 (a definite, harmless answer).
    locked: raw.locked ?? false,
    enterpriseProjectId: raw.enterprise_project_id ?? undefined,
    addresses: raw.addresses ? toAddresses(raw.addresses) : undefined,
  };
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

/** `{"<vpc id>": [{"addr", "version", "OS-EXT-IPS:type": "fixed" | "floating"}]}` → IPv4 addresses by type. */
function toAddresses(raw: Record<string, unknown[] | null | undefined>): ServerAddresses {
  const out: ServerAddresses = { fixed: [], floating: [] };
  for (const entries of Object.values(raw)) {
    for (const entry of entries ?? []) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as Record<string, unknown>;
      if (typeof e.addr !== 'string' || !IPV4.test(e.addr)) continue;
      const type = e['OS-EXT-IPS:type'];
      if (type === 'floating') out.floating.push(e.addr);
      else if (type === 'fixed' || type === undefined) out.fixed.push(e.addr);
    }
  }
  return out;
}

function toOsType(value: unknown): OsType | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  if (lower === 'linux') return 'Linux';
  if (lower === 'windows') return 'Windows';
  return undefined;
}

export function toEcsJob(raw: z.infer<typeof jobSchema>): EcsJob {
  return {
    jobId: raw.job_id,
    status: raw.status as EcsJobStatus,
    failReason: raw.fail_reason ?? undefined,
    errorCode: raw.error_code ?? undefined,
    subJobs: (raw.entities?.sub_jobs ?? []).map((s) => ({
      serverId: s.entities?.server_id ?? undefined,
      status: s.status as EcsJobStatus,
      failReason: s.fail_reason ?? undefined,
      errorCode: s.error_code ?? undefined,
    })),
  };
}
