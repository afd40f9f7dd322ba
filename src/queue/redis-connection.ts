import { Redis } from 'ioredis';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';
import { coalesceWrites } from '../adapters/redis/coalesced-writes.js';

/**
 * An ioredis client fit for BullMQ: `maxRetriesPerRequest: null` (a Worker refuses any other value,
 * and blocking commands must wait through reconnects rather than fail). The caller owns it and
 * must `quit()` it: an open client keeps the process alive.
 */
export function createRedisConnection(url: string, connectionName = 'rotator'): Redis {
  return coalesceWrites(new Redis(url, { maxRetriesPerRequest: null, connectionName, lazyConnect: false }));
}

/** Closes a client politely, then for sure (a `quit` to a dead server would hang). */
export async function closeRedisConnection(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  } catch {
    // Already closing or closed.
  }
  client.disconnect();
}

/** The Redis URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis.url';
  }
}

/**
 * Like {@link createRedisConnection}, but connects first and fails fast (invariant 6): when Redis
 * does not answer, rejects with one `RotatorError` `REDIS_UNAVAILABLE` naming the (redacted) URL and
 * the reason, instead of waiting for ever while ioredis prints an "Unhandled error event" stack per
 * reconnect. Once connected, the client reconnects as usual; its later connection errors go to
 * `onError` (BullMQ's queues and workers report them too). @param onError @defaultValue ignore them
 */
export async function connectRedis(url: string, connectionName: string, onError: (error: Error) => void = () => undefined): Promise<Redis> {
  const client = coalesceWrites(new Redis(url, { maxRetriesPerRequest: null, connectionName, lazyConnect: true }));
  let lastError: Error | undefined;
  let connected = false;
  client.on('error', (error: Error) => {
    lastError = error;
    if (connected) onError(error);
  });
  try {
    await client.connect();
    connected = true;
    return client;
  } catch (error) {
    client.disconnect();
    const reason = (lastError ?? (error as Error)).message;
    throw new RotatorError({
      code: ServiceErrorCode.redisUnavailable,
      retryable: true,
      message: `Redis does not answer at ${redactRedisUrl(url)} (${reason}); is it running? (redis.url in the config, or REDIS_URL)`,
    });
  }
}
