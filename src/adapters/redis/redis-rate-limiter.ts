import type { Redis } from 'ioredis';
import { loadScript, type LoadedScript } from './redis-script.js';
import type { Clock } from '../../ports/clock.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';

/**
 * GCRA (generic cell rate algorithm) on one key: the key holds the "theoretical arrival time" (TAT)
 * in microseconds. Time comes from Redis (`TIME`), not from the callers, so processes with skewed
 * clocks share one budget. Returns 0 when the request may go now, else the microseconds to wait.
 * ARGV: emission interval (µs), burst (requests that may go back to back).
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local newTat = tat + interval
if newTat - now > tolerance then
  return math.ceil(newTat - now - tolerance)
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1000)
return 0`;

export interface RedisRateLimiterOptions {
  redis: Redis;
  /** The limiter's key, e.g. `<prefix>:ratelimit:ecs:<account>`; every process using the same key shares the limit. */
  key: string;
  /** Sustained requests per second across all processes. */
  requestsPerSecond: number;
  /** Requests that may be sent back to back after an idle period. @defaultValue 1 (no bursts) */
  burst?: number;
  /** Used only to wait (`sleep`); the limiter's time base is Redis's clock. */
  clock: Pick<Clock, 'sleep'>;
}

/** One request-rate limit shared by every worker and process that uses the same Redis key. */
export class RedisRateLimiter implements RateLimiter {
  readonly #key: string;
  readonly #intervalUs: number;
  readonly #burst: number;
  readonly #clock: Pick<Clock, 'sleep'>;
  readonly #gcra: LoadedScript;

  constructor(options: RedisRateLimiterOptions) {
    if (!(options.requestsPerSecond > 0) || !Number.isFinite(options.requestsPerSecond)) {
      throw new RangeError(`requestsPerSecond must be a positive number, got ${options.requestsPerSecond}`);
    }
    const burst = options.burst ?? 1;
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be an integer >= 1, got ${burst}`);
    this.#key = options.key;
    this.#intervalUs = Math.max(1, Math.round(1_000_000 / options.requestsPerSecond));
    this.#burst = burst;
    this.#clock = options.clock;
    this.#gcra = loadScript(options.redis, 'rotatorRateLimitGcra', GCRA);
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitUs = Number(await this.#gcra([this.#key], [this.#intervalUs, this.#burst]));
      if (waitUs <= 0) return;
      await this.#clock.sleep(Math.max(1, Math.ceil(waitUs / 1000)), signal);
    }
  }
}
