import type { Redis } from 'ioredis';

/** A Lua script registered on a client: sent by EVALSHA (ioredis falls back to EVAL once on NOSCRIPT). */
export type LoadedScript = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * Registers `lua` on `redis` under `name` (ioredis `defineCommand`), so that each call sends the
 * script's SHA1 rather than its full text. Registering the same name again on the same client
 * (several adapters sharing one connection) replaces it with the same script.
 */
export function loadScript(redis: Redis, name: string, lua: string): LoadedScript {
  redis.defineCommand(name, { lua });
  const command = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[name];
  if (typeof command !== 'function') throw new Error(`redis: could not register script ${name}`);
  return (keys, args) => command.call(redis, keys.length, ...keys, ...args);
}
