import { Redis } from 'ioredis';

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
