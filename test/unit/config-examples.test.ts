/**
 * What starts is what `rotator config check` accepts: every file shipped in config/examples/ is
 * loaded and checked with the environment it documents, then started the way the service starts
 * (src/main.ts): its vault is opened (the AWS one against the Secrets Manager emulator, through the
 * real AWS SDK, and used: a secret is created with the configured tags and KMS key), and an ECS
 * client is built for every account. A rule the vault or a client enforces at start that
 * `config check` misses fails here; and a rule they enforce is a `config check` error naming the
 * file and the field (the last tests).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsSecretsManagerVault } from '../../src/adapters/aws-secrets-manager/aws-secrets-manager-vault.js';
import { createVault } from '../../src/adapters/create-vault.js';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { AWS_RESERVED_TAG_KEYS } from '../../src/config/aws-secrets-manager-rules.js';
import { loadConfig, type LoadedConfig, type VaultConfig } from '../../src/config/index.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'config/examples');
const logger = pino({ level: 'silent' });

/** The environment each example documents in its comments (credentials are placeholders). */
const DOCUMENTED_ENV: Record<string, Record<string, string>> = {
  'production-aws.yaml': {
    REDIS_URL: 'rediss://:pw@redis.internal:6380',
    ROTATOR_HTTP_TOKEN: 'x'.repeat(32),
    HUAWEI_AK__PROD_EU: 'AKEU',
    HUAWEI_SK__PROD_EU: 'SKEU',
    HUAWEI_AK__PROD_CN: 'AKCN',
    HUAWEI_SK__PROD_CN: 'SKCN',
  },
  'single-host.yaml': { HUAWEI_AK: 'AK', HUAWEI_SK: 'SK' },
  'local-simulator-token.yaml': {},
  // docker-compose.yml gives the token as ROTATOR_HTTP_TOKEN_FILE (a compose secret); the value form
  // is the same lookup (config-hardening.test.ts loads it with the file form).
  'container.yaml': { ROTATOR_HTTP_TOKEN: 'x'.repeat(32) },
};

let emulator: SecretsManagerEmulator;
let temp: string;
let emptyJobs: string;

// The AWS SDK reads its credentials from process.env (the service gets them from its role).
const AWS_TEST_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' };
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const [name, value] of Object.entries(AWS_TEST_ENV)) {
    savedEnv[name] = process.env[name];
    process.env[name] = value;
  }
  emulator = await startSecretsManagerEmulator();
  temp = await mkdtemp(join(tmpdir(), 'rotator-examples-'));
  emptyJobs = join(temp, 'jobs');
  await mkdir(emptyJobs);
});
afterAll(async () => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await emulator.close();
  await rm(temp, { recursive: true, force: true });
});

/** The loaded config; fails the test, listing every problem, when the file is not valid. */
function valid(result: Awaited<ReturnType<typeof loadConfig>>): LoadedConfig {
  expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([]);
  expect(result.ok).toBe(true);
  if (!result.ok) throw new Error('unreachable: the expectations above failed');
  return result.config;
}

/**
 * The vault config as the example gives it, with only what cannot be used on a test machine
 * replaced: the AWS endpoint (the emulator instead of AWS) and absolute file paths (a temp dir
 * instead of /var/lib/rotator).
 */
function testableVault(vault: VaultConfig, name: string): VaultConfig {
  if (vault.kind === 'aws-secrets-manager') return { ...vault, awsSecretsManager: { ...vault.awsSecretsManager, endpoint: emulator.url } };
  const dir = join(temp, name);
  return { ...vault, file: { path: join(dir, 'vault.json.enc'), keyFile: join(dir, 'vault.key') } };
}

async function startLikeTheService(config: LoadedConfig, name: string): Promise<void> {
  const vault = await createVault(testableVault(config.service.vault, name), {
    env: process.env,
    logger,
    clock: systemClock,
    cwd: temp,
  });
  try {
    const key = { region: 'eu-west-101', projectId: randomBytes(16).toString('hex'), serverId: randomUUID() };
    await vault.ensureSecret(key);
    expect((await vault.describe(key))?.versions).toEqual([]);
  } finally {
    await vault.close();
  }
  for (const account of config.service.accounts) {
    const client = createEcsClient(account, () => config.credentials(account.name), {
      clock: systemClock,
      random: cryptoRandom,
      logger,
      simulator: config.service.simulator,
    });
    expect(client).toBeDefined();
  }
}

describe('config/examples: every shipped file checks and starts', () => {
  it('has a documented environment for every example (a new example must be added here)', async () => {
    const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(Object.keys(DOCUMENTED_ENV).sort());
  });

  for (const [file, env] of Object.entries(DOCUMENTED_ENV)) {
    it(`${file}: config check accepts it, and its vault and ECS clients start`, async () => {
      const jobsDir = file === 'local-simulator-token.yaml' ? 'jobs' : emptyJobs;
      const config = valid(await loadConfig({ cwd: ROOT, configPath: `config/examples/${file}`, jobsDir, env }));
      await startLikeTheService(config, file);
    });
  }

  it('production-aws.yaml: the AWS vault settings it documents', async () => {
    const config = valid(await loadConfig({ cwd: ROOT, configPath: 'config/examples/production-aws.yaml', jobsDir: emptyJobs, env: DOCUMENTED_ENV['production-aws.yaml']! }));
    expect(config.service.vault).toMatchObject({ kind: 'aws-secrets-manager', awsSecretsManager: { region: 'eu-central-1', retryMode: 'adaptive' } });
    expect(config.service.redis.url).toBe('rediss://:pw@redis.internal:6380');
  });

  it('local-simulator-token.yaml: the demo account uses a token', async () => {
    const config = valid(await loadConfig({ cwd: ROOT, configPath: 'config/examples/local-simulator-token.yaml', jobsDir: 'jobs', env: {} }));
    expect(config.credentials('demo').kind).toBe('token');
  });
});

describe('a rule the AWS vault enforces at start is a config check error naming file and field', () => {
  async function check(vaultYaml: string): Promise<string[]> {
    const path = join(temp, `aws-${randomUUID()}.yaml`);
    await writeFile(path, `simulator:\n  enabled: false\nvault:\n  kind: aws-secrets-manager\n  awsSecretsManager:\n${vaultYaml}`);
    const result = await loadConfig({ cwd: ROOT, configPath: path, jobsDir: emptyJobs, env: {} });
    return result.ok ? [] : result.issues.map((i) => i.message.replace(path, '<file>'));
  }

  it.each(AWS_RESERVED_TAG_KEYS.map((k) => [k]))('reserved tag %s', async (reserved) => {
    const issues = await check(`    region: eu-central-1\n    tags:\n      ${reserved}: x\n`);
    expect(issues).toEqual([expect.stringMatching(new RegExp(`^<file>: vault\\.awsSecretsManager\\.tags\\.${reserved}: expected a tag key other than`))]);
    // The vault itself refuses the same option, for the same reason.
    expect(() => createAwsSecretsManagerVault({ region: 'eu-central-1', tags: { [reserved]: 'x' } }, { clock: systemClock })).toThrow(
      new RegExp(`tags\\.${reserved}: expected a tag key other than`),
    );
  });

  it('tag characters, region spelling and endpoint protocol', async () => {
    const issues = await check(`    region: EU-Central-1\n    endpoint: ftp://secrets.example.com\n    tags:\n      "bad{key}": x\n`);
    expect(issues).toHaveLength(3);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^<file>: vault\.awsSecretsManager\.region: expected an AWS region/),
        expect.stringMatching(/^<file>: vault\.awsSecretsManager\.endpoint: expected an http\(s\) URL/),
        expect.stringMatching(/^<file>: vault\.awsSecretsManager\.tags\["bad\{key\}"\]: expected AWS tag characters/),
      ]),
    );
    for (const options of [{ region: 'EU-Central-1' }, { region: 'eu-central-1', endpoint: 'ftp://secrets.example.com' }, { region: 'eu-central-1', tags: { 'bad{key}': 'x' } }]) {
      expect(() => createAwsSecretsManagerVault(options, { clock: systemClock })).toThrow(/expected/);
    }
  });
});
