import type { Redis } from 'ioredis';
import type { HostKeyRecord, HostKeyStore } from '../../ports/password-verifier.js';

export interface RedisHostKeyStoreOptions {
  redis: Redis;
  /** Key prefix, e.g. `rotator`. Keys: `<prefix>:hostkey:<serverId>` (a JSON string: fingerprint, key type, address, first seen). */
  keyPrefix: string;
}

/**
 * SSH host keys recorded on first contact (trust on first use). Only public information is stored:
 * the key's fingerprint and type, the address and when it was first seen. `SET NX` makes the first
 * writer win when two workers meet a new server at once.
 */
export class RedisHostKeyStore implements HostKeyStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisHostKeyStoreOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
  }

  #key(serverId: string): string {
    return `${this.#prefix}:hostkey:${serverId}`;
  }

  async remember(serverId: string, record: HostKeyRecord): Promise<HostKeyRecord> {
    const stored = await this.#redis.set(this.#key(serverId), JSON.stringify(record), 'NX');
    if (stored === 'OK') return record;
    return (await this.get(serverId)) ?? record;
  }

  async get(serverId: string): Promise<HostKeyRecord | undefined> {
    const raw = await this.#redis.get(this.#key(serverId));
    if (raw === null) return undefined;
    const parsed = JSON.parse(raw) as Partial<HostKeyRecord>;
    if (typeof parsed.fingerprint !== 'string' || typeof parsed.keyType !== 'string') return undefined;
    return { fingerprint: parsed.fingerprint, keyType: parsed.keyType, address: String(parsed.address ?? ''), firstSeenAt: Number(parsed.firstSeenAt ?? 0) };
  }

  async forget(serverId: string): Promise<void> {
    await this.#redis.del(this.#key(serverId));
  }
}
