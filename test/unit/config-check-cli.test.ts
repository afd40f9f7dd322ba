/**
 * `rotator config check` run as a real child process, the way an operator runs it.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(HUAWEI_|ROTATOR_|REDIS_URL)/.test(key)) env[key] = value;
  }
  return { ...env, ROTATOR_FROM_SOURCE: '1', NO_COLOR: '1', ...extra };
}

function run(args: string[], env = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/rotator.js'), ...args], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('rotator config check', () => {
  it('succeeds on the shipped files and prints targets with their next fire times in their zone', async () => {
    const { code, stdout, stderr } = await run(['config', 'check', '--at', '2025-03-30T00:50:00Z']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('rotator config check: OK');
    expect(stdout).toContain('demo  [enabled]  jobs/demo.yaml');
    expect(stdout).toContain('*/15 * * * *  in Europe/Berlin');
        // 01:50 in Berlin, ten minutes before the clocks jump from 02:00 to 03:00.
    expect(stdout).toContain('next runs: 2025-03-30 03:00:00 GMT+2  |  2025-03-30 03:15:00 GMT+2  |  2025-03-30 03:30:00 GMT+2');
    expect(stdout).toContain('account demo secret key: ***  (the simulator demo credentials');
    expect(stdout).toContain("policy:    maximum password age 30m: 2 × the schedule's interval (15m, \"*/15 * * * *\" Europe/Berlin)");
    expect(stdout).toContain('notify:    (no channel)');
    // The demo target's batches of 100: auto gives the most, 32.
    expect(stdout).toContain('Worker concurrency: auto, 32 batches at once per worker with these targets');
  });

  it('shows where credentials come from, never their values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-cli-'));
    temps.push(dir);
    await writeFile(
      join(dir, 'prod.yaml'),
      'accounts:\n  - { name: prod-eu, region: eu-west-101, projectId: 77b6a44cba5143ab91d13ab9a8ff44fd }\nredis: { url: "redis://:cli-redis-pw@10.0.0.1:6379" }\n' +
        'notifications:\n  channels: [{ name: chat, kind: slack }]\n',
    );
    await writeFile(join(dir, 'sk'), 'cli-secret-key-value\n');
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs/demo.yaml'), (await readFile(join(ROOT, 'jobs/demo.yaml'), 'utf8')).replace('account: demo', 'account: prod-eu'));
    const env = cleanEnv({ HUAWEI_AK: 'CLIACCESSKEYVALUE', HUAWEI_SK_FILE: join(dir, 'sk'), ROTATOR_NOTIFY_URL__CHAT: 'https://hooks.slack.com/services/T/B/cli-slack-token' });
    const { code, stdout, stderr } = await run(['--config', join(dir, 'prod.yaml'), 'config', 'check', '--json'], env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    for (const secret of ['CLIACCESSKEYVALUE', 'cli-secret-key-value', 'cli-redis-pw', 'cli-slack-token']) expect(stdout).not.toContain(secret);
    const report = JSON.parse(stdout) as { secrets: { name: string; source: string }[]; targets: { account: { endpoint: string }; notifications: string[] }[] };
    expect(report.secrets).toContainEqual({ name: 'notification channel chat URL', value: '***', source: 'env ROTATOR_NOTIFY_URL__CHAT' });
    expect(report.targets[0]!.notifications).toEqual(['chat (slack: run-failed, server-overdue, server-recovered)']);
    expect(report.secrets).toContainEqual({ name: 'account prod-eu access key', value: '***', source: 'env HUAWEI_AK' });
    expect(report.secrets).toContainEqual({ name: 'account prod-eu secret key', value: '***', source: `file ${join(dir, 'sk')} (from HUAWEI_SK_FILE)` });
    expect(report.targets[0]!.account.endpoint).toBe('https://ecs.eu-west-101.myhuaweicloud.com');
  });

  it('exits 1 listing an unknown key, a bad cron and batchSize 5000 with file and field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-cli-'));
    temps.push(dir);
    await writeFile(
      join(dir, 'web.yaml'),
      'name: web\naccount: demo\nschedule: "*/15 * * *"\nselector: { tags: { rotate: "true" } }\nbatchSize: 5000\nretries: 3\n',
    );
    await writeFile(join(dir, 'db.yaml'), 'name: db\nselector: [1, 2\n');
    const { code, stdout, stderr } = await run(['config', 'check', '--jobs', dir]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('rotator config check: 4 problems found:');
    expect(stderr).toContain(`${join(dir, 'web.yaml')}: batchSize: expected an integer from 1 to 1000, found 5000`);
    expect(stderr).toContain(`${join(dir, 'web.yaml')}: schedule: expected a cron expression`);
    expect(stderr).toContain(`${join(dir, 'web.yaml')}: retries: expected only the known keys`);
    expect(stderr).toMatch(new RegExp(`${join(dir, 'db.yaml')}: line \\d+, column \\d+: expected valid YAML`));
  });
});
