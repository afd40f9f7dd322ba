/**
 * Benchmarks (`npm run bench`): speed and memory figures, printed, never asserted.
 * Needs Redis at REDIS_URL or 127.0.0.1:6379 (scripts/ensure-redis.sh starts one). Everything runs
 * on this machine: the ECS simulator on loopback, the file vault in a temporary directory, Redis
 * under a unique key prefix that is deleted at the end.
 *
 *   npm run bench                  all
 *   npm run bench -- rotate 2000   only the end-to-end rotation, with 2000 servers
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { cryptoRandom } from '../src/adapters/crypto-random.js';
import { openFileVault } from '../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../src/adapters/huawei-ecs/create-ecs-client.js';
import { signRequest } from '../src/adapters/huawei-ecs/signer.js';
import { RedisAuditLog } from '../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../src/adapters/system-clock.js';
import { DEFAULT_PASSWORD_POLICY } from '../src/policy/password-policy.js';
import { generatePassword } from '../src/policy/password-generator.js';
import { runBatch } from '../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../src/simulator/demo-credentials.js';
import { startSimulator } from '../src/simulator/simulator.js';

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
function line(name: string, figures: Record<string, string | number>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(`${name.padEnd(34)} ${parts.join('  ')}\n`);
}

function benchPasswords(): void {
  const n = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) generatePassword(DEFAULT_PASSWORD_POLICY, cryptoRandom);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  line('password generation (default)', { passwords: n, seconds: s.toFixed(2), perSecond: Math.round(n / s) });
}

function benchSigner(): void {
  const n = 50_000;
  const body = JSON.stringify({ new_password: 'x'.repeat(20), servers: Array.from({ length: 100 }, (_, i) => ({ id: String(i) })) });
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    signRequest(
      { method: 'PUT', path: '/v1/p/cloudservers/os-reset-passwords', query: [], headers: { 'content-type': 'application/json', host: 'ecs.example.com', 'x-project-id': 'p' }, body },
      { accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
      Date.now(),
    );
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  line('request signing (100-server body)', { requests: n, seconds: s.toFixed(2), perSecond: Math.round(n / s) });
}

async function benchRotation(servers: number, batchSize: number, uniquePerServer: boolean): Promise<void> {
  const sim = await startSimulator({
    rebootDurationMs: 10,
    faults: { throttle: null },
    fleet: { kind: 'generated', count: servers, seed: 7, windowsRatio: 0.3, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'rotator-bench-'));
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const prefix = `rotator-bench-${process.pid}`;
  const logger = pino({ level: 'silent' });
  const vault = await openFileVault({ path: join(dir, 'vault.json.enc'), key: randomBytes(32), clock: systemClock, logger });
  const ecs = createEcsClient(
    { name: 'bench', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 15_000, requestsPerSecond: 10_000, maxAttempts: 3 },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    { clock: systemClock, random: cryptoRandom, logger },
  );
  const ids = sim.servers().map((s) => s.id);
  const target = { name: 'bench', region: sim.region, projectId: sim.projectId, passwordPolicy: DEFAULT_PASSWORD_POLICY, uniquePerServer, restartPolicy: 'none' as const, dryRunPreflight: true };
  const deps = {
    ecs, vault, clock: systemClock, random: cryptoRandom, logger,
    locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
    outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
    audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
  };
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakRss = 0;
  const start = process.hrtime.bigint();
  let accepted = 0;
  for (let i = 0; i * batchSize < ids.length; i++) {
    const summary = await runBatch(deps, { runId: `bench-${Date.now()}`, target, batchIndex: i, serverIds: ids.slice(i * batchSize, (i + 1) * batchSize), dryRun: false });
    accepted += summary.counts['pending-restart'] + summary.counts['rotated-unverified'];
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  const vaultSize = (await stat(join(dir, 'vault.json.enc'))).size;
  line(`rotation ${uniquePerServer ? 'uniquePerServer' : `shared, batch ${batchSize}`}`, {
    servers, accepted, seconds: s.toFixed(2), serversPerSecond: (servers / s).toFixed(1),
    heapGrowth: mb(process.memoryUsage().heapUsed - heapBefore), peakRss: mb(peakRss), vaultFile: mb(vaultSize),
  });
  await vault.close();
  await sim.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
}

const [only, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
if (!only || only === 'passwords') benchPasswords();
if (!only || only === 'signer') benchSigner();
if (!only || only === 'rotate') {
  await benchRotation(count, 100, false);
  await benchRotation(Math.min(count, 300), 50, true);
}
