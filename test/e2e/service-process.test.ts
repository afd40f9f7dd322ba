/**
 * The service as a real process: `rotator run` starts, answers, and exits 0 on SIGTERM after a
 * graceful stop. And the signal policy: a second signal exits at once with 130/143.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installShutdownSignals } from '../../src/shutdown-signals.js';
import { REDIS_URL, capturedLogger, deferred, deleteUnder, redisClient, uniquePrefix } from './queue-helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('signals', () => {
  it('first signal stops gracefully then exits 0; a second exits at once with 143 (SIGTERM) or 130 (SIGINT)', async () => {
    const { logger } = capturedLogger();
    const stopping = deferred();
    let stops = 0;
    const exits: number[] = [];
    const uninstall = installShutdownSignals(
      () => {
        stops += 1;
        return stopping.promise;
      },
      logger,
      (code) => exits.push(code),
    );
    cleanups.push(async () => uninstall());
    process.emit('SIGTERM', 'SIGTERM');
    expect(stops).toBe(1);
    expect(exits).toEqual([]); // still stopping
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
    stopping.resolve();
    await stopping.promise;
    await new Promise((r) => setImmediate(r));
    expect(stops).toBe(1);
    expect(exits).toEqual([130, 0]);
  });
});

describe('rotator run (child process)', () => {
  it('starts the worker and dashboard roles and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-proc-'));
    const prefix = uniquePrefix('proc');
    cleanups.push(async () => {
      const r = redisClient();
      await deleteUnder(r, prefix);
      r.disconnect();
      await rm(dir, { recursive: true, force: true });
    });
    await mkdir(join(dir, 'jobs'));
    await writeFile(
      join(dir, 'service.yaml'),
      JSON.stringify({
        redis: { url: REDIS_URL, keyPrefix: prefix },
        vault: { kind: 'file', file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } },
        http: { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, readOnly: true },
        simulator: { enabled: true, host: '127.0.0.1', port: 0, servers: 4, seed: 3 },
        logging: { level: 'info', format: 'json' },
      }),
    );
    await writeFile(
      join(dir, 'jobs', 'demo.yaml'),
      'name: demo\naccount: demo\nschedule: "0 3 * * *"\ntimezone: UTC\nselector: { tags: { rotate: "true" } }\n',
    );
    const child = spawn(process.execPath, ['bin/rotator.js', 'run', '--role', 'worker,dashboard'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        ROTATOR_FROM_SOURCE: '1',
        ROTATOR_CONFIG: join(dir, 'service.yaml'),
        ROTATOR_JOBS_DIR: join(dir, 'jobs'),
        ROTATOR_VAULT_KEY: randomBytes(32).toString('base64'),
        REDIS_URL,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(async () => void child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const dashboard = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"dashboard":"(http:\/\/[^"]+)\/ui"/.exec(out);
        if (m && out.includes('rotator: running')) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited early with ${code}: ${err}`)));
    });
    expect((await fetch(`${dashboard}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('shutdown: stopping');
  });
});
