import type { Redis } from 'ioredis';
import { loadScript, type LoadedScript } from './redis-script.js';
import { OUTCOME_KINDS, REASON_IMPLIED_OUTCOMES, type OutcomeKind } from '../../domain/outcome.js';
import type { OutcomeRecord, OutcomeStore, ServerState } from '../../ports/outcome-store.js';
import { targetOfRunId } from '../../domain/job-ids.js';
import { reasonFromStored, storedReason } from '../../domain/standard-reasons.js';

/**
 * Writes the state hashes of a run of servers of one target, each atomically: consecutive failures
 * and last success depend on the previous state, and two workers must not interleave a read and a
 * write. One call per batch (not one per server): a server's record cost a command, a reply and a
 * socket write of its own. Short field names ({@link FIELDS}): the names are stored in every
 * server's hash, and a fleet of 100k servers pays for each byte 100k times. A hash of the previous
 * release (long names) is carried over and rewritten with short names on its first new record.
 * KEYS: the targets set, the target's index set, then one state hash per server.
 * ARGV: the target's name, then what every server of the call shares: at, target ('' when the run id
 * names it), runId; then per server: status, versionId, errorCode, reason, requestId ('' = none),
 * serverId. (The shared three were sent once per server: about 80 bytes each, a fleet's worth per run.)
 * Returns the number of servers recorded: nothing per server. The states were returned once (as
 * HGETALL gives them) and never read; at 20,000 servers that reply was about 240,000 strings for
 * Redis to send and the worker to parse.
 */
const RECORD_MANY = `
local function record(key, status, at, target, runId, versionId, code, reason, requestId)
  local old = redis.call('HMGET', key, 'f', 'ok', 'since', 'status')
  if old[4] then
    -- A hash of the previous release (long names): its history carries over, its fields go.
    local prev = redis.call('HMGET', key, 'lastSuccessAt', 'failingSince', 'consecutiveFailures')
    redis.call('HDEL', key, 'status', 'lastAttemptAt', 'lastSuccessAt', 'target', 'runId', 'consecutiveFailures',
      'failingSince', 'versionId', 'errorCode', 'reason', 'requestId')
    old = { prev[3], prev[1], prev[2] }
  end
  local failures = tonumber(old[1] or '0')
  local ok, since = old[2], old[3]
  if status == 'failed' or status == 'unknown' then
    failures = failures + 1
    if failures == 1 then since = at end
  elseif status == 'verified' or status == 'rotated-unverified' or status == 'pending-restart' then
    failures = 0
    ok = at
    since = false
  end
  -- One HSET of the fields that have a value and one HDEL of those that have none (absent rather
  -- than stored empty; a failure count of 0 and a target the run id names included): a server costs
  -- three commands, not one per field.
  local set = { 's', status, 'at', at, 'run', runId }
  local del = {}
  local function put(field, value)
    if value and value ~= '' then
      set[#set + 1] = field
      set[#set + 1] = value
    else
      del[#del + 1] = field
    end
  end
  put('ok', ok)
  put('since', since)
  put('f', failures > 0 and tostring(failures) or false)
  put('t', target)
  put('v', versionId)
  put('code', code)
  put('why', reason)
  put('req', requestId)
  redis.call('HSET', key, unpack(set))
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
end
local n = #KEYS - 2
-- The index first: a listed id without a state hash is skipped by readers.
redis.call('SADD', KEYS[1], ARGV[1])
local ids = {}
local at, target, runId = ARGV[2], ARGV[3], ARGV[4]
for i = 1, n do
  ids[#ids + 1] = ARGV[4 + i * 6]
  if #ids == 500 or i == n then
    redis.call('SADD', KEYS[2], unpack(ids))
    ids = {}
  end
end
for i = 1, n do
  local a = 4 + (i - 1) * 6
  record(KEYS[2 + i], ARGV[a + 1], at, target, runId, ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
end
return n`;

/** Servers per script call: bounds the time one call holds Redis (a batch has at most 1000 servers). */
const RECORDS_PER_CALL = 1000;

/**
 * The fields of a server's state hash, and the names the previous release wrote (still read).
 * Absent optional fields: no value (`f` absent: no failure in a row).
 */
const FIELDS = {
  status: ['s', 'status'],
  lastAttemptAt: ['at', 'lastAttemptAt'],
  lastSuccessAt: ['ok', 'lastSuccessAt'],
  target: ['t', 'target'],
  runId: ['run', 'runId'],
  consecutiveFailures: ['f', 'consecutiveFailures'],
  failingSince: ['since', 'failingSince'],
  versionId: ['v', 'versionId'],
  errorCode: ['code', 'errorCode'],
  reason: ['why', 'reason'],
  requestId: ['req', 'requestId'],
} as const;

/**
 * Outcomes whose reason is not stored: it is a fixed sentence about the restart policy, and a fleet
 * of them would hold the same prose once per server. Failures, skips and unknowns keep theirs.
 */
const REASON_IMPLIED: ReadonlySet<OutcomeKind> = new Set<OutcomeKind>(REASON_IMPLIED_OUTCOMES);

export interface RedisOutcomeStoreOptions {
  redis: Redis;
  /**
   * Key prefix, e.g. `rotator`. Keys: `<prefix>:server:<id>` (hash: `s` status, `at` last attempt,
   * `ok` last success, `t` target (absent when the run id `run|<target>|…` names it), `run` run id, `f` failures in a row, `since` failing since, `v`
   * version id, `code` error code, `why` reason, `req` request id), `<prefix>:target:<name>` (set of
   * ids), `<prefix>:targets`.
   */
  keyPrefix: string;
  /** Ids read per SSCAN page when listing a target. @defaultValue 500 */
  pageSize?: number;
}

/**
 * Per-server rotation state in Redis hashes, indexed by target with a set; the index is written
 * first, and a listed id without a state hash is skipped. A batch's records are one script call
 * over several keys, so on Redis Cluster they must share a slot: the key prefix must hold a hash
 * tag (`{rotator}`), as for the server locks and BullMQ.
 */
export class RedisOutcomeStore implements OutcomeStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #pageSize: number;
  readonly #record: LoadedScript;

  constructor(options: RedisOutcomeStoreOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#pageSize = options.pageSize ?? 500;
    this.#record = loadScript(options.redis, 'rotatorOutcomeRecordMany', RECORD_MANY);
  }

  #serverKey(id: string): string {
    return `${this.#prefix}:server:${id}`;
  }
  #targetKey(target: string): string {
    return `${this.#prefix}:target:${target}`;
  }

  async recordMany(records: readonly OutcomeRecord[]): Promise<void> {
    // Consecutive records of one target, run and time go in one call, in order (a server named twice
    // is recorded twice, in order). A batch's records share all three.
    for (let start = 0; start < records.length; ) {
      const { target, runId, at } = records[start]!;
      let end = start + 1;
      while (end < records.length && end - start < RECORDS_PER_CALL && records[end]!.target === target && records[end]!.runId === runId && records[end]!.at === at) end += 1;
      const keys = [`${this.#prefix}:targets`, this.#targetKey(target)];
      const args: string[] = [target, String(at), targetOfRunId(runId) === target ? '' : target, runId];
      for (let i = start; i < end; i++) {
        const o = records[i]!.outcome;
        keys.push(this.#serverKey(o.serverId));
        // A standard sentence goes by its short key (domain/standard-reasons.ts): one value over 64
        // bytes would make Redis keep the whole hash in its larger form.
        args.push(o.outcome, o.versionId ?? '', o.code ?? '', REASON_IMPLIED.has(o.outcome) || o.reason === undefined ? '' : storedReason(o.reason), o.requestId ?? '', o.serverId);
      }
      await this.#record(keys, args);
      start = end;
    }
  }

  async getServer(serverId: string): Promise<ServerState | undefined> {
    const hash = await this.#redis.hgetall(this.#serverKey(serverId));
    return Object.keys(hash).length === 0 ? undefined : parseState(serverId, hash);
  }

  async *listTarget(target: string): AsyncIterable<ServerState> {
    let cursor = '0';
    do {
      const [next, ids] = await this.#redis.sscan(this.#targetKey(target), cursor, 'COUNT', this.#pageSize);
      cursor = next;
      const states = await Promise.all(ids.map((id) => this.getServer(id)));
      for (const s of states) {
        // A server later recorded under another target leaves this index lazily.
        if (s !== undefined && s.target === target) yield s;
      }
    } while (cursor !== '0');
  }

  async countTarget(target: string): Promise<Record<OutcomeKind, number>> {
    const counts = Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
    for await (const s of this.listTarget(target)) counts[s.status] += 1;
    return counts;
  }

  async listTargets(): Promise<string[]> {
    return (await this.#redis.smembers(`${this.#prefix}:targets`)).sort();
  }
}

function parseState(serverId: string, h: Record<string, string>): ServerState {
  // A hash holds either release's names (a hash of the previous release is rewritten on its next record).
  const get = (field: keyof typeof FIELDS): string | undefined => {
    const [short, long] = FIELDS[field];
    return h[short] ?? h[long];
  };
  const opt = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const time = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const status = get('status') as OutcomeKind;
  const reason = opt(get('reason'));
  return {
    serverId,
    target: get('target') ?? targetOfRunId(get('runId') ?? '') ?? '',
    runId: get('runId') ?? '',
    status: (OUTCOME_KINDS as readonly string[]).includes(status) ? status : 'unknown',
    lastAttemptAt: Number(get('lastAttemptAt') ?? 0),
    lastSuccessAt: time(get('lastSuccessAt')),
    versionId: opt(get('versionId')),
    errorCode: opt(get('errorCode')),
    reason: reason === undefined ? undefined : reasonFromStored(reason),
    requestId: opt(get('requestId')),
    consecutiveFailures: Number(get('consecutiveFailures') ?? 0),
    failingSince: time(get('failingSince')),
  };
}
