import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigIssue, type LoadConfigOptions, type LoadedConfig } from '../../src/config/index.js';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/config');
const temps: string[] = [];

afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A temp dir holding the given files (paths relative to it). */
async function tempDir(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-config-'));
  temps.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

const JOB = (overrides = ''): string =>
  `name: web\naccount: demo\nschedule: "*/5 * * * *"\nselector:\n  tags: { rotate: "true" }\n${overrides}`;

async function load(options: Partial<LoadConfigOptions> = {}): Promise<{ ok: true; config: LoadedConfig } | { ok: false; issues: ConfigIssue[] }> {
  return loadConfig({ env: {}, cwd: ROOT, ...options });
}

async function issuesOf(options: Partial<LoadConfigOptions>): Promise<ConfigIssue[]> {
  const result = await load(options);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.issues;
}

async function configOf(options: Partial<LoadConfigOptions>): Promise<LoadedConfig> {
  const result = await load(options);
  if (!result.ok) throw new Error(`expected a valid config, got:\n${result.issues.map((i) => i.message).join('\n')}`);
  return result.config;
}

describe('loadConfig: the shipped files', () => {
  it('loads config/default.yaml and jobs/demo.yaml, deeply frozen', async () => {
    const config = await configOf({});
    expect(config.files).toEqual(['config/default.yaml', 'jobs/demo.yaml']);
    expect(config.targets.map((t) => t.name)).toEqual(['demo']);
    const demo = config.target('demo')!;
    expect(demo.selector.tags).toEqual({ rotate: 'true' });
    expect(demo.selector.name).toBeUndefined(); // "" means no filter
    expect(config.service.vault.file.path).toBe(join(ROOT, 'var/vault.json.enc'));
    expect(Object.isFrozen(config.service.accounts[0])).toBe(true);
    expect(Object.isFrozen(demo.passwordPolicy.requiredClasses)).toBe(true);
    expect(() => {
      (config.service.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('gives simulator accounts the demo credentials, and keeps them out of the serialised config', async () => {
    const config = await configOf({});
    expect(config.credentials('demo')).toEqual({ kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey });
    expect(JSON.stringify(config)).not.toContain(DEMO_CREDENTIALS.secretKey);
  });

  it('finds default.yaml from any working directory', async () => {
    const elsewhere = await tempDir({ 'jobs/a.yaml': JOB() });
    const config = await configOf({ cwd: elsewhere, jobsDir: 'jobs' });
    expect(config.files).toEqual([join(ROOT, 'config/default.yaml'), 'jobs/a.yaml']);
    // Relative vault paths resolve against the working directory.
    expect(config.service.vault.file.path).toBe(join(elsewhere, 'var/vault.json.enc'));
  });
});

describe('loadConfig: every problem at once', () => {
  it('reports an unknown key, a bad cron and batchSize 5000 with file and field, plus a YAML syntax error in another file', async () => {
    const issues = await issuesOf({ jobsDir: join(FIXTURES, 'jobs-broken') });
    const messages = issues.map((i) => i.message);
    expect(messages).toContain('test/fixtures/config/jobs-broken/web.yaml: batchSize: expected an integer from 1 to 1000, found 5000');
    expect(issues).toContainEqual(
      expect.objectContaining({ file: 'test/fixtures/config/jobs-broken/web.yaml', path: 'schedule', found: '"*/15 * * *" (it has 4 fields)' }),
    );
    expect(issues).toContainEqual(
      expect.objectContaining({ file: 'test/fixtures/config/jobs-broken/web.yaml', path: 'retries', found: 'the unknown key "retries"' }),
    );
    const syntax = issues.find((i) => i.file.endsWith('db.yaml'))!;
    expect(syntax.path).toMatch(/^line \d+, column \d+$/);
    expect(syntax.expected).toBe('valid YAML');
    expect(issues).toHaveLength(4);
  });

  it('checks across files: unknown account, duplicate target names', async () => {
    const dir = await tempDir({
      'a.yaml': JOB(),
      'b.yaml': JOB().replace('account: demo', 'account: prod'),
      'notes.txt': 'ignored',
    });
    const issues = await issuesOf({ jobsDir: dir });
    expect(issues.map((i) => [i.file.replace(`${dir}/`, ''), i.path])).toEqual([
      ['b.yaml', 'name'],
      ['b.yaml', 'account'],
    ]);
    expect(issues[0]!.found).toContain('also the name in');
    expect(issues[1]!.message).toContain('expected the name of an account in config/default.yaml (demo), found "prod"');
  });

  it('words each kind of schema error', async () => {
    const dir = await tempDir({
      'x.yaml': [
        'name: Web_1',
        'account: demo',
        'schedule: "61 * * * *"',
        'timezone: Mars/Olympus',
        'enabled: "yes"',
        'selector:',
        '  serverIds: [not-a-uuid]',
        '  tags: { rotate: true }',
        '  statu: ACTIVE',
        'passwordPolicy: { length: 30, requiredClasses: [upper, lower], specials: "$#" }',
        'restartPolicy: later',
        'uniquePerServer: 1',
      ].join('\n'),
    });
    const byPath = new Map((await issuesOf({ jobsDir: dir })).map((i) => [i.path, i]));
    expect(byPath.get('name')?.expected).toMatch(/lowercase letters, digits/);
    expect(byPath.get('schedule')?.found).toBe('"61 * * * *" (61 is a invalid expression for minute)');
    expect(byPath.get('timezone')?.found).toBe('"Mars/Olympus"');
    expect(byPath.get('enabled')?.message).toMatch(/enabled: expected true or false, found "yes"$/);
    expect(byPath.get('selector.serverIds[0]')?.expected).toMatch(/UUID/);
    expect(byPath.get('selector.tags.rotate')?.message).toMatch(/expected a string \(quote values such as "true" or "42"\), found true$/);
    expect(byPath.get('selector.statu')?.found).toBe('the unknown key "statu" (did you mean "status"?)');
    expect(byPath.get('passwordPolicy.length')?.found).toBe('30');
    expect(byPath.get('passwordPolicy.requiredClasses')?.expected).toMatch(/at least 3 distinct classes/);
    expect(byPath.get('passwordPolicy.specials')?.expected).toMatch(/not allowed/);
    expect(byPath.get('restartPolicy')?.expected).toBe('one of none | soft | hard');
    expect(byPath.get('uniquePerServer')?.found).toBe('1');
  });

  it('rejects a selector that names no server (status alone does not select)', async () => {
    const dir = await tempDir({ 'x.yaml': 'name: x\naccount: demo\nschedule: "0 1 * * *"\nselector: { status: ACTIVE, name: "" }\n' });
    const [issue] = await issuesOf({ jobsDir: dir });
    expect(issue).toMatchObject({ path: 'selector', found: 'no server id and no selecting filter' });
  });

  it('rejects an empty job file and a missing jobs directory', async () => {
    const dir = await tempDir({ 'empty.yaml': '# nothing yet\n' });
    expect((await issuesOf({ jobsDir: dir }))[0]!.found).toBe('an empty file');
    const missing = (await issuesOf({ jobsDir: join(dir, 'nope') }))[0]!;
    expect(missing.found).toBe('no such directory');
    expect(missing.expected).toMatch(/--jobs or ROTATOR_JOBS_DIR/);
  });

  it('rejects credentials in YAML without echoing them, and blames the override file', async () => {
    // jobs/demo.yaml's account "demo" is gone with the replaced list: that issue is blamed on the job file.
    const all = await issuesOf({ configPath: join(FIXTURES, 'override-broken.yaml'), jobsDir: 'jobs' });
    expect(all.filter((i) => i.file === 'jobs/demo.yaml').map((i) => i.path)).toEqual(['account']);
    const issues = all.filter((i) => i.file !== 'jobs/demo.yaml');
    const text = JSON.stringify(issues);
    expect(text).not.toContain('do-not-echo-this-sk');
    expect(text).not.toContain('hunter2-redis');
    const byPath = new Map(issues.map((i) => [i.path, i]));
    expect(issues.every((i) => i.file === 'test/fixtures/config/override-broken.yaml')).toBe(true);
    expect(byPath.get('accounts[0].secretKey')?.expected).toMatch(/no credentials in configuration files/);
    expect(byPath.get('accounts[0].name')?.found).toBe('"Prod_EU"');
    expect(byPath.get('accounts[0].projectId')?.expected).toMatch(/32 lowercase hexadecimal/);
    expect(byPath.get('accounts[0].requestsPerSecond')?.found).toBe('0');
    expect(byPath.get('redis.url')?.found).toBe('"http://:***@localhost"');
    expect(byPath.get('vault.awsSecretsManager.nameTemplate')).toMatchObject({ expected: expect.stringMatching(/containing \{serverId\}/), found: '"ecs/{region}/shared"' });
    expect(byPath.get('vault.awsSecretsManager.region')?.found).toBe('nothing (the field is missing)');
    expect(issues).toHaveLength(8);
    expect(byPath.get('limits.workerConcurency')?.found).toMatch(/did you mean "workerConcurrency"/);
  });

  it('requires a region for the AWS vault', async () => {
    const dir = await tempDir({ 'c.yaml': 'vault: { kind: aws-secrets-manager }\n', 'jobs/a.yaml': JOB() });
    const [issue] = await issuesOf({ configPath: join(dir, 'c.yaml') });
    expect(issue).toMatchObject({ path: 'vault.awsSecretsManager.region', file: join(dir, 'c.yaml') });
  });
});

describe('loadConfig: layering and defaults', () => {
  it('deep-merges the override over default.yaml, lists replacing', async () => {
    const config = await configOf({
      configPath: join(FIXTURES, 'override-prod.yaml'),
      jobsDir: await tempDir(),
      env: { HUAWEI_AK: 'AKGLOBAL', HUAWEI_SK: 'skglobal', HUAWEI_TOKEN: 'tok' },
    });
    expect(config.service.accounts.map((a) => a.name)).toEqual(['prod-eu', 'staging']);
    expect(config.service.http).toMatchObject({ port: 9090, host: '127.0.0.1', readOnly: true });
    expect(config.service.accounts[0]).toMatchObject({
      endpoint: 'https://ecs.eu-west-101.myhuaweicloud.com',
      auth: 'aksk',
      requestTimeoutMs: 15000,
      requestsPerSecond: 20,
      maxAttempts: 5,
    });
    expect(config.service.accounts[1]!.endpoint).toBe('https://ecs.cn-north-4.example.com');
    expect(config.service.simulator.enabled).toBe(false);
  });

  it('fills target defaults and merges a partial password policy', async () => {
    const config = await configOf({ jobsDir: join(FIXTURES, 'jobs-ok') });
    const t = config.target('nightly')!;
    expect(t).toMatchObject({ enabled: true, batchSize: 100, uniquePerServer: false, restartPolicy: 'soft', dryRunPreflight: true });
    expect(t.passwordPolicy).toEqual({ length: 24, requiredClasses: ['upper', 'lower', 'digit'], specials: '!@%-_=+[]:./?' });
    expect(t.selector.serverIds).toEqual(['1b3a9c02-4c1e-4a5e-9f0c-2d7e8a6b5c41']); // lower-cased, deduplicated
  });

  it('takes ROTATOR_CONFIG and ROTATOR_JOBS_DIR from env, and finds jobs/ beside the config file', async () => {
    const dir = await tempDir({ 'etc/rotator.yaml': 'http: { port: 7000 }\n', 'etc/jobs/a.yaml': JOB(), 'other/b.yaml': JOB().replace('web', 'other') });
    const besides = await configOf({ env: { ROTATOR_CONFIG: join(dir, 'etc/rotator.yaml') } });
    expect(besides.service.http.port).toBe(7000);
    expect(besides.jobsDir).toBe(join(dir, 'etc/jobs'));
    const fromEnv = await configOf({ env: { ROTATOR_CONFIG: join(dir, 'etc/rotator.yaml'), ROTATOR_JOBS_DIR: join(dir, 'other') } });
    expect(fromEnv.targets.map((t) => t.name)).toEqual(['other']);

    const sibling = await tempDir({ 'config/prod.yaml': 'http: { port: 7001 }\n', 'jobs/a.yaml': JOB() });
    expect((await configOf({ configPath: join(sibling, 'config/prod.yaml') })).jobsDir).toBe(join(sibling, 'jobs'));
  });

  it('lets REDIS_URL override redis.url and blames it when malformed, without echoing its password', async () => {
    const ok = await configOf({ env: { REDIS_URL: 'redis://10.0.0.5:6380/2' } });
    expect(ok.service.redis.url).toBe('redis://10.0.0.5:6380/2');
    const [issue] = await issuesOf({ env: { REDIS_URL: 'tcp://:pw-in-url@10.0.0.5' } });
    expect(issue!.file).toBe('REDIS_URL (environment)');
    expect(JSON.stringify(issue)).not.toContain('pw-in-url');
  });
});

describe('loadConfig: credentials and secrets from the environment', () => {
  const prodOverride = 'accounts:\n  - { name: prod-eu, region: eu-west-101, projectId: 77b6a44cba5143ab91d13ab9a8ff44fd }\n';
  const prodJob = JOB().replace('account: demo', 'account: prod-eu');

  async function prodSetup(job = prodJob): Promise<string> {
    return tempDir({ 'config/c.yaml': prodOverride, 'jobs/a.yaml': job });
  }

  it('prefers the account-specific pair, from values or files', async () => {
    const dir = await prodSetup();
    await writeFile(join(dir, 'sk.txt'), 'sk-from-file\n');
    const config = await configOf({
      cwd: dir,
      configPath: 'config/c.yaml',
      env: { HUAWEI_AK: 'AKGLOBAL', HUAWEI_SK: 'skglobal', HUAWEI_AK__PROD_EU: 'AKPROD', HUAWEI_SK_FILE__PROD_EU: 'sk.txt' },
    });
    expect(config.credentials('prod-eu')).toEqual({ kind: 'aksk', accessKey: 'AKPROD', secretKey: 'sk-from-file' });
    expect(config.credentialSources['prod-eu']).toEqual({
      kind: 'aksk',
      parts: {
        accessKey: { kind: 'env', variable: 'HUAWEI_AK__PROD_EU' },
        secretKey: { kind: 'file', variable: 'HUAWEI_SK_FILE__PROD_EU', path: join(dir, 'sk.txt') },
      },
    });
    // Files are re-read on every call (a rotated credential file is picked up without a restart).
    await writeFile(join(dir, 'sk.txt'), 'sk-rotated');
    expect(config.credentials('prod-eu')).toMatchObject({ secretKey: 'sk-rotated' });
    expect(JSON.stringify(config)).not.toContain('sk-rotated');
  });

  it('falls back to the global pair', async () => {
    const dir = await prodSetup();
    const config = await configOf({ cwd: dir, configPath: 'config/c.yaml', env: { HUAWEI_AK: 'AKGLOBAL', HUAWEI_SK: 'skglobal' } });
    expect(config.credentials('prod-eu')).toEqual({ kind: 'aksk', accessKey: 'AKGLOBAL', secretKey: 'skglobal' });
  });

  it('names the variables to set when an enabled target lacks credentials', async () => {
    const dir = await prodSetup();
    const [issue] = await issuesOf({ cwd: dir, configPath: 'config/c.yaml' });
    expect(issue!.file).toBe('environment');
    expect(issue!.expected).toMatch(/used by enabled target web/);
    expect(issue!.found).toMatch(/HUAWEI_AK__PROD_EU and HUAWEI_SK__PROD_EU .* or HUAWEI_AK and HUAWEI_SK/);
  });

  it('refuses a specific AK with only a global SK, and a variable set both ways', async () => {
    const dir = await prodSetup();
    const mixed = await issuesOf({ cwd: dir, configPath: 'config/c.yaml', env: { HUAWEI_AK__PROD_EU: 'AKPROD', HUAWEI_SK: 'skglobal' } });
    expect(mixed[0]!.found).toMatch(/HUAWEI_AK__PROD_EU is set but HUAWEI_SK__PROD_EU/);
    const both = await issuesOf({
      cwd: dir,
      configPath: 'config/c.yaml',
      env: { HUAWEI_AK: 'A', HUAWEI_AK_FILE: '/x', HUAWEI_SK: 'secret-value-1' },
    });
    expect(both[0]!.found).toBe('both HUAWEI_AK and HUAWEI_AK_FILE are set; set only one');
    expect(JSON.stringify(both)).not.toContain('secret-value-1');
  });

  it('needs no credentials for a disabled target, and credentials() then throws a RotatorError naming the variables', async () => {
    const dir = await prodSetup(prodJob + 'enabled: false\n');
    const config = await configOf({ cwd: dir, configPath: 'config/c.yaml' });
    expect(config.warnings.join('\n')).toMatch(/account prod-eu has no usable credentials/);
    const error = (() => {
      try {
        config.credentials('prod-eu');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RotatorError);
    expect(error).toMatchObject({ code: 'CONFIG_CREDENTIALS_MISSING', retryable: false });
    expect((error as Error).message).toMatch(/HUAWEI_AK__PROD_EU/);
  });

  it('resolves token auth, and refuses it over plain http to another host', async () => {
    const tokenOverride = prodOverride.replace(' }', ', auth: token }');
    const dir = await tempDir({ 'config/c.yaml': tokenOverride, 'jobs/a.yaml': prodJob });
    const config = await configOf({ cwd: dir, configPath: 'config/c.yaml', env: { HUAWEI_TOKEN__PROD_EU: 'tok-1' } });
    expect(config.credentials('prod-eu')).toEqual({ kind: 'token', token: 'tok-1' });

    const plain = tokenOverride.replace(' }', ', endpoint: "http://ecs.example.com" }');
    await writeFile(join(dir, 'config/c.yaml'), plain);
    const [issue] = await issuesOf({ cwd: dir, configPath: 'config/c.yaml', env: { HUAWEI_TOKEN: 'tok-1' } });
    expect(issue).toMatchObject({ path: 'accounts[0].endpoint', expected: 'an https:// URL (token auth sends the token as is)' });
  });

  it('checks the file vault key without echoing it', async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const config = await configOf({ env: { ROTATOR_VAULT_KEY: key } });
    expect(config.vaultKey()).toEqual(Buffer.alloc(32, 7));
    expect(config.vaultKeySource).toEqual({ kind: 'env', variable: 'ROTATOR_VAULT_KEY' });
    const [issue] = await issuesOf({ env: { ROTATOR_VAULT_KEY: 'c2hvcnQta2V5LW1hdGVyaWFs' } });
    expect(issue!.found).toMatch(/ROTATOR_VAULT_KEY: expected the base64 encoding of 32 bytes/);
    expect(JSON.stringify(issue)).not.toContain('c2hvcnQta2V5LW1hdGVyaWFs');
  });

  it('requires ROTATOR_HTTP_TOKEN in token mode', async () => {
    const dir = await tempDir({ 'c.yaml': 'http: { auth: { mode: token } }\n', 'jobs/a.yaml': JOB() });
    const [issue] = await issuesOf({ configPath: join(dir, 'c.yaml') });
    expect(issue).toMatchObject({ file: 'environment', path: 'ROTATOR_HTTP_TOKEN', found: 'neither is set' });
    const config = await configOf({ configPath: join(dir, 'c.yaml'), env: { ROTATOR_HTTP_TOKEN: 'a-long-enough-http-token' } });
    expect(config.httpToken()).toBe('a-long-enough-http-token');
  });
});
