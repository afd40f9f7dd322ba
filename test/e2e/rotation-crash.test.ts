/**
 * Invariant 3 with real crashes: a child process runs a batch and is SIGKILLed at a chosen line
 * (see rotation-crash-child.ts); the batch is then run again here, as BullMQ's stalled-job recovery
 * would. Whatever the line, every server ends with exactly one password sent (possibly twice, never
 * two different ones), that password labelled AWSCURRENT, and the locks taken back at once.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import { LABEL_CURRENT } from '../../src/ports/vault.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { createRedis, deleteUnder, dumpUnder, uniquePrefix } from '../helpers/redis.js';

const redis = createRedis();
afterAll(async () => {
  await redis.quit();
});

const IDS = ['a1111111-1111-4111-8111-111111111111', 'b2222222-2222-4222-8222-222222222222', 'c3333333-3333-4333-8333-333333333333'];

async function runChildUntil(envs: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'rotation-crash-child.ts')], {
    env: { ...process.env, ...envs },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const reached = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /at:(\S+)|finished/.exec(out);
      if (m) resolve(m[1] ?? 'finished');
    });
    child.once('exit', (code) => {
      if (!/at:|finished/.test(out)) reject(new Error(`child exited ${code} before its crash point: ${err.slice(-2000)}`));
    });
  });
  child.kill('SIGKILL');
  await exited;
  return reached;
}

describe('runBatch after a SIGKILL', () => {
  for (const unique of [false, true]) {
    for (const point of ['between-stores', 'before-reset', 'after-reset', 'after-slot', 'after-promote']) {
      it(`${unique ? 'uniquePerServer' : 'shared'}: killed at ${point}, the re-run finishes with one password per server`, async () => {
        const prefix = uniquePrefix('rotation-crash');
        const dir = await mkdtemp(join(tmpdir(), 'rotation-crash-'));
        const key = randomBytes(32);
        const sim = await startSimulator({
          fleet: { kind: 'servers', servers: IDS.map((id, i) => ({ id, name: `s${i}`, osType: i === 2 ? 'Windows' : 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' })) },
        });
        const logger = pino({ level: 'silent' });
        const vaultPath = join(dir, 'vault.json.enc');
        try {
          const reached = await runChildUntil({
            CRASH_AT: point, PREFIX: prefix, VAULT_PATH: vaultPath, VAULT_KEY: key.toString('hex'), REGION: sim.region,
            PROJECT_ID: sim.projectId, SIM_URL: sim.url, RUN_ID: `run-crash-${point}`, SERVER_IDS: IDS.join(','), UNIQUE: unique ? '1' : '0',
          });
          expect(reached).toBe(point);

          const vault = await openFileVault({ path: vaultPath, key, clock: systemClock, logger });
          try {
            const summary = await runBatch(
              {
                ecs: createEcsClient(
                  { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5000, requestsPerSecond: 1000, maxAttempts: 2 },
                  { kind: 'aksk', ...DEMO_CREDENTIALS },
                  { clock: systemClock, random: cryptoRandom, logger },
                ),
                vault,
                locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
                outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
                audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
                clock: systemClock,
                random: cryptoRandom,
                logger,
              },
              {
                runId: `run-crash-${point}`, batchIndex: 0, serverIds: IDS, dryRun: false,
                target: { name: 'crash', region: sim.region, projectId: sim.projectId, passwordPolicy: DEFAULT_PASSWORD_POLICY, uniquePerServer: unique, restartPolicy: 'none', dryRunPreflight: false },
              },
            );
            // The re-run took the dead process's locks back at once (same owner), nobody is busy.
            expect(summary.counts['pending-restart']).toBe(3);
            const passwords: string[] = [];
            for (const id of IDS) {
              const received = sim.receivedSequence(id).map((r) => r.password);
              expect(received.length).toBeGreaterThanOrEqual(1);
              expect(new Set(received)).toEqual(new Set([1])); // never two different passwords
              const current = await vault.getVersion({ region: sim.region, projectId: sim.projectId, serverId: id }, { label: LABEL_CURRENT });
              expect(current).toBeDefined();
              expect(sim.login(id, current?.value.password ?? '')).toEqual({ now: false, afterRestart: true });
              passwords.push(current?.value.password ?? '');
            }
            expect(new Set(passwords).size).toBe(unique ? 3 : 1);
            const redisText = await dumpUnder(redis, prefix);
            for (const p of passwords) expect(redisText.includes(p)).toBe(false);
          } finally {
            await vault.close();
          }
        } finally {
          await sim.close();
          await deleteUnder(redis, prefix);
          await rm(dir, { recursive: true, force: true });
        }
      });
    }
  }
});
