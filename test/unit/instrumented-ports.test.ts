/**
 * The metric decorators of the ports, on real adapters: the file vault (real files) and the Huawei
 * ECS client against the real simulator. Successes count as `ok`, failures by their error code, with
 * a latency observation each; the wrapped adapter behaves exactly as before.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { DEFAULT_ECS_RETRY_POLICY } from '../../src/adapters/huawei-ecs/retry-policy.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { instrumentEcsApi, instrumentRotateBatch, instrumentVault } from '../../src/observability/instrumented-ports.js';
import { boundedCode, createServiceMetrics } from '../../src/observability/service-metrics.js';
import type { BatchSummary } from '../../src/rotation/batch-input.js';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { captureLogger, randomKey, tempDir } from '../fixtures/file-vault/support.js';

async function value(metrics: ReturnType<typeof createServiceMetrics>, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  const data = await metrics.registry.getSingleMetric(family)!.get();
  return data.values.find(
    (v) => ((v as { metricName?: string }).metricName ?? family) === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )?.value;
}

describe('instrumented ports', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ fleet: { kind: 'generated', count: 3, seed: 7 } });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('vault: counts ok and error codes per operation, with durations; the vault works through the wrapper', async () => {
    const temp = await tempDir('instrumented-vault-');
    const vault = await openFileVault({ path: join(temp.dir, 'v.json.enc'), key: randomKey(), clock: systemClock, logger: captureLogger().logger });
    try {
      const metrics = createServiceMetrics();
      const metered = instrumentVault(vault, metrics);
      const key = { region: 'r-1', projectId: 'p', serverId: 's1' };
      await metered.ensureSecret(key);
      expect(await metered.describe(key)).toMatchObject({ key });
      // Promoting a version that does not exist is refused by the vault: counted by its code.
      const refused = await metered.promote(key, 'no-such-version', undefined).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RotatorError);
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'ensureSecret', result: 'ok' })).toBe(1);
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'describe', result: 'ok' })).toBe(1);
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'promote', result: (refused as RotatorError).code })).toBe(1);
      expect(await value(metrics, 'rotator_vault_operation_duration_seconds_count', { operation: 'promote' })).toBe(1);
    } finally {
      await vault.close();
      await temp.remove();
    }
  });

  it('vault: a batch-level call counts each write under its kind and each key read as a describe', async () => {
    const temp = await tempDir('instrumented-vault-batch-');
    const vault = await openFileVault({ path: join(temp.dir, 'v.json.enc'), key: randomKey(), clock: systemClock, logger: captureLogger().logger });
    try {
      const metrics = createServiceMetrics();
      const metered = instrumentVault(vault, metrics);
      const keys = [1, 2, 3].map((i) => ({ region: 'r-1', projectId: 'p', serverId: `s${i}` }));
      const results = await metered.writeMany([
        ...keys.map((key) => ({ kind: 'ensureSecret' as const, key })),
        { kind: 'promote', key: keys[0]!, versionId: 'no-such-version', expectedCurrent: undefined },
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
      expect((await metered.describeMany(keys)).map((d) => d?.key.serverId)).toEqual(['s1', 's2', 's3']);
      const refused = results[3]!.ok ? undefined : (results[3] as { error: RotatorError }).error;
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'ensureSecret', result: 'ok' })).toBe(3);
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'promote', result: refused!.code })).toBe(1);
      expect(await value(metrics, 'rotator_vault_operations_total', { operation: 'describe', result: 'ok' })).toBe(3);
      expect(await value(metrics, 'rotator_vault_operation_duration_seconds_count', { operation: 'ensureSecret' })).toBe(3);
      expect(await value(metrics, 'rotator_vault_operation_duration_seconds_count', { operation: 'promote' })).toBe(1);
      expect(await value(metrics, 'rotator_vault_operation_duration_seconds_count', { operation: 'describe' })).toBe(3);
    } finally {
      await vault.close();
      await temp.remove();
    }
  });

  it('ECS: counts calls by operation and code (a refused signature included), listServers once per listing', async () => {
    const metrics = createServiceMetrics();
    const client = (secretKey: string) =>
      instrumentEcsApi(
        createEcsClient(
          { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5000, requestsPerSecond: 1000, maxAttempts: 2 },
          { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey },
          { clock: systemClock, random: cryptoRandom, logger: captureLogger().logger, retry: { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
        ),
        metrics,
        'sim',
      );
    const good = client(DEMO_CREDENTIALS.secretKey);
    const listed: string[] = [];
    for await (const s of good.listServers({}, { pageSize: 1 })) listed.push(s.id);
    expect(listed).toHaveLength(3);
    expect(await good.getServer(listed[0]!)).toMatchObject({ id: listed[0] });
    const refused = await client('wrong-secret-key-000000000000000').getServer(listed[0]!).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RotatorError);
    expect(await value(metrics, 'rotator_ecs_requests_total', { account: 'sim', operation: 'listServers', code: 'ok' })).toBe(1);
    expect(await value(metrics, 'rotator_ecs_requests_total', { account: 'sim', operation: 'getServer', code: 'ok' })).toBe(1);
    expect(await value(metrics, 'rotator_ecs_requests_total', { account: 'sim', operation: 'getServer', code: (refused as RotatorError).code })).toBe(1);
    expect(await value(metrics, 'rotator_ecs_request_duration_seconds_count', { account: 'sim', operation: 'getServer' })).toBe(2);
  });

  it('rotateBatch: outcomes by target; throttling errors count a pause with its length', async () => {
    const metrics = createServiceMetrics();
    const result: BatchSummary = {
      runId: 'run|web|x',
      batchIndex: 0,
      outcomes: [
        { serverId: 'a', outcome: 'rotated-unverified' },
        { serverId: 'b', outcome: 'rotated-unverified' },
        { serverId: 'c', outcome: 'failed', code: 'Ecs.0605' },
      ],
      counts: { verified: 0, 'rotated-unverified': 2, 'pending-restart': 0, failed: 1, unknown: 0, skipped: 0, busy: 0 },
    };
    const input = { runId: 'run|web|x', target: 'web', batchIndex: 0, serverIds: ['a', 'b', 'c'], dryRun: false };
    const context = { signal: undefined };
    await instrumentRotateBatch(async () => result, metrics)(input, context);
    expect(await value(metrics, 'rotator_rotations_total', { target: 'web', outcome: 'rotated-unverified' })).toBe(2);
    expect(await value(metrics, 'rotator_rotations_total', { target: 'web', outcome: 'failed' })).toBe(1);
    const throttled = new RotatorError({ code: 'APIGW.0308', message: 'throttled', retryable: true, retryAfterMs: 7000, httpStatus: 429 });
    await expect(instrumentRotateBatch(async () => Promise.reject(throttled), metrics)(input, context)).rejects.toBe(throttled);
    expect(await value(metrics, 'rotator_throttle_pauses_total', { target: 'web', code: 'APIGW.0308' })).toBe(1);
    expect(await value(metrics, 'rotator_throttle_pause_seconds_total', { target: 'web' })).toBe(7);
  });

  it('boundedCode keeps code-like values and folds anything else into "other"', () => {
    expect(boundedCode({ code: 'Ecs.0611' })).toBe('Ecs.0611');
    expect(boundedCode({ code: 'ThrottlingException' })).toBe('ThrottlingException');
    expect(boundedCode({ code: 'server 0b000000-0000 said: no' })).toBe('other');
    expect(boundedCode(new Error('x'))).toBe('other');
    expect(boundedCode(undefined)).toBe('other');
  });
});
