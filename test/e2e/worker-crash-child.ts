/**
 * Child process of worker-crash.test.ts: a real worker (src/queue's BullMQ workers, the production
 * rotation use cases built by src/rotation/rotation-service.ts's factory, the real file vault shared
 * with the parent, real Redis, the parent's simulator over HTTP). Only the adapters differ from
 * production: every side-effecting call of the vault, the ECS client, the locks and the outcome store
 * is wrapped, so that the process stops dead at a chosen call. The batch a call belongs to is known
 * through AsyncLocalStorage, entered around each batch: no copy of the wiring here.
 *
 * Protocol on stdout (no password ever; ids, labels and counters only):
 * - `ready` once both workers listen;
 * - `call:<n>:<op>:<target>:b<batch>` before each side-effecting call (the parent uses the last one
 *   to name where a timer-based kill landed);
 * - `at:<n>:<before|after>:<op>:<target>:b<batch>` at the crash point, after which the whole
 *   process freezes (the event loop is blocked: no other call, timer or lock renewal runs) until
 *   the parent's SIGKILL.
 *
 * CRASH (JSON, optional): `{ when: 'before' | 'after', op: '<op>' | '*', nth: n, target? }`: stop
 * before or after the n-th call of `op` (or of any side-effecting call, `*`) made by this process
 * (for `target`'s batches only, when given).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeSync } from 'node:fs';
import { pino } from 'pino';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog, RedisOutcomeStore, RedisServerLocks } from '../../src/adapters/redis/index.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import type { OutcomeStore } from '../../src/ports/outcome-store.js';
import type { ServerLocks } from '../../src/ports/server-locks.js';
import type { Vault } from '../../src/ports/vault.js';
import { RotationQueues } from '../../src/queue/rotation-queues.js';
import { startRotationWorkers } from '../../src/queue/rotation-workers.js';
import { createRotationService, type RotateBatch, type RotationTarget } from '../../src/rotation/rotation-service.js';
import { RedisHostKeyStore } from '../../src/adapters/redis/redis-host-key-store.js';
import { SshPasswordVerifier } from '../../src/adapters/ssh/ssh-password-verifier.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { createRedis } from '../helpers/redis.js';
import type { ChildTarget, CrashSpec } from './worker-crash-protocol.js';
import { writeManyBySecret } from '../../src/adapters/vault-batch.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`worker-crash-child: missing ${name}`);
  return value;
};

const crash: CrashSpec | undefined = process.env.CRASH ? (JSON.parse(process.env.CRASH) as CrashSpec) : undefined;
const targets = JSON.parse(env('TARGETS')) as ChildTarget[];
const region = env('REGION');
const projectId = env('PROJECT_ID');
const prefix = env('PREFIX');

// Synchronous writes: the line must be in the pipe before the process freezes.
const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};
const freeze = (): never => {
  // Blocks the main thread for good: the process is stopped exactly here, as if killed on this line.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error('unreachable');
};

let calls = 0;
const callsOf = new Map<string, number>();
const count = (key: string): number => {
  const n = (callsOf.get(key) ?? 0) + 1;
  callsOf.set(key, n);
  return n;
};

/** `<target>:b<batch>` of the batch being rotated, entered around each batch (see rotateBatch below). */
const batchWhere = new AsyncLocalStorage<string>();

/** Runs one side-effecting call, stopping before or after it when it is the crash point. */
async function sideEffect<T>(op: string, run: () => Promise<T>): Promise<T> {
  const where = batchWhere.getStore();
  if (where === undefined) throw new Error(`worker-crash-child: ${op} called outside a batch`);
  const n = ++calls;
  const target = where.slice(0, where.lastIndexOf(':'));
  const nOfOp = count(op);
  const nOfOpInTarget = count(`${op}@${target}`);
  const hit =
    crash !== undefined &&
    (crash.op === '*'
      ? crash.nth === n
      : crash.op === op && (crash.target === undefined ? crash.nth === nOfOp : crash.target === target && crash.nth === nOfOpInTarget));
  say(`call:${n}:${op}:${where}`);
  if (hit && crash.when === 'before') {
    say(`at:${n}:before:${op}:${where}`);
    freeze();
  }
  const result = await run();
  if (hit && crash.when === 'after') {
    say(`at:${n}:after:${op}:${where}`);
    freeze();
  }
  return result;
}

/** `moveLabel:UNCONFIRMED`, `removeLabel:PENDING`, …: the label kind is part of the point. */
function labelKind(label: string): string {
  if (label.startsWith('ROTATOR_UNCONFIRMED')) return 'UNCONFIRMED';
  if (label === 'ROTATOR_ACTIVE') return 'ACTIVE';
  return label.replace(/^AWS/, '');
}

// Debug level, to stderr: everything the rotator may log is captured by the parent and scanned.
const logger = pino({ level: 'debug' }, pino.destination({ dest: 2, sync: true }));
const redis = createRedis();
const vault = await openFileVault({ path: env('VAULT_PATH'), key: Buffer.from(env('VAULT_KEY'), 'hex'), clock: systemClock, logger });
const ecs = createEcsClient(
  { name: 'sim', region, projectId, endpoint: env('SIM_URL'), requestTimeoutMs: 5000, requestsPerSecond: 1000, maxAttempts: 3 },
  { kind: 'aksk', ...DEMO_CREDENTIALS },
  { clock: systemClock, random: cryptoRandom, logger },
);
const locks = new RedisServerLocks({ redis, keyPrefix: prefix });
// Verification by login through the parent's simulator: its label moves (ROTATOR_ACTIVE, slots freed) are crash points too.
const verifier = new SshPasswordVerifier({ hostKeys: new RedisHostKeyStore({ redis, keyPrefix: prefix }), clock: systemClock, timeoutMs: 5_000 });
const outcomes = new RedisOutcomeStore({ redis, keyPrefix: prefix });
const audit = new RedisAuditLog({ redis, keyPrefix: prefix });

function crashingVault(): Vault {
  const wrapped: Vault = {
    // Batched writes go through the crashing single methods above, one by one: every write is a crash point.
    writeMany: (writes) => writeManyBySecret(wrapped, writes),
    describeMany: (keys) => vault.describeMany(keys),
    ensureSecret: (key) => sideEffect('ensureSecret', () => vault.ensureSecret(key)),
    putPending: (key, token, value) => sideEffect('putPending', () => vault.putPending(key, token, value)),
    promote: (key, versionId, expected) => sideEffect('promote', () => vault.promote(key, versionId, expected)),
    moveLabel: (key, label, versionId) => sideEffect(`moveLabel:${labelKind(label)}`, () => vault.moveLabel(key, label, versionId)),
    removeLabel: (key, label, versionId) => sideEffect(`removeLabel:${labelKind(label)}`, () => vault.removeLabel(key, label, versionId)),
    getVersion: (key, selector) => vault.getVersion(key, selector),
    describe: (key) => vault.describe(key),
    list: (filter) => vault.list(filter),
    close: () => vault.close(),
  };
  return wrapped;
}

function crashingEcs(): EcsApi {
  return {
    batchResetPasswords: (input, options) =>
      input.dryRun === true ? ecs.batchResetPasswords(input, options) : sideEffect('batchResetPasswords', () => ecs.batchResetPasswords(input, options)),
    batchReboot: (ids, type, options) => sideEffect('batchReboot', () => ecs.batchReboot(ids, type, options)),
    listServers: (filter, options) => ecs.listServers(filter, options),
    getServer: (id, options) => ecs.getServer(id, options),
    getResetPasswordFlag: (id, options) => ecs.getResetPasswordFlag(id, options),
    getJob: (id, options) => ecs.getJob(id, options),
    waitForJob: (id, options) => ecs.waitForJob(id, options),
  };
}

function crashingLocks(): ServerLocks {
  return {
    acquireMany: (ids, owner, ttl) => locks.acquireMany(ids, owner, ttl),
    renewMany: (ids, owner, ttl) => locks.renewMany(ids, owner, ttl),
    releaseMany: (ids, owner) => sideEffect('releaseLocks', () => locks.releaseMany(ids, owner)),
    holder: (id) => locks.holder(id),
  };
}

function crashingOutcomes(): OutcomeStore {
  return {
    recordMany: (records) => sideEffect('recordOutcomes', () => outcomes.recordMany(records)),
    getServer: (id) => outcomes.getServer(id),
    listTarget: (target) => outcomes.listTarget(target),
    countTarget: (target) => outcomes.countTarget(target),
    listTargets: () => outcomes.listTargets(),
  };
}

/** The parent's targets as the use cases see them: explicit ids on the simulator's account. */
const rotationTargets = new Map(
  targets.map((t): [string, RotationTarget] => [
    t.name,
    {
      name: t.name,
      account: 'sim',
      enabled: true,
      selector: { serverIds: t.serverIds },
      batchSize: t.batchSize,
      passwordPolicy: DEFAULT_PASSWORD_POLICY,
      uniquePerServer: t.uniquePerServer,
      restartPolicy: t.restartPolicy,
      dryRunPreflight: false,
      verify: { method: 'ssh', user: 'root', port: Number(env('SSH_PORT')), address: 'private', timeoutMs: 5_000, concurrency: 8 },
    },
  ]),
);

// The production factory, given the crashing adapters.
const ecsWithCrashes = crashingEcs();
const service = createRotationService({
  target: (name) => rotationTargets.get(name),
  account: () => ({ region, projectId }),
  ecsFor: () => ecsWithCrashes,
  vault: crashingVault(),
  locks: crashingLocks(),
  outcomes: crashingOutcomes(),
  audit,
  clock: systemClock,
  random: cryptoRandom,
  logger,
  rebootPollIntervalMs: 100,
  rebootDeadlineMs: 20_000,
  verifier,
  verifyRetryDelayMs: 200,
});

const rotateBatch: RotateBatch = (request, context) => batchWhere.run(`${request.target}:b${request.batchIndex}`, () => service.rotateBatch(request, context));

const queues = new RotationQueues({
  connection: redis,
  prefix,
  keepCompleted: { count: 1000, ageSeconds: 3600 },
  keepFailed: { count: 1000, ageSeconds: 3600 },
  batchBackoffMs: 200,
  runBackoffMs: 200,
});
const workers = startRotationWorkers({
  queues,
  connection: redis,
  planRun: service.planRun,
  rotateBatch,
  // Crash recovery only: the admission check has its own tests (batch-admission*.test.ts).
  admitBatch: async () => undefined,
  logger,
  // One batch at a time: the n-th call of this process is a well-defined point.
  concurrency: 1,
  runConcurrency: 1,
  lockDurationMs: Number(env('LOCK_MS')),
  stalledIntervalMs: Number(env('STALLED_MS')),
  // Every batch is killed many times in this test; a real deployment keeps a small bound.
  maxStalledCount: 1000,
});
await workers.waitUntilReady();
say('ready');
