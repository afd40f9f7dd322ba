/**
 * `rotator vault list` and `rotator vault get` through the real CLI in a child process, against a
 * real file vault: get prints exactly the password on stdout (and logs the read on stderr without
 * it); list shows labels and never a password; errors are clear and exit 1.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { LABEL_ACTIVE, type SecretKey, type SecretPayload } from '../../src/ports/vault.js';
import { captureLogger, tempDir, wallClock } from '../fixtures/file-vault/support.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../bin/rotator.js', import.meta.url));

const DEMO = { region: 'cli-region-1', projectId: 'aaaa1111bbbb2222cccc3333dddd4444' };
const OTHER = { region: 'cli-region-2', projectId: 'eeee5555ffff6666aaaa7777bbbb8888' };

function payload(key: SecretKey, password: string): SecretPayload {
  return {
    username: 'root',
    password,
    serverId: key.serverId,
    serverName: 'cli-server',
    osType: 'Linux',
    region: key.region,
    projectId: key.projectId,
    runId: 'run-cli',
    createdAt: '2025-01-01T00:00:00.000Z',
    activation: 'next-restart',
  };
}

describe('rotator vault (CLI, file vault)', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let configPath: string;
  let jobsDir: string;
  let vaultPath: string;
  const tokens = ['run-cli-0001-batch-0000-generation-0', 'run-cli-0002-batch-0000-generation-0', 'run-cli-0003-batch-0000-generation-0'];
  // Every special Huawei allows, plus shell-hostile characters: stdout must carry them verbatim.
  const passwords = ['Old!Pw@1-_=+[]:./?x', 'Cur%Pw$2"\'`\\;&|<>y', 'Pend!Pw#3 with space'];
  const demoServer: SecretKey = { ...DEMO, serverId: 'c0ffee00-0000-4000-8000-000000000001' };
  const otherServer: SecretKey = { ...OTHER, serverId: 'c0ffee00-0000-4000-8000-000000000002' };
  const sharedId = 'c0ffee00-0000-4000-8000-00000000000f';
  const otherPassword = 'Other!Account-Pw9';

  async function rotator(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ROTATOR_FROM_SOURCE: '1' };
    try {
      const { stdout, stderr } = await run(process.execPath, [cli, '--config', configPath, '--jobs', jobsDir, ...args], { env, cwd: temp.dir });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    temp = await tempDir('vault-cli-');
    vaultPath = join(temp.dir, 'data', 'vault.json.enc');
    const keyFile = join(temp.dir, 'data', 'vault.key');
    const key = randomBytes(32);
    await mkdir(join(temp.dir, 'data'), { recursive: true, mode: 0o700 });
    await writeFile(keyFile, `${key.toString('base64')}\n`, { mode: 0o600 });
    configPath = join(temp.dir, 'service.yaml');
    await writeFile(
      configPath,
      [
        'accounts:',
        `  - { name: demo, region: ${DEMO.region}, projectId: ${DEMO.projectId}, endpoint: simulator, auth: aksk, requestTimeoutMs: 15000, requestsPerSecond: 20, maxAttempts: 5 }`,
        `  - { name: other, region: ${OTHER.region}, projectId: ${OTHER.projectId}, endpoint: simulator, auth: aksk, requestTimeoutMs: 15000, requestsPerSecond: 20, maxAttempts: 5 }`,
        'vault:',
        '  kind: file',
        `  file: { path: ${vaultPath}, keyFile: ${keyFile} }`,
        '',
      ].join('\n'),
    );
    jobsDir = join(temp.dir, 'jobs');
    await mkdir(jobsDir);
    await writeFile(
      join(jobsDir, 'web.yaml'),
      ['name: web', 'account: demo', 'schedule: "0 3 * * *"', 'timezone: UTC', 'selector:', '  tags: { rotate: "true" }', ''].join('\n'),
    );

    const vault = await openFileVault({ path: vaultPath, key, clock: wallClock, logger: captureLogger().logger });
    await vault.ensureSecret(demoServer);
    await vault.putPending(demoServer, tokens[0]!, payload(demoServer, passwords[0]!));
    await vault.promote(demoServer, tokens[0]!, undefined);
    await vault.moveLabel(demoServer, LABEL_ACTIVE, tokens[0]!);
    await vault.putPending(demoServer, tokens[1]!, payload(demoServer, passwords[1]!));
    await vault.promote(demoServer, tokens[1]!, tokens[0]);
    await vault.putPending(demoServer, tokens[2]!, payload(demoServer, passwords[2]!));
    await vault.ensureSecret(otherServer);
    await vault.putPending(otherServer, tokens[0]!, payload(otherServer, otherPassword));
    await vault.promote(otherServer, tokens[0]!, undefined);
    for (const scope of [DEMO, OTHER]) await vault.ensureSecret({ ...scope, serverId: sharedId });
    await vault.close();
  });

  afterAll(() => temp.remove());

  const everyPassword = (): string[] => [...passwords, otherPassword];

  it('get prints exactly the current password on stdout, and logs the read (not the value) on stderr', async () => {
    const result = await rotator(['vault', 'get', demoServer.serverId]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${passwords[1]}\n`);
    const records = result.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const read = records.find((r) => r.event === 'vault-password-read');
    expect(read).toMatchObject({ serverId: demoServer.serverId, label: 'AWSCURRENT', versionId: tokens[1] });
    expect(typeof read?.who).toBe('string');
    for (const secret of everyPassword()) expect(result.stderr).not.toContain(secret);
  });

  it('get --label and --version select other versions', async () => {
    expect((await rotator(['vault', 'get', demoServer.serverId, '--label', 'AWSPREVIOUS'])).stdout).toBe(`${passwords[0]}\n`);
    expect((await rotator(['vault', 'get', demoServer.serverId, '--label', 'ROTATOR_ACTIVE'])).stdout).toBe(`${passwords[0]}\n`);
    expect((await rotator(['vault', 'get', demoServer.serverId, '--label', 'AWSPENDING', '--target', 'web'])).stdout).toBe(
      `${passwords[2]}\n`,
    );
    expect((await rotator(['vault', 'get', demoServer.serverId, '--version', tokens[2]!])).stdout).toBe(`${passwords[2]}\n`);
    expect((await rotator(['vault', 'get', otherServer.serverId, '--account', 'other'])).stdout).toBe(`${otherPassword}\n`);
  });

  it('get fails clearly, with nothing on stdout, when the server or label does not exist', async () => {
    const missing = await rotator(['vault', 'get', 'no-such-server']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/no secret for server no-such-server/);

    const noLabel = await rotator(['vault', 'get', otherServer.serverId, '--label', 'AWSPREVIOUS']);
    expect(noLabel.code).toBe(1);
    expect(noLabel.stdout).toBe('');
    expect(noLabel.stderr).toMatch(/has no version labelled AWSPREVIOUS \(labels present: AWSCURRENT=/);

    const wrongScope = await rotator(['vault', 'get', otherServer.serverId, '--target', 'web']);
    expect(wrongScope.code).toBe(1);
    expect(wrongScope.stderr).toMatch(/in target web \(account demo\)/);

    const ambiguous = await rotator(['vault', 'get', sharedId]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/several projects.*--target or --account/);
    for (const result of [missing, noLabel, wrongScope, ambiguous]) {
      for (const secret of everyPassword()) expect(result.stderr).not.toContain(secret);
    }
  });

  it('list shows every secret with its labels and no password', async () => {
    const result = await rotator(['vault', 'list']);
    expect(result.code, result.stderr).toBe(0);
    const line = result.stdout.split('\n').find((l) => l.startsWith(demoServer.serverId));
    expect(line).toMatch(/AWSCURRENT=run-cli-…ration-0 AWSPENDING=run-cli-…ration-0 AWSPREVIOUS=run-cli-…ration-0 ROTATOR_ACTIVE=/);
    expect(result.stdout).toContain(otherServer.serverId);
    for (const secret of everyPassword()) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
  });

  it('list <target> --json shows only that target account\'s secrets, with full version ids', async () => {
    const result = await rotator(['vault', 'list', 'web', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ serverId: string; versions: Array<{ versionId: string; labels: string[] }> }>;
    expect(rows.map((r) => r.serverId).sort()).toEqual([demoServer.serverId, sharedId].sort());
    const demo = rows.find((r) => r.serverId === demoServer.serverId);
    expect(demo?.versions.map((v) => v.versionId).sort()).toEqual([...tokens].sort());
    for (const secret of everyPassword()) expect(result.stdout).not.toContain(secret);
  });

  it('never creates a key or a vault when there is none (read-only)', async () => {
    const emptyConfig = join(temp.dir, 'empty.yaml');
    const dir = join(temp.dir, 'nothing-here');
    await writeFile(emptyConfig, `vault:\n  kind: file\n  file: { path: ${join(dir, 'v.enc')}, keyFile: ${join(dir, 'v.key')} }\n`);
    const saved = configPath;
    configPath = emptyConfig;
    try {
      const result = await rotator(['vault', 'list']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/does not exist yet/);
    } finally {
      configPath = saved;
    }
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });
});
