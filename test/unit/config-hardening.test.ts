/**
 * Input robustness of the config loader (issue 13): size-capped `*_FILE` and YAML reads, alias
 * bombs, the jobs-directory fallback as README.md states it, a readable vault key, sub-minute
 * schedules, and unauthenticated non-loopback HTTP binds. Real files in a temp directory; the
 * `config check` cases run the real CLI.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { MAX_SECRET_FILE_BYTES, readFileBoundedSync } from '../../src/config/bounded-read.js';

const ROOT = resolve(import.meta.dirname, '../..');
const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-harden-'));
  temps.push(dir);
  return dir;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(HUAWEI_|ROTATOR_|REDIS_URL)/.test(key)) env[key] = value;
  return { ...env, ROTATOR_FROM_SOURCE: '1', NO_COLOR: '1', ...extra };
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/rotator.js'), ...args], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const demoJob = (name: string): string =>
  [`name: ${name}`, 'account: demo', 'schedule: "0 3 * * *"', 'selector: { tags: { rotate: "true" } }'].join('\n');

const issuesOf = (result: Awaited<ReturnType<typeof loadConfig>>): string[] => (result.ok ? [] : result.issues.map((i) => i.message));

describe('size caps', () => {
  it('a *_FILE pointing at /dev/zero is a problem naming the variable, read only up to the cap', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'demo.yaml'), demoJob('demo'));
    await writeFile(join(dir, 'token.yaml'), 'http: { auth: { mode: token } }\n');
    const withToken = await loadConfig({
      cwd: dir,
      jobsDir: join(dir, 'jobs'),
      configPath: join(dir, 'token.yaml'),
      env: { ROTATOR_HTTP_TOKEN_FILE: '/dev/zero', ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') },
    });
    const issues = issuesOf(withToken);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain('ROTATOR_HTTP_TOKEN_FILE');
    expect(issues[0]).toContain(`larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    expect(() => readFileBoundedSync('/dev/zero', 1024)).toThrow(/larger than 1024 bytes/);
  });

  it('HUAWEI_SK_FILE and the vault key file on /dev/zero are problems too, as is a 2 MB job file', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'demo.yaml'), demoJob('demo'));
    await writeFile(join(dir, 'jobs', 'huge.yaml'), `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    await writeFile(
      join(dir, 'prod.yaml'),
      'accounts:\n  - { name: demo, region: eu-west-101, projectId: 77b6a44cba5143ab91d13ab9a8ff44fd }\n',
    );
    const result = await loadConfig({
      cwd: dir,
      jobsDir: join(dir, 'jobs'),
      configPath: join(dir, 'prod.yaml'),
      env: { HUAWEI_AK: 'AK', HUAWEI_SK_FILE: '/dev/zero', ROTATOR_VAULT_KEY_FILE: '/dev/zero' },
    });
    const issues = issuesOf(result);
    expect(issues.find((m) => m.includes('HUAWEI_SK_FILE'))).toMatch(/larger than 65536 bytes/);
    expect(issues.find((m) => m.includes('ROTATOR_VAULT_KEY_FILE'))).toMatch(/larger than 65536 bytes/);
    expect(issues.find((m) => m.startsWith('jobs/huge.yaml') || m.includes('huge.yaml'))).toMatch(/at most 1048576 bytes, found a file larger than 1048576 bytes/);
  });
});

describe('a secret put into a *_FILE variable by mistake (found in review, 2026-12-02)', () => {
  // The value is taken as a path: "cannot read /app/<the secret> (ENOENT)" printed it into the
  // config check, the start-up warnings and the container log. A value with no existing directory
  // is never shown now; a real path still is.
  const SK_MARKER = 'hW3iSecretKeyValue0123456789abcdefghij';
  const AK_MARKER = 'AKIAMARKER00000000001';
  const TOKEN_MARKER = 'bearer-token-marker-0123456789abcdef';
  // A base64 key may hold "/": a directory part that does not exist is not shown either.
  const KEY_MARKER = 'q1w2e3r4/t5y6u7i8o9p0asdfghjklzxcvbnmQWERTY0123=';
  const markers = [SK_MARKER, AK_MARKER, TOKEN_MARKER, KEY_MARKER, 't5y6u7i8o9p0asdfghjklzxcvbnmQWERTY0123'];

  async function setUp(enabledTargetUsesAccount: boolean): Promise<string> {
    const dir = await tempDir();
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'demo.yaml'), `${demoJob('demo')}\nenabled: ${enabledTargetUsesAccount}\n`);
    await writeFile(
      join(dir, 'service.yaml'),
      'accounts:\n  - { name: demo, region: eu-west-101, projectId: 77b6a44cba5143ab91d13ab9a8ff44fd }\nhttp: { auth: { mode: token } }\n',
    );
    return dir;
  }
  // Every secret in its _FILE variable: problems (the account is used by an enabled target).
  const allInFiles = { HUAWEI_AK_FILE: AK_MARKER, HUAWEI_SK_FILE: SK_MARKER, ROTATOR_HTTP_TOKEN_FILE: TOKEN_MARKER, ROTATOR_VAULT_KEY_FILE: KEY_MARKER };
  // Only the credentials in their _FILE variables, of an account no enabled target uses: warnings.
  const credentialsInFiles = { HUAWEI_AK: 'AKDIRECT000000000001', HUAWEI_SK_FILE: SK_MARKER, ROTATOR_HTTP_TOKEN: 'x'.repeat(32), ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') };
  const cases = [
    { name: 'every secret in its _FILE variable, an enabled target', enabled: true, env: allInFiles, named: ['HUAWEI_AK_FILE', 'ROTATOR_VAULT_KEY_FILE', 'ROTATOR_HTTP_TOKEN_FILE'], hint: 'to pass a value, not a path, set ROTATOR_VAULT_KEY' },
    { name: 'the secret key in HUAWEI_SK_FILE, no enabled target (a warning)', enabled: false, env: credentialsInFiles, named: ['HUAWEI_SK_FILE'], hint: 'to pass a value, not a path, set HUAWEI_SK' },
  ];

  for (const c of cases) {
    it(`loadConfig's problems and warnings name the variable, never its value: ${c.name}`, async () => {
      const dir = await setUp(c.enabled);
      const result = await loadConfig({ cwd: dir, jobsDir: join(dir, 'jobs'), configPath: join(dir, 'service.yaml'), env: c.env });
      expect(result.ok).toBe(!c.enabled);
      const text = JSON.stringify(result.ok ? { warnings: result.config.warnings, config: result.config } : result.issues);
      for (const marker of markers) expect(text).not.toContain(marker);
      for (const variable of c.named) expect(text).toContain(variable);
      expect(text).toContain(c.hint);
    });

    it(`\`config check\` prints no value of a *_FILE variable: ${c.name}`, async () => {
      const dir = await setUp(c.enabled);
      const { stdout, stderr } = await cli(['--config', join(dir, 'service.yaml'), '--jobs', join(dir, 'jobs'), 'config', 'check'], cleanEnv(c.env));
      for (const variable of c.named) expect(stdout + stderr).toContain(variable);
      for (const marker of markers) expect(stdout + stderr).not.toContain(marker);
    });
  }

  it('a real path whose file is missing is still shown, to fix the typo', async () => {
    const dir = await setUp(true);
    const missing = join(dir, 'secrets', 'hw-sk');
    await mkdir(join(dir, 'secrets'));
    const result = await loadConfig({ cwd: dir, jobsDir: join(dir, 'jobs'), configPath: join(dir, 'service.yaml'), env: { HUAWEI_AK: 'AK', HUAWEI_SK_FILE: missing, ROTATOR_VAULT_KEY: randomBytes(32).toString('base64'), ROTATOR_HTTP_TOKEN: 'x'.repeat(32) } });
    expect(issuesOf(result).find((m) => m.includes('HUAWEI_SK_FILE'))).toContain(`cannot read ${missing} (ENOENT)`);
  });
});

describe('YAML alias bomb', () => {
  it('is a problem naming its file, and the problems of two other broken files are still listed', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'jobs'));
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, cur] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h']] as const) {
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    await writeFile(join(dir, 'jobs', 'bomb.yaml'), `${levels.join('\n')}\n`);
    await writeFile(join(dir, 'jobs', 'web.yaml'), demoJob('web').replace('"0 3 * * *"', '"*/15 * * *"'));
    await writeFile(join(dir, 'jobs', 'db.yaml'), `${demoJob('db')}\nbatchSize: 5000\n`);
    const { code, stdout, stderr } = await cli(['--jobs', join(dir, 'jobs'), 'config', 'check'], cleanEnv({ ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') }));
    const out = stdout + stderr;
    expect(code).toBe(1);
    expect(out).toMatch(/bomb\.yaml: expected YAML with at most 100 alias expansions, found aliases that expand too many times/);
    expect(out).toMatch(/web\.yaml: schedule: /);
    expect(out).toMatch(/db\.yaml: batchSize: expected an integer from 1 to 1000, found 5000/);
  }, 120_000);
});

describe('jobs directory fallback', () => {
  it('with a config file and no jobs/ beside it (nor ../jobs), uses the package jobs/ as README.md says, with a warning', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'etc'));
    await writeFile(join(dir, 'etc', 'service.yaml'), 'logging: { level: warn }\n');
    const result = await loadConfig({ cwd: dir, configPath: join(dir, 'etc', 'service.yaml'), env: { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') } });
    expect(issuesOf(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.config.jobsDir).toBe(join(ROOT, 'jobs'));
    expect(result.config.targets.map((t) => t.name)).toContain('demo');
    expect(result.config.warnings.join('\n')).toMatch(/no jobs directory beside .*service\.yaml/);
  });

  it('prefers <config dir>/jobs, then <config dir>/../jobs', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'etc'));
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'up.yaml'), demoJob('up'));
    await writeFile(join(dir, 'etc', 'service.yaml'), 'logging: { level: warn }\n');
    const env = { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') };
    const up = await loadConfig({ cwd: dir, configPath: join(dir, 'etc', 'service.yaml'), env });
    expect(up.ok && up.config.targets.map((t) => t.name)).toEqual(['up']);
    await mkdir(join(dir, 'etc', 'jobs'));
    await writeFile(join(dir, 'etc', 'jobs', 'beside.yaml'), demoJob('beside'));
    const beside = await loadConfig({ cwd: dir, configPath: join(dir, 'etc', 'service.yaml'), env });
    expect(beside.ok && beside.config.targets.map((t) => t.name)).toEqual(['beside']);
  });
});

describe('vault key file permissions', () => {
  it('a key file readable by group and others is a warning in config check and at start', async () => {
    const dir = await tempDir();
    const keyFile = join(dir, 'vault.key');
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`);
    await chmod(keyFile, 0o644);
    await writeFile(join(dir, 'service.yaml'), `vault: { kind: file, file: { path: ${JSON.stringify(join(dir, 'vault.json.enc'))}, keyFile: ${JSON.stringify(keyFile)} } }\n`);
    const env = cleanEnv();
    const open = await cli(['--config', join(dir, 'service.yaml'), '--jobs', join(ROOT, 'jobs'), 'config', 'check'], env);
    expect(open.code).toBe(0);
    expect(open.stdout).toContain(`the file vault key ${keyFile} is readable by group and others (mode 0644)`);
    expect(open.stdout).toContain(`chmod 600 ${keyFile}`);
    // And at start: `rotator run` logs it before anything else (here Redis is down, so it stops after).
    const start = await cli(['--config', join(dir, 'service.yaml'), '--jobs', join(ROOT, 'jobs'), 'run', '--role', 'scheduler'], {
      ...env,
      REDIS_URL: 'redis://127.0.0.1:1',
      ROTATOR_LOG_LEVEL: 'warn',
    });
    expect(start.stdout + start.stderr).toContain('config warning');
    expect(start.stdout + start.stderr).toContain(`the file vault key ${keyFile} is readable by group and others (mode 0644)`);
    await chmod(keyFile, 0o600);
    const closed = await cli(['--config', join(dir, 'service.yaml'), '--jobs', join(ROOT, 'jobs'), 'config', 'check'], env);
    expect(closed.code).toBe(0);
    expect(closed.stdout).not.toContain('readable by');
  }, 240_000);
});

describe('schedules', () => {
  it('a 6-field schedule firing more than once a minute is a warning naming file and field, in config check too', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'fast.yaml'), demoJob('fast').replace('"0 3 * * *"', '"*/10 * * * * *"'));
    await writeFile(join(dir, 'jobs', 'ok.yaml'), demoJob('ok').replace('"0 3 * * *"', '"30 0 3 * * *"'));
    const result = await loadConfig({ cwd: dir, jobsDir: join(dir, 'jobs'), env: { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') } });
    expect(issuesOf(result)).toEqual([]);
    const expected =
      'jobs/fast.yaml: schedule: "*/10 * * * * *" fires 6 times a minute, but a target runs at most once a minute (each run is keyed by its minute); give the seconds field one value, e.g. 0';
    expect(result.ok && result.config.warnings.filter((w) => w.includes('schedule'))).toEqual([expected]);
    const check = await cli(['--jobs', join(dir, 'jobs'), 'config', 'check'], cleanEnv({ ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') }));
    expect(check.stdout).toContain(`fast.yaml: schedule: "*/10 * * * * *" fires 6 times a minute`);
  }, 120_000);
});

describe('HTTP exposure', () => {
  const env = { ROTATOR_VAULT_KEY: randomBytes(32).toString('base64') };

  it('a non-loopback host with auth none is refused unless http.allowUnauthenticatedNetwork is true', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'open.yaml'), 'http: { host: 0.0.0.0 }\n');
    const refused = await loadConfig({ cwd: dir, configPath: join(dir, 'open.yaml'), jobsDir: join(ROOT, 'jobs'), env });
    expect(issuesOf(refused)).toHaveLength(1);
    expect(issuesOf(refused)[0]).toMatch(/^open\.yaml: http\.host: expected a loopback address .* found "0\.0\.0\.0"$/);
    await writeFile(join(dir, 'override.yaml'), 'http: { host: 0.0.0.0, allowUnauthenticatedNetwork: true }\n');
    const allowed = await loadConfig({ cwd: dir, configPath: join(dir, 'override.yaml'), jobsDir: join(ROOT, 'jobs'), env });
    expect(issuesOf(allowed)).toEqual([]);
    expect(allowed.ok && allowed.config.warnings.join('\n')).toContain('reachable from other machines');
    await writeFile(join(dir, 'local.yaml'), 'http: { host: "::1" }\n');
    expect(issuesOf(await loadConfig({ cwd: dir, configPath: join(dir, 'local.yaml'), jobsDir: join(ROOT, 'jobs'), env }))).toEqual([]);
  });

  it('the container example listens beyond loopback with token auth, the token from a file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'http-token'), `${randomBytes(24).toString('base64')}\n`);
    const result = await loadConfig({
      cwd: ROOT,
      configPath: 'config/examples/container.yaml',
      jobsDir: 'jobs',
      env: { ...env, ROTATOR_HTTP_TOKEN_FILE: join(dir, 'http-token') },
    });
    expect(issuesOf(result)).toEqual([]);
    expect(result.ok && result.config.service.http).toMatchObject({ host: '0.0.0.0', auth: { mode: 'token' } });
    const compose = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain('ROTATOR_HTTP_TOKEN_FILE: /run/secrets/http_token');
  });

  it('allowedHosts and allowedOrigins are validated, naming the field', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'bad.yaml'), 'http: { allowedHosts: ["host:8080"], allowedOrigins: ["https://x.example/path"] }\n');
    const issues = issuesOf(await loadConfig({ cwd: dir, configPath: join(dir, 'bad.yaml'), jobsDir: join(ROOT, 'jobs'), env }));
    expect(issues.some((m) => m.startsWith('bad.yaml: http.allowedHosts[0]: expected a host name or IP address without port'))).toBe(true);
    expect(issues.some((m) => m.startsWith('bad.yaml: http.allowedOrigins[0]: expected an origin'))).toBe(true);
  });
});
