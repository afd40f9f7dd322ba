import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
let emptyJobs: string | undefined;
afterAll(async () => {
  if (emptyJobs !== undefined) await rm(emptyJobs, { recursive: true, force: true });
});

describe('config/examples', () => {
  it('production-aws.yaml is valid with the environment it documents', async () => {
    emptyJobs = await mkdtemp(join(tmpdir(), 'rotator-jobs-'));
    const result = await loadConfig({
      cwd: ROOT,
      configPath: 'config/examples/production-aws.yaml',
      jobsDir: emptyJobs,
      env: { REDIS_URL: 'rediss://:pw@redis.internal:6380', ROTATOR_HTTP_TOKEN: 'x'.repeat(32), HUAWEI_AK: 'AK', HUAWEI_SK: 'SK' },
    });
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([]);
    if (!result.ok) return;
    expect(result.config.service.vault).toMatchObject({ kind: 'aws-secrets-manager', awsSecretsManager: { region: 'eu-central-1', retryMode: 'adaptive' } });
    expect(result.config.service.redis.url).toBe('rediss://:pw@redis.internal:6380');
  });

  it('single-host.yaml is valid', async () => {
    const result = await loadConfig({ cwd: ROOT, configPath: 'config/examples/single-host.yaml', jobsDir: emptyJobs ?? 'jobs', env: {} });
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([]);
  });

  it('local-simulator-token.yaml is valid with the shipped jobs', async () => {
    const result = await loadConfig({ cwd: ROOT, configPath: 'config/examples/local-simulator-token.yaml', jobsDir: 'jobs', env: {} });
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([]);
    if (result.ok) expect(result.config.credentials('demo').kind).toBe('token');
  });
});
