/**
 * Child process of rotation-crash.test.ts: runs one batch against the real simulator, file vault and
 * Redis, and at the line named by CRASH_AT prints `at:<point>` and stops there, so that the parent
 * SIGKILLs it at exactly that point. Passwords never leave this process (the vault file holds them).
 */
import { pino } from 'pino';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import type { Vault } from '../../src/ports/vault.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { wrapPort } from '../helpers/wrap-port.js';
import { createRedis } from '../helpers/redis.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`missing ${name}`);
  return value;
};
const crashAt = env('CRASH_AT');
const stopHere = async (point: string): Promise<void> => {
  if (point !== crashAt) return;
  process.stdout.write(`at:${point}\n`);
  await new Promise(() => undefined); // wait for SIGKILL
};

const logger = pino({ level: 'warn' }, pino.destination(2));
const redis = createRedis();
const prefix = env('PREFIX');
const vault = await openFileVault({ path: env('VAULT_PATH'), key: Buffer.from(env('VAULT_KEY'), 'hex'), clock: systemClock, logger });
const real = createEcsClient(
  { name: 'sim', region: env('REGION'), projectId: env('PROJECT_ID'), endpoint: env('SIM_URL'), requestTimeoutMs: 5000, requestsPerSecond: 1000, maxAttempts: 2 },
  { kind: 'aksk', ...DEMO_CREDENTIALS },
  { clock: systemClock, random: cryptoRandom, logger },
);
const ecs: EcsApi = wrapPort<EcsApi>(real, {
  batchResetPasswords: async (...args: Parameters<EcsApi['batchResetPasswords']>) => {
    if (!args[0].dryRun) await stopHere('before-reset');
    const result = await real.batchResetPasswords(...args);
    if (!args[0].dryRun) await stopHere('after-reset');
    return result;
  },
});
let stored = 0;
const crashingVault: Vault = wrapPort<Vault>(vault, {
  putPending: async (...args: Parameters<Vault['putPending']>) => {
    const result = await vault.putPending(...args);
    stored += 1;
    // The first store already holds its slot label (one write: src/rotation/labels.ts).
    if (stored === 1 && (args[3] ?? []).some((l) => l.startsWith('ROTATOR_UNCONFIRMED'))) await stopHere('after-slot');
    if (stored === 2) await stopHere('between-stores');
    return result;
  },
  promote: async (...args: Parameters<Vault['promote']>) => {
    await vault.promote(...args);
    await stopHere('after-promote');
  },
});

await runBatch(
  {
    ecs,
    vault: crashingVault,
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
    audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
    clock: systemClock,
    random: cryptoRandom,
    logger,
  },
  {
    runId: env('RUN_ID'),
    batchIndex: 0,
    serverIds: env('SERVER_IDS').split(','),
    dryRun: false,
    target: {
      name: 'crash',
      region: env('REGION'),
      projectId: env('PROJECT_ID'),
      passwordPolicy: DEFAULT_PASSWORD_POLICY,
      uniquePerServer: process.env.UNIQUE === '1',
      restartPolicy: 'none',
      dryRunPreflight: false,
    },
  },
);
process.stdout.write('finished\n');
await vault.close();
await redis.quit();
