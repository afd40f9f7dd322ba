import type { Redis } from 'ioredis';
import { AUDIT_STEPS, type AuditEvent, type AuditLog, type AuditStep, type StoredAuditEvent } from '../../ports/audit-log.js';

/**
 * Most server events one stream entry holds. Bounds an entry's size, and so what `maxLen` (counted
 * in entries) means in server events: at most `maxLen × MAX_EVENTS_PER_ENTRY`.
 */
export const MAX_EVENTS_PER_ENTRY = 100;

/**
 * Approximate largest `events` field of an entry. Redis packs stream entries into nodes of
 * `stream-node-max-bytes` (4096 by default) and gives a node that much memory even for a smaller
 * entry; an entry just above it takes a larger block of its own. Under 4096 with the other fields,
 * an entry fills one node: about 95 servers of 36-character ids.
 */
const MAX_ENTRY_BYTES = 3_800;

export interface RedisAuditLogOptions {
  redis: Redis;
  /** Key prefix; the stream is `<prefix>:audit`. */
  keyPrefix: string;
  /**
   * Approximate cap of the stream in entries (`XADD MAXLEN ~`); an entry holds one step of one batch
   * for up to {@link MAX_EVENTS_PER_ENTRY} servers. @defaultValue 10000 (at most 1,000,000 server events)
   */
  maxLen?: number;
  /**
   * Most entries `readServerHistory` examines before giving up (bounds the cost of a rare server: an
   * entry may be 4 KB, so 2000 entries read up to 8 MB, and cover up to 200,000 server events).
   * @defaultValue 2000
   */
  maxScan?: number;
  /** Entries read per XREVRANGE call. @defaultValue 200 */
  pageSize?: number;
}

/**
 * One group of an entry's `events` field: the servers (`s`) for which the step concluded alike, at
 * the same millisecond: outcome `o`, and optional code `c`, version id `v`, request id `r`, detail
 * `d`, and `t`, milliseconds after the entry's `ts` (absent: 0).
 */
interface EventGroup {
  t?: number;
  o: string;
  c?: string;
  v?: string;
  r?: string;
  d?: string;
  s: string[];
}

/**
 * The audit trail: one capped Redis stream. An entry is one step of one batch: `ts`, `runId`,
 * `target`, `batch`, `step`, and `events`, the JSON list of {@link EventGroup}s, so that the run id,
 * the version id of a batch's shared password and the reset call's request id are written once per
 * step and not once per server (a batch of 1000 servers costs about 40 bytes per server and step).
 * Entries of the previous release (one per step and server: `serverId`, `outcome`, `code`,
 * `versionId`, `requestId`, `detail` fields) are still read. Fields are ids, codes and outcomes only;
 * the rotation never hands this adapter a password.
 */
export class RedisAuditLog implements AuditLog {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #maxLen: number;
  readonly #maxScan: number;
  readonly #pageSize: number;

  constructor(options: RedisAuditLogOptions) {
    this.#redis = options.redis;
    this.#key = `${options.keyPrefix}:audit`;
    this.#maxLen = options.maxLen ?? 10_000;
    this.#maxScan = options.maxScan ?? 2_000;
    this.#pageSize = options.pageSize ?? 200;
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    // One command per entry (a step of a batch is one or a few), sent in order on the connection:
    // not a pipeline, whose construction copies every script defined on the client (BullMQ defines
    // dozens on the connection it shares), which cost more than the entries themselves.
    const maxLen = String(this.#maxLen);
    await Promise.all(auditEntries(events).map((entry) => this.#redis.xadd(this.#key, 'MAXLEN', '~', maxLen, '*', ...entry)));
  }

  async readServerHistory(serverId: string, limit: number): Promise<StoredAuditEvent[]> {
    const found: StoredAuditEvent[] = [];
    let end = '+';
    let scanned = 0;
    while (found.length < limit && scanned < this.#maxScan) {
      const count = Math.min(this.#pageSize, this.#maxScan - scanned);
      const page = await this.#redis.xrevrange(this.#key, end, '-', 'COUNT', count);
      if (page.length === 0) break;
      scanned += page.length;
      for (const [id, flat] of page) {
        // At most one event of a server per entry (auditEntries).
        found.push(...parseAuditEntry(id, flat, serverId));
        if (found.length >= limit) break;
      }
      const lastId = page[page.length - 1]?.[0];
      if (lastId === undefined || page.length < count) break;
      end = `(${lastId}`;
    }
    return found.slice(0, limit);
  }
}

/**
 * The stream entries (flat field lists) of a batch of events: one per step, runId and batch, in
 * first-seen order, servers grouped by what the step concluded, at most MAX_EVENTS_PER_ENTRY each
 * and about MAX_ENTRY_BYTES. A server names at most one event per entry (a second one of the same
 * step starts a new entry), so the order of one server's events is the order of the entries.
 *
 * One pass, with the keys built only when an event differs from the one before it (a batch's events
 * of one step mostly share everything but the server): this runs for every event of every batch.
 */
function auditEntries(events: readonly AuditEvent[]): string[][] {
  interface Group {
    first: AuditEvent;
    servers: string[];
  }
  interface Chunk {
    first: AuditEvent;
    ts: number;
    servers: Set<string>;
    groups: Map<string, Group>;
    bytes: number;
  }
  const byStep = new Map<string, Chunk[]>();
  let previous: AuditEvent | undefined;
  let chunks: Chunk[] = [];
  let group = '';
  let groupCost = 0;
  for (const e of events) {
    if (previous === undefined || e.step !== previous.step || e.runId !== previous.runId || e.target !== previous.target || e.batchIndex !== previous.batchIndex) {
      const key = `${e.step}\u0000${e.batchIndex}\u0000${e.runId}\u0000${e.target}`;
      const known = byStep.get(key);
      if (known === undefined) byStep.set(key, (chunks = []));
      else chunks = known;
    }
    if (previous === undefined || !sameGroup(e, previous)) {
      group = groupKey(e);
      // An over-estimate of the group's JSON without its servers: field names, quotes and commas
      // (50), the time in full (an entry holds it relative), and escapes of the free-text detail.
      groupCost = group.length + 50 + (e.detail?.length ?? 0);
    }
    previous = e;
    let last = chunks[chunks.length - 1];
    // What the event adds to the entry's JSON: its id, and its group's fields if new.
    let cost = e.serverId.length + 3 + (last?.groups.has(group) === true ? 0 : groupCost);
    if (last === undefined || last.servers.size >= MAX_EVENTS_PER_ENTRY || last.bytes + cost > MAX_ENTRY_BYTES || last.servers.has(e.serverId)) {
      last = { first: e, ts: e.ts, servers: new Set(), groups: new Map(), bytes: 0 };
      chunks.push(last);
      cost = e.serverId.length + 3 + groupCost;
    }
    last.bytes += cost;
    last.servers.add(e.serverId);
    if (e.ts < last.ts) last.ts = e.ts;
    const members = last.groups.get(group);
    if (members === undefined) last.groups.set(group, { first: e, servers: [e.serverId] });
    else members.servers.push(e.serverId);
  }
  const entries: string[][] = [];
  for (const stepChunks of byStep.values()) {
    for (const { first, ts, groups } of stepChunks) {
      entries.push([
        'ts', String(ts), 'runId', first.runId, 'target', first.target,
        'batch', String(first.batchIndex), 'step', first.step, 'events', JSON.stringify(groupsOf(groups.values(), ts)),
      ]);
    }
  }
  return entries;
}

/** Whether two events of one step fall in one group: everything but the server id alike (an absent field and an empty one are alike: neither is written). */
function sameGroup(a: AuditEvent, b: AuditEvent): boolean {
  return (
    a.ts === b.ts &&
    a.outcome === b.outcome &&
    (a.code || '') === (b.code || '') &&
    (a.versionId || '') === (b.versionId || '') &&
    (a.requestId || '') === (b.requestId || '') &&
    (a.detail || '') === (b.detail || '')
  );
}

/** The key of {@link sameGroup}'s relation (the fields cannot hold U+0001 in practice; a clash would only merge two groups' servers). */
function groupKey(e: AuditEvent): string {
  return `${e.ts}\u0001${e.outcome}\u0001${e.code || ''}\u0001${e.versionId || ''}\u0001${e.requestId || ''}\u0001${e.detail || ''}`;
}

function groupsOf(groups: Iterable<{ first: AuditEvent; servers: string[] }>, ts: number): EventGroup[] {
  const out: EventGroup[] = [];
  for (const { first: e, servers } of groups) {
    const group: EventGroup = e.ts === ts ? { o: e.outcome, s: servers } : { t: e.ts - ts, o: e.outcome, s: servers };
    if (e.code) group.c = e.code;
    if (e.versionId) group.v = e.versionId;
    if (e.requestId) group.r = e.requestId;
    if (e.detail) group.d = e.detail;
    out.push(group);
  }
  return out;
}

/**
 * The events of one stream entry (either release's format), in the order they were noted; only
 * those of `serverId` when given. Exported for tests that read the stream itself.
 */
export function parseAuditEntry(id: string, flat: readonly string[], serverId?: string): StoredAuditEvent[] {
  const h = toMap(flat);
  const step = (AUDIT_STEPS as readonly string[]).includes(h.step ?? '') ? (h.step as AuditStep) : 'record';
  const base = { id, ts: Number(h.ts ?? 0), runId: h.runId ?? '', target: h.target ?? '', batchIndex: Number(h.batch ?? 0), step };
  if (h.events === undefined) {
    // One event per entry (the previous release).
    if (serverId !== undefined && h.serverId !== serverId) return [];
    return [
      {
        ...base,
        serverId: h.serverId ?? '',
        outcome: h.outcome ?? '',
        code: h.code || undefined,
        versionId: h.versionId || undefined,
        requestId: h.requestId || undefined,
        detail: h.detail || undefined,
      },
    ];
  }
  // Cheap test before parsing: most entries do not name the server looked for.
  if (serverId !== undefined && !h.events.includes(JSON.stringify(serverId))) return [];
  let groups: unknown;
  try {
    groups = JSON.parse(h.events);
  } catch {
    return [];
  }
  if (!Array.isArray(groups)) return [];
  const out: StoredAuditEvent[] = [];
  for (const g of groups as Partial<EventGroup>[]) {
    if (!Array.isArray(g?.s)) continue;
    for (const s of g.s) {
      if (serverId !== undefined && s !== serverId) continue;
      out.push({ ...base, ts: base.ts + (typeof g.t === 'number' ? g.t : 0), serverId: String(s), outcome: String(g.o ?? ''), code: g.c || undefined, versionId: g.v || undefined, requestId: g.r || undefined, detail: g.d || undefined });
    }
  }
  return out;
}

function toMap(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}
