import type { SimApi } from './api-names.js';
import type { FleetState } from './fleet-state.js';
import { jobStatusAt } from './fleet-state.js';
import type { SimulatorFaults } from './faults.js';
import { ecsError } from './http-io.js';
import type { SimResponse } from './http-io.js';
import { huaweiPasswordViolations } from './password-rules.js';
import type { SeededRandom } from './seeded-random.js';
import type { SimServer } from './sim-server.js';
import { huaweiServerJson } from './sim-server.js';

/**
 * How a reset that some servers refused is answered. Huawei does not document it:
 * - `200-subset`: 200 `{response}` listing only the accepted servers (the others are in neither list);
 * - `400-internal-error`: 400 `{error: Ecs.0611, internalError: [...]}`; the servers that passed are
 *   changed all the same but listed nowhere, so a client must treat them as unknown (the hard case).
 * When no server is accepted both modes answer the 400 form.
 */
export type PartialFailureMode = '200-subset' | '400-internal-error';

export const MAX_SERVERS_PER_CALL = 1000;

export interface EcsContext {
  state: FleetState;
  now: number;
  projectId: string;
  region: string;
  body: Buffer;
  query: ReadonlyArray<readonly [string, string]>;
  /** Path parameters after the project id (`serverId`, `jobId`). */
  params: Record<string, string>;
  partialFailureMode: PartialFailureMode;
  faults: SimulatorFaults;
  faultRandom: SeededRandom;
  rebootDurationMs: number;
}

export interface EcsRoute {
  api: SimApi;
  method: string;
  /** Segments after `/v1/{project_id}/`; `:name` captures one segment. */
  pattern: string[];
  handle(ctx: EcsContext): SimResponse;
}

// ---------------------------------------------------------------- request body helpers

type Parsed<T> = { ok: true; value: T } | { ok: false; response: SimResponse };

function parseJsonObject(body: Buffer): Parsed<Record<string, unknown>> {
  if (body.length === 0) return { ok: false, response: ecsError(400, 'Common.0002', 'The request body is empty') };
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    // Never echo the parser's message: V8 quotes the start of the body, which may hold the password.
    return { ok: false, response: ecsError(400, 'Ecs.0005', 'The request body is not valid JSON') };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, response: ecsError(400, 'Ecs.0005', 'The request body must be a JSON object') };
  }
  return { ok: true, value: data as Record<string, unknown> };
}

function parseServerIds(value: unknown, field: string): Parsed<string[]> {
  const bad = (message: string): Parsed<string[]> => ({ ok: false, response: ecsError(400, 'Ecs.0005', message) });
  if (!Array.isArray(value)) return bad(`${field}: expected an array of {"id": "<server id>"}`);
  if (value.length === 0) return bad(`${field}: expected 1 to ${MAX_SERVERS_PER_CALL} servers, got none`);
  if (value.length > MAX_SERVERS_PER_CALL) {
    return { ok: false, response: ecsError(400, 'Ecs.0118', `${field}: at most ${MAX_SERVERS_PER_CALL} servers per request, got ${value.length}`) };
  }
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of value.entries()) {
    const id = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).id : undefined;
    if (typeof id !== 'string' || id === '') return bad(`${field}[${i}].id: expected a non-empty string`);
    if (Object.keys(entry as object).some((k) => k !== 'id')) return bad(`${field}[${i}]: only "id" is allowed`);
    // Stricter than documented: a duplicate id is refused rather than guessed at.
    if (seen.has(id)) return bad(`${field}[${i}].id: duplicate server id ${id}`);
    seen.add(id);
    ids.push(id);
  }
  return { ok: true, value: ids };
}

// ---------------------------------------------------------------- batch reset

interface ServerRefusal {
  id: string;
  error_code: string;
  error_message: string;
}

function resetRefusal(server: SimServer | undefined, id: string): ServerRefusal | undefined {
  if (!server) return { id, error_code: 'Ecs.0614', error_message: 'The server does not exist' };
  if (server.locked) return { id, error_code: 'Ecs.0605', error_message: 'The server is locked' };
  if (server.status !== 'ACTIVE') {
    return { id, error_code: 'Ecs.0100', error_message: `The server status ${server.status} does not allow resetting the password` };
  }
  if (!server.plugin) return { id, error_code: 'Ecs.0613', error_message: 'The password reset plug-in is not installed' };
  return undefined;
}

function batchResetPasswords(ctx: EcsContext): SimResponse {
  const parsed = parseJsonObject(ctx.body);
  if (!parsed.ok) return parsed.response;
  const body = parsed.value;
  const unknownField = Object.keys(body).find((k) => !['new_password', 'dry_run', 'servers'].includes(k));
  if (unknownField !== undefined) return ecsError(400, 'Ecs.0005', `${unknownField}: unknown field (expected new_password, dry_run, servers)`);
  const dryRun = body.dry_run ?? false;
  if (typeof dryRun !== 'boolean') return ecsError(400, 'Ecs.0005', 'dry_run: expected a boolean');
  const password = body.new_password;
  if (password !== undefined && typeof password !== 'string') return ecsError(400, 'Ecs.0005', 'new_password: expected a string');
  if (password === undefined && !dryRun) return ecsError(400, 'Ecs.0005', 'new_password: required unless dry_run is true');
  const ids = parseServerIds(body.servers, 'servers');
  if (!ids.ok) return ids.response;
  if (password !== undefined) {
    const violations = huaweiPasswordViolations(password);
    if (violations.length > 0) {
      return ecsError(400, 'Ecs.0011', `The new password does not meet the password rules: ${violations.join('; ')}`);
    }
  }

  const accepted: SimServer[] = [];
  const refused: ServerRefusal[] = [];
  for (const id of ids.value) {
    const server = ctx.state.servers.get(id);
    const refusal = resetRefusal(server, id);
    if (refusal) refused.push(refusal);
    else accepted.push(server!);
  }

  // A dry run changes nothing, but answers exactly what the real call would.
  const applyToServers = !dryRun && password !== undefined;
  const apply = (): void => {
    if (!applyToServers) return;
    for (const server of accepted) {
      const notApplied =
        ctx.faults.acceptedNotAppliedServers.includes(server.id) ||
        (ctx.faults.acceptedNotAppliedProbability > 0 && ctx.faultRandom.chance(ctx.faults.acceptedNotAppliedProbability));
      ctx.state.acceptReset(server, password, !notApplied, ctx.now);
    }
  };

  if (refused.length === 0 || (ctx.partialFailureMode === '200-subset' && accepted.length > 0)) {
    apply();
    return { status: 200, body: { response: accepted.map((s) => ({ id: s.id })) } };
  }
  apply();
  return {
    status: 400,
    body: {
      error: { code: 'Ecs.0611', message: 'Failed to reset the passwords of some servers in the batch' },
      internalError: refused,
    },
  };
}

// ---------------------------------------------------------------- list / get

/** Statuses that an `ACTIVE` filter also matches (Huawei: servers in a transitional state of a running server). */
const ACTIVE_ALIASES = new Set(['ACTIVE', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'MIGRATING', 'RESIZE']);

function intParam(ctx: EcsContext, name: string, fallback: number, min: number, max: number): number | SimResponse {
  const values = ctx.query.filter(([k]) => k === name).map(([, v]) => v);
  if (values.length === 0) return fallback;
  const raw = values[values.length - 1]!;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    return ecsError(400, 'Ecs.0005', `${name}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** `k=v` pairs from every `tags` (or `not-tags`) parameter; one parameter may also hold several, comma-separated. */
function tagPairs(ctx: EcsContext, name: string): [string, string | undefined][] {
  return ctx.query
    .filter(([k]) => k === name)
    .flatMap(([, v]) => v.split(','))
    .filter((t) => t !== '')
    .map((t) => {
      const eq = t.indexOf('=');
      return eq < 0 ? [t, undefined] : [t.slice(0, eq), t.slice(eq + 1)];
    });
}

function hasTag(server: SimServer, [key, value]: [string, string | undefined]): boolean {
  if (!(key in server.tags)) return false;
  return value === undefined || server.tags[key] === value;
}

function listServers(ctx: EcsContext): SimResponse {
  const limit = intParam(ctx, 'limit', 25, 1, 1000);
  if (typeof limit !== 'number') return limit;
  const offset = intParam(ctx, 'offset', 1, 0, Number.MAX_SAFE_INTEGER);
  if (typeof offset !== 'number') return offset;
  const param = (name: string): string | undefined => ctx.query.find(([k]) => k === name)?.[1];

  let matches: (s: SimServer) => boolean;
  const serverId = param('server_id');
  if (serverId !== undefined) {
    // Exact match on the ids, comma-separated (`server_id=id1,id2`, as Huawei's reference and its
    // official SDK use it); Huawei ignores every other filter then. Unknown ids are left out.
    const ids = new Set(serverId.split(',').map((id) => id.trim()));
    matches = (s) => ids.has(s.id);
  } else {
    const tags = tagPairs(ctx, 'tags');
    const notTags = tagPairs(ctx, 'not-tags');
    const name = param('name');
    const status = param('status');
    const ep = param('enterprise_project_id');
    matches = (s) =>
      tags.every((t) => hasTag(s, t)) &&
      !notTags.some((t) => hasTag(s, t)) &&
      // Huawei documents a fuzzy match; a substring is the simulator's reading of it.
      (name === undefined || s.name.includes(name)) &&
      (status === undefined || s.status === status || (status === 'ACTIVE' && ACTIVE_ALIASES.has(s.status))) &&
      (ep === undefined || ep === 'all_granted_eps' || s.enterpriseProjectId === ep);
  }
  // `offset` is a page number: 0 and 1 both mean the first page.
  const page = Math.max(offset, 1);
  const start = (page - 1) * limit;
  // One pass counts the matches and keeps only the page's: a listing of a large fleet asks for
  // every page, and an array of all the matches per page made the listing quadratic in the fleet.
  let count = 0;
  const onPage: SimServer[] = [];
  for (const s of ctx.state.order) {
    if (!matches(s)) continue;
    if (count >= start && onPage.length < limit) onPage.push(s);
    count += 1;
  }
  return {
    status: 200,
    body: {
      count,
      servers: onPage.map((s) => huaweiServerJson(s, ctx.projectId, ctx.region)),
    },
  };
}

function serverOr404(ctx: EcsContext): SimServer | SimResponse {
  const id = ctx.params.serverId!;
  return ctx.state.servers.get(id) ?? ecsError(404, 'Ecs.0114', `The server ${id} does not exist`);
}

function getServer(ctx: EcsContext): SimResponse {
  const server = serverOr404(ctx);
  if ('body' in server) return server;
  return { status: 200, body: { server: huaweiServerJson(server, ctx.projectId, ctx.region) } };
}

function getResetPasswordFlag(ctx: EcsContext): SimResponse {
  const server = serverOr404(ctx);
  if ('body' in server) return server;
  return { status: 200, body: { resetpwd_flag: server.plugin ? 'True' : 'False' } };
}

// ---------------------------------------------------------------- reboot and jobs

function batchReboot(ctx: EcsContext): SimResponse {
  const parsed = parseJsonObject(ctx.body);
  if (!parsed.ok) return parsed.response;
  const reboot = parsed.value.reboot;
  if (typeof reboot !== 'object' || reboot === null || Array.isArray(reboot) || Object.keys(parsed.value).length !== 1) {
    return ecsError(400, 'Ecs.0005', 'expected a body {"reboot": {"type": "SOFT"|"HARD", "servers": [{"id": ...}]}}');
  }
  const { type, servers } = reboot as Record<string, unknown>;
  if (type !== 'SOFT' && type !== 'HARD') return ecsError(400, 'Ecs.0005', 'reboot.type: expected "SOFT" or "HARD"');
  const ids = parseServerIds(servers, 'reboot.servers');
  if (!ids.ok) return ids.response;
  const job = ctx.state.createRebootJob(type, ids.value, ctx.now, ctx.rebootDurationMs);
  return { status: 200, body: { job_id: job.jobId } };
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function getJob(ctx: EcsContext): SimResponse {
  const job = ctx.state.getJob(ctx.params.jobId!);
  if (!job) return ecsError(404, 'Ecs.0005', `The job ${ctx.params.jobId!} does not exist`);
  const { status, subStatuses } = jobStatusAt(job, ctx.now);
  const done = status === 'SUCCESS' || status === 'FAIL';
  const failed = job.subJobs.filter((s) => s.errorCode !== undefined);
  return {
    status: 200,
    body: {
      job_id: job.jobId,
      job_type: 'batchRebootServer',
      status,
      begin_time: isoOrNull(job.beginAt),
      end_time: done ? isoOrNull(job.endAt) : null,
      error_code: status === 'FAIL' ? failed[0]!.errorCode : null,
      fail_reason: status === 'FAIL' ? `${failed.length} of ${job.subJobs.length} servers failed to reboot` : null,
      entities: {
        sub_jobs_total: job.subJobs.length,
        sub_jobs: job.subJobs.map((sub, i) => {
          const subStatus = subStatuses[i]!;
          const subDone = subStatus === 'SUCCESS' || subStatus === 'FAIL';
          return {
            job_id: sub.jobId,
            job_type: 'childRebootServer',
            status: subStatus,
            begin_time: isoOrNull(job.beginAt),
            end_time: subDone ? isoOrNull(sub.errorCode ? job.beginAt : job.endAt) : null,
            error_code: sub.errorCode ?? null,
            fail_reason: sub.failReason ?? null,
            entities: { server_id: sub.serverId },
          };
        }),
      },
    },
  };
}

export const ECS_ROUTES: readonly EcsRoute[] = [
  { api: 'batchResetPasswords', method: 'PUT', pattern: ['cloudservers', 'os-reset-passwords'], handle: batchResetPasswords },
  { api: 'listServers', method: 'GET', pattern: ['cloudservers', 'detail'], handle: listServers },
  { api: 'batchReboot', method: 'POST', pattern: ['cloudservers', 'action'], handle: batchReboot },
  { api: 'getResetPasswordFlag', method: 'GET', pattern: ['cloudservers', ':serverId', 'os-resetpwd-flag'], handle: getResetPasswordFlag },
  { api: 'getServer', method: 'GET', pattern: ['cloudservers', ':serverId'], handle: getServer },
  { api: 'getJob', method: 'GET', pattern: ['jobs', ':jobId'], handle: getJob },
];

/** Matches `/v1/{project_id}/...`; literal routes come before captures, so `detail` is never a server id. */
export function matchRoute(
  method: string,
  rawPath: string,
): { route: EcsRoute; projectId: string; params: Record<string, string> } | undefined {
  const segments = rawPath.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  if (segments[0] !== '' || segments[1] !== 'v1' || segments[2] === undefined || segments[2] === '') return undefined;
  const rest = segments.slice(3);
  for (const route of ECS_ROUTES) {
    if (route.method !== method || route.pattern.length !== rest.length) continue;
    const params: Record<string, string> = {};
    const ok = route.pattern.every((p, i) => {
      const seg = rest[i]!;
      if (p.startsWith(':')) {
        params[p.slice(1)] = seg;
        return seg !== '';
      }
      return p === seg;
    });
    if (ok) return { route, projectId: segments[2], params };
  }
  return undefined;
}
