import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../src/config/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
// An empty jobs directory of its own, so that no test depends on another having run first.
let emptyJobs: string;
beforeAll(async () => {
  emptyJobs = await mkdtemp(join(tmpdir(), 'rotator-jobs-'));
});
afterAll(async () => {
  await rm(emptyJobs, { recursive: true, force: true });
});

/** The loaded config; fails the test, listing every problem, when the file is not valid. */
function valid(result: Awaited<ReturnType<typeof loadConfig>>): LoadedConfig {
  expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([]);
  expect(result.ok).toBe(true);
  if (!result.ok) throw new Error('unreachable: the expectations above failed');
  return result.config;
}

describe('config/examples', () => {
  it('production-aws.yaml is valid with the environment it documents', async () => {
    const result = await loadConfig({
      cwd: ROOT,
      configPath: 'config/examples/production-aws.yaml',
      jobsDir: emptyJobs,
      env: { REDIS_URL: 'rediss://:pw@redis.internal:6380', ROTATOR_HTTP_TOKEN: 'x'.repeat(32), HUAWEI_AK: 'AK', HUAWEI_SK: 'SK' },
    });
    const config = valid(result);
    expect(config.service.vault).toMatchObject({ kind: 'aws-secrets-manager', awsSecretsManager: { region: 'eu-central-1', retryMode: 'adaptive' } });
    expect(config.service.redis.url).toBe('rediss://:pw@redis.internal:6380');
  });

  it('single-host.yaml is valid', async () => {
    const result = await loadConfig({ cwd: ROOT, configPath: 'config/examples/single-host.yaml', jobsDir: emptyJobs, env: {} });
    valid(result);
  });

  it('local-simulator-token.yaml is valid with the shipped jobs', async () => {
    const result = await loadConfig({ cwd: ROOT, configPath: 'config/examples/local-simulator-token.yaml', jobsDir: 'jobs', env: {} });
    expect(valid(result).credentials('demo').kind).toBe('token');
  });
});
