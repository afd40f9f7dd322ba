/**
 * The CLI as a careless operator meets it (issue 13): an unknown command is an error even with
 * --help; with Redis down every Redis command prints one clear line (no ioredis stack, the Redis
 * password masked) and exits 1; `rotate --wait` says "waiting for a worker" only when no worker is
 * connected to the queue. The real CLI as a child process; real Redis with a unique key prefix.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, deferred, deleteUnder, redisClient, uniquePrefix } from './queue-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(HUAWEI_|ROTATOR_|REDIS_URL)/.test(key)) env[key] = value;
  return { ...env, ROTATOR_FROM_SOURCE: '1', NO_COLOR: '1', ROTATOR_LOG_LEVEL: 'silent', ...extra };
}

function cli(args: string[], env = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/rotator.js'), ...args], { cwd: ROOT, env, timeout: 90_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('unknown commands', () => {
  it('rotator <unknown> --help is an error naming the word, exit 1; known commands and help still work', async () => {
    for (const args of [['nosuch', '--help'], ['--config', 'x.yaml', 'rotatee', 'demo']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^rotator: unknown command "(nosuch|rotatee)" \(commands: run, /);
      expect(r.stdout).toBe('');
    }
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: rotator');
    const sub = await cli(['rotate', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Usage: rotator rotate');
  }, 240_000);
});

describe('Redis down', () => {
  it('status, history, rotate and run print one clear line and exit 1, with the Redis password masked', async () => {
    const env = cleanEnv({ REDIS_URL: 'redis://:cli-redis-password@127.0.0.1:1', ROTATOR_VAULT_KEY: Buffer.alloc(32, 7).toString('base64') });
    for (const args of [['status'], ['history', '--server', 'abc'], ['rotate', 'demo', '--wait'], ['run', '--role', 'scheduler']]) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('"config warning"'));
      expect(lines, args.join(' ')).toEqual([
        'rotator: Redis does not answer at redis://:***@127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1); is it running? (redis.url in the config, or REDIS_URL)',
      ]);
      expect(r.stderr).not.toContain('cli-redis-password');
      expect(r.stderr).not.toContain('[ioredis]');
    }
  }, 240_000);
});

describe('rotate --wait', () => {
  async function fixture() {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-wait-'));
    const prefix = uniquePrefix('wait13');
    cleanups.push(async () => {
      const r = redisClient();
      await deleteUnder(r, prefix);
      r.disconnect();
      await rm(dir, { recursive: true, force: true });
    });
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'service.yaml'), JSON.stringify({ redis: { url: REDIS_URL, keyPrefix: prefix } }));
    await writeFile(join(dir, 'jobs', 'web.yaml'), ['name: web', 'account: demo', 'schedule: "0 3 * * *"', 'selector: { tags: { rotate: "true" } }'].join('\n'));
    return { dir, prefix, args: ['--config', join(dir, 'service.yaml'), '--jobs', join(dir, 'jobs'), 'rotate', 'web', '--wait', '--timeout', '9'] };
  }

  it('says "waiting for a worker" when no worker is connected', async () => {
    const f = await fixture();
    const r = await cli(f.args);
    expect(r.stderr).toContain('waiting for a worker: none is connected to this queue');
    expect(r.code).toBe(1);
  }, 120_000);

  it('does not say it while a worker is alive, even when the run is not progressing', async () => {
    const f = await fixture();
    const release = deferred();
    const taken = deferred();
    const connection = redisClient();
    // A live worker that takes the run and holds it: busy, not missing.
    const worker = new Worker(
      'runs',
      async () => {
        taken.resolve();
        await release.promise;
      },
      { connection, prefix: f.prefix },
    );
    cleanups.push(async () => {
      release.resolve();
      await worker.close();
      connection.disconnect();
    });
    await worker.waitUntilReady();
    const r = await cli(f.args);
    await taken.promise;
    expect(r.stderr).not.toContain('waiting for a worker');
    expect(r.code).toBe(1);
  }, 120_000);
});
