import type { Redis } from 'ioredis';
import type { AcquireResult, RenewResult, ServerLocks } from '../../ports/server-locks.js';

/**
 * Take the lock, or extend it when `owner` already holds it (a batch re-run after a crash takes its
 * own locks back). Returns 1 when held by `owner` afterwards, 0 when another owner holds it.
 */
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Compare-and-pexpire: only the owner extends its lock. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** Compare-and-delete: only the owner releases its lock. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface RedisServerLocksOptions {
  redis: Redis;
  /** Key prefix, e.g. `rotator`; locks live at `<prefix>:lock:<serverId>`. */
  keyPrefix: string;
}

/**
 * Per-server locks in Redis: one key per server (`SET NX PX` semantics with an owner token), each
 * touched by a single-key Lua script, so the keys may live in different Redis Cluster slots.
 * The owner token is an id (run id + batch), never a secret.
 */
export class RedisServerLocks implements ServerLocks {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisServerLocksOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
  }

  #key(serverId: string): string {
    return `${this.#prefix}:lock:${serverId}`;
  }

  async acquireMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<AcquireResult> {
    assertTtl(ttlMs);
    const unique = [...new Set(serverIds)];
    const results = await Promise.all(
      unique.map((id) => this.#redis.eval(ACQUIRE, 1, this.#key(id), owner, String(Math.ceil(ttlMs))) as Promise<number>),
    );
    const held: string[] = [];
    const busy: string[] = [];
    unique.forEach((id, i) => (results[i] === 1 ? held : busy).push(id));
    return { held, busy };
  }

  async renewMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<RenewResult> {
    assertTtl(ttlMs);
    const results = await Promise.all(
      serverIds.map((id) => this.#redis.eval(RENEW, 1, this.#key(id), owner, String(Math.ceil(ttlMs))) as Promise<number>),
    );
    const renewed: string[] = [];
    const lost: string[] = [];
    serverIds.forEach((id, i) => (results[i] === 1 ? renewed : lost).push(id));
    return { renewed, lost };
  }

  async releaseMany(serverIds: readonly string[], owner: string): Promise<void> {
    await Promise.all(serverIds.map((id) => this.#redis.eval(RELEASE, 1, this.#key(id), owner)));
  }

  async holder(serverId: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(serverId))) ?? undefined;
  }
}

function assertTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 1) {
    throw new RangeError(`lock ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
}
