import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { MAX_EVENTS_PER_ENTRY, RedisAuditLog, parseAuditEntry } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { awaitingRestartReason, DRY_RUN_REASON, noResetPluginAnsweredReason } from '../../src/domain/standard-reasons.js';
import { RedisRateLimiter } from '../../src/adapters/redis/redis-rate-limiter.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import type { AuditEvent } from '../../src/ports/audit-log.js';
import type { ServerState } from '../../src/ports/outcome-store.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';

const redis: Redis = createRedis();
let prefix: string;

beforeEach(() => {
  prefix = uniquePrefix('redis-adapters');
});
afterEach(async () => {
  await deleteUnder(redis, prefix);
});
afterAll(async () => {
  await redis.quit();
});

describe('RedisServerLocks', () => {
  it('gives a free server to the first owner and reports it busy to the others', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    const a = await locks.acquireMany(['s1', 's2'], 'run-a|b0', 60_000);
    expect(a).toEqual({ held: ['s1', 's2'], busy: [] });
    const b = await locks.acquireMany(['s2', 's3'], 'run-b|b0', 60_000);
    expect(b).toEqual({ held: ['s3'], busy: ['s2'] });
    expect(await locks.holder('s2')).toBe('run-a|b0');
  });

  it('a re-run of a batch (same family, new execution) takes its locks over; the earlier execution finds them lost and cannot release them', async () => {
    // Found in review (2026-12-02): every execution of a batch used the batch job id as owner, so a
    // stalled execution that was still alive shared its re-run's locks and freed them when it ended.
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    expect((await locks.acquireMany(['f1', 'f2'], 'run-f|b0#first', 60_000)).held).toEqual(['f1', 'f2']);
    expect(await locks.acquireMany(['f1', 'f2'], 'run-f|b0#second', 60_000)).toEqual({ held: ['f1', 'f2'], busy: [] });
    expect(await locks.holder('f1')).toBe('run-f|b0#second');
    expect(await locks.renewMany(['f1', 'f2'], 'run-f|b0#first', 60_000)).toEqual({ renewed: [], lost: ['f1', 'f2'] });
    await locks.releaseMany(['f1', 'f2'], 'run-f|b0#first');
    expect(await locks.holder('f2')).toBe('run-f|b0#second');
    // Another batch (b1, b01, a prefix of b0 …) is another family: busy.
    for (const other of ['run-f|b1#x', 'run-f|b#x', 'run-f|b01#x', 'run-f|b0x']) expect((await locks.acquireMany(['f1'], other, 60_000)).busy).toEqual(['f1']);
    // A lock of an earlier release (the bare job id) is of the family too.
    await redis.set(`${prefix}:lock:f3`, 'run-f|b0', 'PX', 60_000);
    expect((await locks.acquireMany(['f3'], 'run-f|b0#third', 60_000)).held).toEqual(['f3']);
    await locks.releaseMany(['f1', 'f2', 'f3'], 'run-f|b0#second');
    await locks.releaseMany(['f3'], 'run-f|b0#third');
  });

  it('lets the same owner take its locks back (a re-run after a crash) and extends them', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await locks.acquireMany(['s1'], 'run-a|b0', 1_000);
    const again = await locks.acquireMany(['s1'], 'run-a|b0', 60_000);
    expect(again.held).toEqual(['s1']);
    expect(await redis.pttl(`${prefix}:lock:s1`)).toBeGreaterThan(1_000);
  });

  it('frees a lock when its TTL expires', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await locks.acquireMany(['s1'], 'dead-owner', 30);
    // Await the expiry itself (Redis deletes the key), not a fixed sleep.
    while ((await locks.holder('s1')) !== undefined) await new Promise((r) => setTimeout(r, 10));
    expect((await locks.acquireMany(['s1'], 'next', 60_000)).held).toEqual(['s1']);
  });

  it('renews only locks the owner still holds', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await locks.acquireMany(['s1'], 'me', 500);
    await locks.acquireMany(['s2'], 'other', 500);
    const r = await locks.renewMany(['s1', 's2', 's3'], 'me', 60_000);
    expect(r).toEqual({ renewed: ['s1'], lost: ['s2', 's3'] });
    expect(await redis.pttl(`${prefix}:lock:s1`)).toBeGreaterThan(500);
    expect(await redis.pttl(`${prefix}:lock:s2`)).toBeLessThanOrEqual(500);
  });

  it('releases only by owner', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await locks.acquireMany(['s1', 's2'], 'me', 60_000);
    await locks.releaseMany(['s1', 's2'], 'intruder');
    expect(await locks.holder('s1')).toBe('me');
    await locks.releaseMany(['s1'], 'me');
    expect(await locks.holder('s1')).toBeUndefined();
    expect(await locks.holder('s2')).toBe('me');
  });

  it('takes, renews and releases a whole batch of locks in one call each, sending the script by SHA', async () => {
    const client = createRedis();
    try {
      await client.ping(); // connected: no command of ours waits in the offline queue (and is counted twice)
      const sent: string[] = [];
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((command: { name: string }) => {
        sent.push(command.name);
        return send(command as never);
      }) as typeof client.sendCommand;
      const locks = new RedisServerLocks({ redis: client, keyPrefix: prefix });
      const ids = Array.from({ length: 300 }, (_, i) => `s${i}`);
      await redis.set(`${prefix}:lock:s7`, 'someone-else');
      const taken = await locks.acquireMany(ids, 'run-a|b0', 60_000);
      expect(taken.busy).toEqual(['s7']);
      expect(taken.held).toHaveLength(299);
      expect((await locks.renewMany(taken.held, 'run-a|b0', 60_000)).lost).toEqual([]);
      await locks.releaseMany(taken.held, 'run-a|b0');
      // ioredis sends EVALSHA and falls back to EVAL (the full text) once when Redis does not know the script yet.
      const scripts = sent.filter((name) => name === 'evalsha' || name === 'eval');
      expect(scripts.filter((name) => name === 'evalsha')).toHaveLength(3);
      expect(scripts.filter((name) => name === 'eval').length).toBeLessThanOrEqual(3);
      expect(await locks.holder('s0')).toBeUndefined();
      expect(await locks.holder('s7')).toBe('someone-else');
    } finally {
      await client.quit();
    }
  });

  it('rejects a non-positive TTL with a clear error', async () => {
    const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
    await expect(locks.acquireMany(['s1'], 'me', 0)).rejects.toThrow(/ttlMs must be a positive/);
  });
});

describe('RedisOutcomeStore', () => {
  it('keeps per-server state with consecutive failures, last success, and a per-target index', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix, pageSize: 2 });
    await store.recordMany([
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 's1', outcome: 'failed', code: 'Ecs.0613' } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 's2', outcome: 'pending-restart', versionId: 'v1' } },
      { target: 'db', runId: 'r2', at: 1000, outcome: { serverId: 's3', outcome: 'busy' } },
    ]);
    await store.recordMany([
      { target: 'web', runId: 'r2', at: 2000, outcome: { serverId: 's1', outcome: 'unknown', code: 'APIGW.0201', requestId: 'req-9' } },
    ]);
    const s1 = await store.getServer('s1');
    expect(s1).toMatchObject({ status: 'unknown', consecutiveFailures: 2, errorCode: 'APIGW.0201', requestId: 'req-9', runId: 'r2', lastAttemptAt: 2000 });
    // Failing since the first failure of the streak (1000), not the latest one.
    expect(s1?.failingSince).toBe(1000);
    expect(s1?.lastSuccessAt).toBeUndefined();

    await store.recordMany([
      { target: 'web', runId: 'r3', at: 3000, outcome: { serverId: 's1', outcome: 'rotated-unverified', versionId: 'v9' } },
    ]);
    const ok = await store.getServer('s1');
    expect(ok).toMatchObject({ status: 'rotated-unverified', consecutiveFailures: 0, lastSuccessAt: 3000, versionId: 'v9', errorCode: undefined });
    expect(ok?.failingSince).toBeUndefined();

    expect(await store.getServer('s2')).toMatchObject({ status: 'pending-restart', target: 'web', lastSuccessAt: 1000 });
    expect(await store.getServer('nope')).toBeUndefined();
    const listed: string[] = [];
    for await (const s of store.listTarget('web')) listed.push(s.serverId);
    expect(listed.sort()).toEqual(['s1', 's2']);
    expect(await store.countTarget('web')).toEqual({ verified: 0, 'rotated-unverified': 1, 'pending-restart': 1, failed: 0, unknown: 0, skipped: 0, busy: 0 });
    expect(await store.listTargets()).toEqual(['db', 'web']);
  });

  it('keeps the reason of a failure, not the fixed one of an accepted server, and stores no empty field', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    await store.recordMany([
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 's1', outcome: 'failed', code: 'Ecs.0613', reason: 'the plug-in is missing' } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 's2', outcome: 'pending-restart', versionId: 'v1', reason: 'accepted by Huawei; takes effect at the next restart' } },
    ]);
    expect((await store.getServer('s1'))?.reason).toBe('the plug-in is missing');
    expect((await store.getServer('s2'))?.reason).toBeUndefined();
    // Short field names, and no failure count of 0.
    expect(await redis.hgetall(`${prefix}:server:s2`)).toEqual({ s: 'pending-restart', at: '1000', ok: '1000', t: 'web', run: 'r1', v: 'v1' });
    // A later success clears the failure's code and reason rather than leaving them behind.
    await store.recordMany([{ target: 'web', runId: 'r2', at: 2000, outcome: { serverId: 's1', outcome: 'rotated-unverified', versionId: 'v2' } }]);
    expect(await store.getServer('s1')).toMatchObject({ status: 'rotated-unverified', errorCode: undefined, reason: undefined, versionId: 'v2' });
  });

  it('keeps a standard long reason by its short key, so that the state stays in Redis\'s compact form, and reads the sentence back in full', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    const awaiting = awaitingRestartReason(3, false);
    const answered = noResetPluginAnsweredReason('dry-run preflight', 'Ecs.0613');
    // Not a standard sentence (another word), and one that happens to start with the key mark.
    const own = `${awaiting.slice(0, -5)} later`;
    await store.recordMany([
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 'a', outcome: 'skipped', code: 'awaiting-restart', reason: awaiting } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 'b', outcome: 'skipped', code: 'no-reset-plugin', reason: answered } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 'c', outcome: 'skipped', code: 'dry-run', reason: DRY_RUN_REASON } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 'd', outcome: 'failed', code: 'X', reason: own } },
      { target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 'e', outcome: 'failed', code: 'X', reason: '@ar/3' } },
    ]);
    expect(await redis.hget(`${prefix}:server:a`, 'why')).toBe('@ar/3');
    expect(await redis.hget(`${prefix}:server:b`, 'why')).toBe('@np/1/Ecs.0613');
    expect(await redis.hget(`${prefix}:server:d`, 'why')).toBe(own);
    expect(await redis.hget(`${prefix}:server:e`, 'why')).toBe('@@ar/3');
    for (const id of ['a', 'b', 'c']) expect(await redis.call('OBJECT', 'ENCODING', `${prefix}:server:${id}`)).toBe('listpack');
    // The text was over 64 bytes: Redis keeps such a hash as a hashtable (several times larger).
    expect(await redis.call('OBJECT', 'ENCODING', `${prefix}:server:d`)).toBe('hashtable');
    expect((await store.getServer('a'))?.reason).toBe(awaiting);
    expect((await store.getServer('b'))?.reason).toBe(answered);
    expect((await store.getServer('c'))?.reason).toBe(DRY_RUN_REASON);
    expect((await store.getServer('d'))?.reason).toBe(own);
    expect((await store.getServer('e'))?.reason).toBe('@ar/3');
  });

  it('keeps the failure streak, its start and the last success through a busy or skipped outcome', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    await store.recordMany([{ target: 'web', runId: 'r1', at: 1000, outcome: { serverId: 's1', outcome: 'pending-restart', versionId: 'v1' } }]);
    await store.recordMany([{ target: 'web', runId: 'r2', at: 2000, outcome: { serverId: 's1', outcome: 'failed', code: 'Ecs.0605' } }]);
    await store.recordMany([{ target: 'web', runId: 'r3', at: 3000, outcome: { serverId: 's1', outcome: 'busy' } }]);
    const busy = await store.getServer('s1');
    expect(busy).toMatchObject({ status: 'busy', consecutiveFailures: 1, failingSince: 2000, lastSuccessAt: 1000, lastAttemptAt: 3000, errorCode: undefined });
    expect(await redis.hgetall(`${prefix}:server:s1`)).toEqual({ s: 'busy', at: '3000', ok: '1000', since: '2000', f: '1', t: 'web', run: 'r3' });
    await store.recordMany([{ target: 'web', runId: 'r4', at: 4000, outcome: { serverId: 's1', outcome: 'unknown', code: 'APIGW.0201' } }]);
    const again = await store.getServer('s1');
    expect(again).toMatchObject({ consecutiveFailures: 2, failingSince: 2000, lastSuccessAt: 1000 });
  });

  it('records each server with its own run and time when one call mixes them', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    await store.recordMany([
      { target: 'web', runId: 'run|web|a', at: 1000, outcome: { serverId: 's1', outcome: 'pending-restart', versionId: 'v1' } },
      { target: 'web', runId: 'run|web|a', at: 1500, outcome: { serverId: 's2', outcome: 'failed', code: 'Ecs.0605', reason: 'locked' } },
      { target: 'web', runId: 'run|web|b', at: 1500, outcome: { serverId: 's3', outcome: 'busy' } },
      { target: 'web', runId: 'r-other', at: 1500, outcome: { serverId: 's1', outcome: 'unknown', code: 'APIGW.0201' } },
    ]);
    expect(await store.getServer('s1')).toMatchObject({ status: 'unknown', runId: 'r-other', target: 'web', lastAttemptAt: 1500, lastSuccessAt: 1000, consecutiveFailures: 1, failingSince: 1500 });
    expect(await store.getServer('s2')).toMatchObject({ status: 'failed', runId: 'run|web|a', lastAttemptAt: 1500, errorCode: 'Ecs.0605', reason: 'locked' });
    expect(await store.getServer('s3')).toMatchObject({ status: 'busy', runId: 'run|web|b', lastAttemptAt: 1500 });
    expect(await redis.hget(`${prefix}:server:s1`, 't')).toBe('web'); // r-other names no target: kept
    expect(await redis.hget(`${prefix}:server:s3`, 't')).toBeNull();
  });

  it('leaves out the target a run id names, and reads it back from the run id', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    await store.recordMany([{ target: 'web-eu', runId: 'run|web-eu|20261127T1200Z', at: 1000, outcome: { serverId: 's1', outcome: 'pending-restart', versionId: 'v1' } }]);
    const s = await store.getServer('s1');
    expect(s).toMatchObject({ target: 'web-eu', runId: 'run|web-eu|20261127T1200Z' });
    expect(await redis.hget(`${prefix}:server:s1`, 't')).toBeNull();
    expect((await store.getServer('s1'))?.target).toBe('web-eu');
    // Recorded under another target than its run names (not expected): the target is kept.
    await store.recordMany([{ target: 'db', runId: 'run|web-eu|20261127T1300Z', at: 2000, outcome: { serverId: 's1', outcome: 'busy' } }]);
    expect(await store.getServer('s1')).toMatchObject({ target: 'db', status: 'busy' });
    const listed: string[] = [];
    for await (const st of store.listTarget('web-eu')) listed.push(st.serverId);
    expect(listed).toEqual([]); // it left web-eu's index lazily
  });

  it('reads a state hash of the previous release (long field names) and rewrites it on the next record, keeping its history', async () => {
    const store = new RedisOutcomeStore({ redis, keyPrefix: prefix });
    await redis.sadd(`${prefix}:targets`, 'web');
    await redis.sadd(`${prefix}:target:web`, 'old1', 'old2');
    await redis.hset(`${prefix}:server:old1`, { status: 'unknown', lastAttemptAt: '2000', target: 'web', runId: 'r1', consecutiveFailures: '2', failingSince: '1000', lastSuccessAt: '500', errorCode: 'APIGW.0201', reason: 'no answer', requestId: 'req-1', versionId: 'v1' });
    await redis.hset(`${prefix}:server:old2`, { status: 'pending-restart', lastAttemptAt: '2000', target: 'web', runId: 'r1', consecutiveFailures: '0', lastSuccessAt: '2000', versionId: 'v2' });
    const before = await store.getServer('old1');
    expect(before).toEqual({
      serverId: 'old1', target: 'web', runId: 'r1', status: 'unknown', lastAttemptAt: 2000, lastSuccessAt: 500, versionId: 'v1',
      errorCode: 'APIGW.0201', reason: 'no answer', requestId: 'req-1', consecutiveFailures: 2, failingSince: 1000,
    });
    const listed: ServerState[] = [];
    for await (const st of store.listTarget('web')) listed.push(st);
    expect(listed.map((st) => [st.serverId, st.status, st.consecutiveFailures]).sort()).toEqual([['old1', 'unknown', 2], ['old2', 'pending-restart', 0]]);

    // The streak goes on from the old record, and the hash holds short names only afterwards.
    await store.recordMany([{ target: 'web', runId: 'r2', at: 3000, outcome: { serverId: 'old1', outcome: 'failed', code: 'Ecs.0613' } }]);
    const after = await store.getServer('old1');
    expect(after).toEqual({
      serverId: 'old1', target: 'web', runId: 'r2', status: 'failed', lastAttemptAt: 3000, lastSuccessAt: 500, versionId: undefined,
      errorCode: 'Ecs.0613', reason: undefined, requestId: undefined, consecutiveFailures: 3, failingSince: 1000,
    });
    expect(await redis.hgetall(`${prefix}:server:old1`)).toEqual({ s: 'failed', at: '3000', ok: '500', t: 'web', run: 'r2', f: '3', since: '1000', code: 'Ecs.0613' });
    await store.recordMany([{ target: 'web', runId: 'r3', at: 4000, outcome: { serverId: 'old2', outcome: 'pending-restart', versionId: 'v3' } }]);
    const ok = await store.getServer('old2');
    expect(ok).toMatchObject({ consecutiveFailures: 0, lastSuccessAt: 4000, failingSince: undefined, versionId: 'v3' });
    expect(await redis.hgetall(`${prefix}:server:old2`)).toEqual({ s: 'pending-restart', at: '4000', ok: '4000', t: 'web', run: 'r3', v: 'v3' });
  });
});

describe('RedisAuditLog', () => {
  const event = (serverId: string, i: number): AuditEvent => ({
    ts: i, runId: 'r1', target: 'web', batchIndex: 0, step: 'setSecret', serverId, outcome: 'accepted', requestId: `req-${i}`,
  });

  it('returns one server’s events newest first, limited', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix, pageSize: 3 });
    await log.append(Array.from({ length: 20 }, (_, i) => event(i % 2 === 0 ? 'even' : 'odd', i)));
    const history = await log.readServerHistory('odd', 4);
    expect(history.map((e) => e.ts)).toEqual([19, 17, 15, 13]);
    expect(history[0]).toMatchObject({ serverId: 'odd', step: 'setSecret', outcome: 'accepted', requestId: 'req-19', batchIndex: 0 });
  });

  it('caps the stream (approximately) and bounds the history scan', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix, maxLen: 10, maxScan: 50, pageSize: 20 });
    await log.append([event('rare', 0)]);
    for (let i = 0; i < 10; i++) await log.append(Array.from({ length: 100 }, (_, j) => event('busy', 1 + i * 100 + j)));
    // MAXLEN ~ trims whole stream nodes (100 entries each by default), so the length is near the cap, not exact.
    expect(await redis.xlen(`${prefix}:audit`)).toBeLessThan(300);
    // The rare server's only event is beyond the bounded scan (and was trimmed anyway).
    expect(await log.readServerHistory('rare', 5)).toEqual([]);
    expect((await log.readServerHistory('busy', 5)).map((e) => e.ts)).toEqual([1000, 999, 998, 997, 996]);
  });
});

describe('RedisAuditLog entries', () => {
  const version = 'a'.repeat(64);
  const batchEvents = (step: AuditEvent['step'], outcome: string, n: number, extra: Partial<AuditEvent> = {}): AuditEvent[] =>
    Array.from({ length: n }, (_, i) => ({ ts: 1_000 + (i === n - 1 ? 1 : 0), runId: 'run|web|manual-1', target: 'web', batchIndex: 3, step, serverId: `srv-${i}`, outcome, ...extra }));

  it('writes one entry per step of a batch and up to 100 servers, the shared version and request once, and reads each server back', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix });
    await log.append(batchEvents('createSecret', 'stored', 250, { versionId: version }));
    await log.append([
      ...batchEvents('setSecret', 'accepted', 249, { versionId: version, requestId: 'req-1' }),
      { ts: 1_000, runId: 'run|web|manual-1', target: 'web', batchIndex: 3, step: 'setSecret', serverId: 'srv-249', outcome: 'failed', code: 'Ecs.0613', detail: 'no plug-in' },
    ]);
    const entries = await redis.xrange(`${prefix}:audit`, '-', '+');
    expect(entries).toHaveLength(2 * Math.ceil(250 / MAX_EVENTS_PER_ENTRY));
    const raw = entries.map(([, f]) => f.join(' ')).join('\n');
    // The version id appears once per group (one per entry, plus the two events noted a millisecond later), not once per server.
    expect(raw.split(version).length - 1).toBe(entries.length + 2);
    // Every event comes back, exactly once, with its own fields and time.
    const all = entries.flatMap(([id, f]) => parseAuditEntry(id, f));
    expect(all).toHaveLength(500);
    expect(all.filter((e) => e.serverId === 'srv-249').map((e) => [e.step, e.outcome, e.ts, e.code, e.detail, e.requestId])).toEqual([
      ['createSecret', 'stored', 1_001, undefined, undefined, undefined],
      ['setSecret', 'failed', 1_000, 'Ecs.0613', 'no plug-in', undefined],
    ]);
    const history = await log.readServerHistory('srv-120', 10);
    expect(history).toEqual([
      expect.objectContaining({ step: 'setSecret', outcome: 'accepted', versionId: version, requestId: 'req-1', runId: 'run|web|manual-1', target: 'web', batchIndex: 3, ts: 1_000 }),
      expect.objectContaining({ step: 'createSecret', outcome: 'stored', versionId: version, requestId: undefined, ts: 1_000 }),
    ]);
    expect(await log.readServerHistory('srv-12', 10)).toHaveLength(2); // a prefix of another id is not a match
  });

  it('keeps an entry within one stream node (about 3800 bytes of events) however long the ids', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix });
    const ids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    await log.append(ids.map((serverId) => ({ ts: 1, runId: 'run|web|manual-1', target: 'web', batchIndex: 0, step: 'createSecret', serverId, outcome: 'stored', versionId: version })));
    const entries = await redis.xrange(`${prefix}:audit`, '-', '+');
    const sizes = entries.map(([, f]) => f[f.indexOf('events') + 1]!.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3_800);
    expect(entries.length).toBeLessThanOrEqual(12);
    expect(entries.flatMap(([id, f]) => parseAuditEntry(id, f)).map((e) => e.serverId)).toEqual(ids);
  });

  it('keeps the order of two events of one server in one step', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix });
    const e = { ts: 5, runId: 'r', target: 'web', batchIndex: 0, step: 'finishSecret' as const, serverId: 'a' };
    await log.append([{ ...e, outcome: 'pending-dropped', detail: 'regenerating' }, { ...e, serverId: 'b', outcome: 'promoted' }, { ...e, outcome: 'promoted' }]);
    expect((await log.readServerHistory('a', 5)).map((x) => x.outcome)).toEqual(['promoted', 'pending-dropped']);
  });

  it('still reads the entries of the previous release (one per step and server)', async () => {
    const log = new RedisAuditLog({ redis, keyPrefix: prefix });
    await redis.xadd(`${prefix}:audit`, '*', 'ts', '7', 'runId', 'r0', 'target', 'web', 'batch', '2', 'step', 'finishSecret', 'serverId', 'a', 'outcome', 'promoted', 'code', '', 'versionId', 'v0', 'requestId', '', 'detail', '');
    await redis.xadd(`${prefix}:audit`, '*', 'ts', '8', 'runId', 'r0', 'target', 'web', 'batch', '2', 'step', 'record', 'serverId', 'b', 'outcome', 'pending-restart', 'code', '', 'versionId', '', 'requestId', '', 'detail', '');
    await log.append([{ ts: 9, runId: 'r1', target: 'web', batchIndex: 0, step: 'record', serverId: 'a', outcome: 'pending-restart' }]);
    const history = await log.readServerHistory('a', 5);
    expect(history.map((e) => [e.runId, e.step, e.outcome, e.versionId, e.ts, e.batchIndex])).toEqual([
      ['r1', 'record', 'pending-restart', undefined, 9, 0],
      ['r0', 'finishSecret', 'promoted', 'v0', 7, 2],
    ]);
  });
});

describe('RedisRateLimiter', () => {
  it('shares one budget between two Redis clients (two processes)', async () => {
    const other = createRedis();
    try {
      const waits: number[] = [];
      // The clock only waits; record the wait asked for and stop, instead of sleeping for real.
      const recordingClock = {
        sleep: async (ms: number) => {
          waits.push(ms);
          throw new Error('would wait');
        },
      };
      const key = `${prefix}:ratelimit:ecs`;
      // 0.1 requests/s: one every 10 s; a burst of 3 then nothing for seconds, whatever the machine's speed.
      const a = new RedisRateLimiter({ redis, key, requestsPerSecond: 0.1, burst: 3, clock: recordingClock });
      const b = new RedisRateLimiter({ redis: other, key, requestsPerSecond: 0.1, burst: 3, clock: recordingClock });
      await a.acquire();
      await b.acquire();
      await a.acquire();
      expect(waits).toEqual([]);
      await expect(b.acquire()).rejects.toThrow('would wait');
      await expect(a.acquire()).rejects.toThrow('would wait');
      expect(waits).toHaveLength(2);
      for (const w of waits) {
        expect(w).toBeGreaterThan(5_000);
        expect(w).toBeLessThanOrEqual(10_000);
      }
      // Another key is another budget.
      const c = new RedisRateLimiter({ redis: other, key: `${key}:other`, requestsPerSecond: 0.1, clock: recordingClock });
      await c.acquire();
      expect(waits).toHaveLength(2);
    } finally {
      await other.quit();
    }
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const clock = {
      sleep: (_ms: number, signal?: AbortSignal) =>
        new Promise<void>((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          controller.abort(new Error('aborted by test'));
        }),
    };
    const limiter = new RedisRateLimiter({ redis, key: `${prefix}:rl`, requestsPerSecond: 0.1, clock });
    await limiter.acquire();
    await expect(limiter.acquire(controller.signal)).rejects.toThrow('aborted by test');
  });

  it('rejects a bad rate with a clear error', () => {
    expect(() => new RedisRateLimiter({ redis, key: 'k', requestsPerSecond: 0, clock: { sleep: async () => {} } })).toThrow(/requestsPerSecond/);
  });
});
