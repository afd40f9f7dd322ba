import type { Redis } from 'ioredis';
import type { RunHistory, RunRecord } from '../../ports/run-history.js';

const FORWARD_ONLY = `
local previous = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > previous then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`;

export interface RedisRunHistoryOptions {
  redis: Redis;
  /** Keys: `<prefix>:runs:<target>` (list, newest first), `<prefix>:runs-last-success` (hash), `<prefix>:run-recorded:<runId>`. */
  keyPrefix: string;
  /** Runs kept per target. @defaultValue 50 */
  keepPerTarget?: number;
  /** How long the once-per-run marker lives, in seconds. @defaultValue 30 days */
  markerTtlSeconds?: number;
}

/**
 * Finished runs per target in a capped Redis list (JSON of ids, counts and codes: never a secret),
 * and each target's last successful run in a hash. Single-key writes only (Redis Cluster safe).
 */
export class RedisRunHistory implements RunHistory {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #keep: number;
  readonly #ttl: number;

  constructor(options: RedisRunHistoryOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#keep = options.keepPerTarget ?? 50;
    this.#ttl = options.markerTtlSeconds ?? 30 * 86_400;
  }

  async record(run: RunRecord): Promise<boolean> {
    // Once per run: several processes may observe the same completion (and a replay must not count twice).
    const first = await this.#redis.set(`${this.#prefix}:run-recorded:${run.runId}`, '1', 'EX', this.#ttl, 'NX');
    if (first !== 'OK') return false;
    const key = `${this.#prefix}:runs:${run.target}`;
    await this.#redis.multi().lpush(key, JSON.stringify(run)).ltrim(key, 0, this.#keep - 1).exec();
    if (run.result === 'succeeded' && !run.dryRun) {
      // Only ever forward: a late record of an older run must not move the time back.
      await this.#redis.eval(FORWARD_ONLY, 1, `${this.#prefix}:runs-last-success`, run.target, String(run.finishedAt));
    }
    return true;
  }

  async recent(target: string, limit: number): Promise<RunRecord[]> {
    const raw = await this.#redis.lrange(`${this.#prefix}:runs:${target}`, 0, Math.max(0, limit - 1));
    const out: RunRecord[] = [];
    for (const item of raw) {
      try {
        out.push(JSON.parse(item) as RunRecord);
      } catch {
        // A corrupt entry (written by hand) is skipped rather than breaking the status page.
      }
    }
    return out;
  }

  async lastSuccess(): Promise<Record<string, number>> {
    const hash = await this.#redis.hgetall(`${this.#prefix}:runs-last-success`);
    return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));
  }
}
