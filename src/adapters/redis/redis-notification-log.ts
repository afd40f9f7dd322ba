import type { Redis } from 'ioredis';
import type { DeliveryRecord, NotificationLog, OverdueIndex } from '../../ports/notification-log.js';

export interface RedisNotificationStoreOptions {
  redis: Redis;
  /** Keys: `<prefix>:notifications` (capped stream of deliveries), `<prefix>:overdue:<target>` (sets). */
  keyPrefix: string;
  /** Approximate cap of the delivery log. @defaultValue 10000 */
  maxLen?: number;
}

/** The delivery log (a capped stream: what was sent where, and whether it arrived) and the overdue index (a set per target). */
export class RedisNotificationStore implements NotificationLog, OverdueIndex {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #maxLen: number;

  constructor(options: RedisNotificationStoreOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#maxLen = options.maxLen ?? 10_000;
  }

  async append(r: DeliveryRecord): Promise<void> {
    await this.#redis.xadd(
      `${this.#prefix}:notifications`, 'MAXLEN', '~', String(this.#maxLen), '*',
      'at', String(r.at), 'notificationId', r.notificationId, 'channel', r.channel, 'event', r.event, 'target', r.target,
      'delivered', r.delivered ? '1' : '0', 'attempts', String(r.attempts), 'status', String(r.status ?? ''), 'error', r.error ?? '',
    );
  }

  async recent(limit: number): Promise<DeliveryRecord[]> {
    const entries = await this.#redis.xrevrange(`${this.#prefix}:notifications`, '+', '-', 'COUNT', limit);
    return entries.map(([, flat]) => {
      const h: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
      return {
        at: Number(h.at),
        notificationId: h.notificationId ?? '',
        channel: h.channel ?? '',
        event: h.event ?? '',
        target: h.target ?? '',
        delivered: h.delivered === '1',
        attempts: Number(h.attempts ?? 0),
        status: h.status ? Number(h.status) : undefined,
        error: h.error || undefined,
      };
    });
  }

  async markOverdue(target: string, serverIds: readonly string[]): Promise<string[]> {
    return this.#claim('sadd', target, serverIds);
  }

  async clear(target: string, serverIds: readonly string[]): Promise<string[]> {
    return this.#claim('srem', target, serverIds);
  }

  async overdue(target: string): Promise<string[]> {
    return this.#redis.smembers(`${this.#prefix}:overdue:${target}`);
  }

  /** One SADD/SREM per id (pipelined): its reply says whether this call changed it. */
  async #claim(op: 'sadd' | 'srem', target: string, ids: readonly string[]): Promise<string[]> {
    const key = `${this.#prefix}:overdue:${target}`;
    const claimed: string[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const pipeline = this.#redis.pipeline();
      for (const id of chunk) pipeline[op](key, id);
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, changed], j) => {
        if (error) throw error;
        if (changed === 1) claimed.push(chunk[j]!);
      });
    }
    return claimed;
  }
}
