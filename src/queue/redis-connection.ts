import { Redis } from 'ioredis';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';

/**
 * An ioredis client fit for BullMQ: `maxRetriesPerRequest: null` (a Worker refuses any other value,
 * and blocking commands must wait through reconnects rather than fail). The caller owns it and
 * must `quit()` it: an open client keeps the process alive.
 */
export function createRedisConnection(url: string, connectionName = 'rotator'): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName, lazyConnect: false });
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

/** Fails fast (invariant 6) when Redis does not answer: the error names `redis.url` without its password. */
export async function expectRedisAnswers(client: Redis, url: string): Promise<void> {
  try {
    await client.ping();
  } catch (error) {
    throw new RotatorError({
      code: ServiceErrorCode.redisUnavailable,
      message: `Redis does not answer at redis.url (${redactUrl(url)}): ${(error as Error).message}`,
      retryable: true,
    });
  }
}

/** The Redis URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis.url';
  }
}
