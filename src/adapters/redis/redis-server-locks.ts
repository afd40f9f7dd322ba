import type { Redis } from 'ioredis';
import { loadScript, type LoadedScript } from './redis-script.js';
import type { AcquireResult, RenewResult, ServerLocks } from '../../ports/server-locks.js';

/**
 * For each key: take the lock, extend it when `owner` already holds it, or take it over when an
 * owner of the same family holds it (ARGV[3]: `<family>` of an owner `<family>#<execution>`, see
 * src/ports/server-locks.ts): a batch re-run after a crash takes its own batch's locks back, and the
 * earlier execution, if it still lives, finds them lost. Returns one number per key: 1 when held by
 * `owner` afterwards, 0 when another owner holds it. Each key is decided on its own (not
 * all-or-nothing): a batch rotates the servers it got and reports the others busy.
 */
const ACQUIRE_MANY = `
local out = {}
local family = ARGV[3]
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  elseif v and (v == family or string.sub(v, 1, string.len(family) + 1) == family .. '#') then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  elseif v then
    out[i] = 0
  else
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  end
end
return out`;

/** Compare-and-pexpire per key: only the owner extends its lock. 1 renewed, 0 lost. */
const RENEW_MANY = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    out[i] = redis.call('PEXPIRE', key, ARGV[2])
  else
    out[i] = 0
  end
end
return out`;

/** Compare-and-delete per key: only the owner releases its lock. */
const RELEASE_MANY = `
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    n = n + redis.call('DEL', key)
  end
end
return n`;

/** Keys per script call: bounds the time one call holds Redis (a batch has at most 1000 servers). */
const KEYS_PER_CALL = 1000;

export interface RedisServerLocksOptions {
  redis: Redis;
  /** Key prefix, e.g. `rotator`; locks live at `<prefix>:lock:<serverId>`. */
  keyPrefix: string;
}

/**
 * Per-server locks in Redis: one key per server (`SET NX PX` semantics with an owner token). A
 * batch takes, renews and releases all its locks with one script call (loaded once, sent by
 * EVALSHA), each key decided on its own. One call touches several keys, so on Redis Cluster they
 * must share a slot: the key prefix must hold a hash tag (`{rotator}`), which BullMQ requires of
 * the same prefix anyway. The owner token is an id (run id + batch + execution), never a secret.
 */
export class RedisServerLocks implements ServerLocks {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #acquire: LoadedScript;
  readonly #renew: LoadedScript;
  readonly #release: LoadedScript;

  constructor(options: RedisServerLocksOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#acquire = loadScript(options.redis, 'rotatorLocksAcquire', ACQUIRE_MANY);
    this.#renew = loadScript(options.redis, 'rotatorLocksRenew', RENEW_MANY);
    this.#release = loadScript(options.redis, 'rotatorLocksRelease', RELEASE_MANY);
  }

  #key(serverId: string): string {
    return `${this.#prefix}:lock:${serverId}`;
  }

  /** Runs `script` over `ids` in calls of KEYS_PER_CALL keys; one result per id. */
  async #each(script: LoadedScript, ids: readonly string[], args: readonly (string | number)[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i += KEYS_PER_CALL) {
      const part = ids.slice(i, i + KEYS_PER_CALL);
      const answer = (await script(part.map((id) => this.#key(id)), args)) as number[];
      out.push(...answer.map(Number));
    }
    return out;
  }

  async acquireMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<AcquireResult> {
    assertTtl(ttlMs);
    const unique = [...new Set(serverIds)];
    const results = await this.#each(this.#acquire, unique, [owner, Math.ceil(ttlMs), lockFamily(owner)]);
    const held: string[] = [];
    const busy: string[] = [];
    unique.forEach((id, i) => (results[i] === 1 ? held : busy).push(id));
    return { held, busy };
  }

  async renewMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<RenewResult> {
    assertTtl(ttlMs);
    const results = await this.#each(this.#renew, serverIds, [owner, Math.ceil(ttlMs)]);
    const renewed: string[] = [];
    const lost: string[] = [];
    serverIds.forEach((id, i) => (results[i] === 1 ? renewed : lost).push(id));
    return { renewed, lost };
  }

  async releaseMany(serverIds: readonly string[], owner: string): Promise<void> {
    for (let i = 0; i < serverIds.length; i += KEYS_PER_CALL) {
      const part = serverIds.slice(i, i + KEYS_PER_CALL);
      if (part.length > 0) await this.#release(part.map((id) => this.#key(id)), [owner]);
    }
  }

  async holder(serverId: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(serverId))) ?? undefined;
  }
}

/** The family of an owner `<family>#<execution>` (the whole owner when it has no `#`). */
export function lockFamily(owner: string): string {
  const at = owner.lastIndexOf('#');
  return at === -1 ? owner : owner.slice(0, at);
}

function assertTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 1) {
    throw new RangeError(`lock ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
}
