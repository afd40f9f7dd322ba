/**
 * Commands issued in one tick leave the socket together (src/adapters/redis/coalesced-writes.ts),
 * against real Redis: the answers are the same and in order, the socket is handed one write instead
 * of one per command, and a reconnected client's new socket is coalesced too.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { deleteUnder, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const clients: Redis[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
});

/** Counts the writes the client's current socket is handed by Node's stream machinery. */
function countWrites(client: Redis): { writes: () => number } {
  const stream = (client as unknown as { stream: { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown } }).stream;
  let writes = 0;
  const single = stream._write.bind(stream);
  const vector = stream._writev.bind(stream);
  stream._write = (...a: unknown[]) => {
    writes += 1;
    return single(...a);
  };
  stream._writev = (...a: unknown[]) => {
    writes += 1;
    return vector(...a);
  };
  return { writes: () => writes };
}

async function ready(client: Redis): Promise<void> {
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
}

describe('coalesced Redis writes', () => {
  it('sends 200 commands of one tick in one write, with every answer right and in order', async () => {
    const client = createRedisConnection(REDIS_URL, 'rotator-test-coalesce');
    clients.push(client);
    await ready(client);
    const prefix = uniquePrefix('coalesce');
    try {
      const counter = countWrites(client);
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => client.incrby(`${prefix}:n`, i + 1)));
      expect(counter.writes()).toBe(1);
      // INCRBY answers the running total: in order, 1, 3, 6, …
      expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => ((i + 1) * (i + 2)) / 2));
      // Commands of later ticks are written in later writes: nothing waits for a tick that never comes.
      expect(await client.get(`${prefix}:n`)).toBe(String((200 * 201) / 2));
      expect(counter.writes()).toBe(2);
    } finally {
      await deleteUnder(client, prefix);
    }
  });

  it('coalesces the socket of a reconnected client too', async () => {
    const client = createRedisConnection(REDIS_URL, 'rotator-test-coalesce');
    clients.push(client);
    await ready(client);
    const reconnected = new Promise((resolve) => client.once('ready', resolve));
    client.disconnect(true);
    await reconnected;
    const counter = countWrites(client);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.echo(`m${i}`)));
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(counter.writes()).toBe(1);
  });
});
