import type { Redis } from 'ioredis';
import { AUDIT_STEPS, type AuditEvent, type AuditLog, type AuditStep, type StoredAuditEvent } from '../../ports/audit-log.js';

export interface RedisAuditLogOptions {
  redis: Redis;
  /** Key prefix; the stream is `<prefix>:audit`. */
  keyPrefix: string;
  /** Approximate cap of the stream (`XADD MAXLEN ~`). @defaultValue 100000 */
  maxLen?: number;
  /** Most entries `readServerHistory` examines before giving up (bounds the cost of a rare server). @defaultValue 20000 */
  maxScan?: number;
  /** Entries read per XREVRANGE call. @defaultValue 500 */
  pageSize?: number;
}

/**
 * The audit trail: one capped Redis stream, one entry per step and server. Fields are ids, codes and
 * outcomes only; the rotation never hands this adapter a password.
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
    this.#maxLen = options.maxLen ?? 100_000;
    this.#maxScan = options.maxScan ?? 20_000;
    this.#pageSize = options.pageSize ?? 500;
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const e of events) {
      // Always the same fields in the same order (empty when absent): Redis then stores the field
      // names once per stream node instead of once per entry.
      const fields: string[] = [
        'ts', String(e.ts), 'runId', e.runId, 'target', e.target, 'batch', String(e.batchIndex),
        'step', e.step, 'serverId', e.serverId, 'outcome', e.outcome,
        'code', e.code ?? '', 'versionId', e.versionId ?? '', 'requestId', e.requestId ?? '', 'detail', e.detail ?? '',
      ];
      pipeline.xadd(this.#key, 'MAXLEN', '~', String(this.#maxLen), '*', ...fields);
    }
    const results = await pipeline.exec();
    for (const [error] of results ?? []) if (error) throw error;
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
        const h = toMap(flat);
        if (h.serverId === serverId) {
          found.push(parseEvent(id, h));
          if (found.length >= limit) break;
        }
      }
      const lastId = page[page.length - 1]?.[0];
      if (lastId === undefined || page.length < count) break;
      end = `(${lastId}`;
    }
    return found;
  }
}

function toMap(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function parseEvent(id: string, h: Record<string, string>): StoredAuditEvent {
  const step = (AUDIT_STEPS as readonly string[]).includes(h.step ?? '') ? (h.step as AuditStep) : 'record';
  return {
    id,
    ts: Number(h.ts ?? 0),
    runId: h.runId ?? '',
    target: h.target ?? '',
    batchIndex: Number(h.batch ?? 0),
    step,
    serverId: h.serverId ?? '',
    outcome: h.outcome ?? '',
    code: h.code || undefined,
    versionId: h.versionId || undefined,
    requestId: h.requestId || undefined,
    detail: h.detail || undefined,
  };
}
