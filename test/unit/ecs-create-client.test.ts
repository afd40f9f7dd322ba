import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import type { Harness } from './ecs-http-harness.js';
import { AK, captureLogger, json, PROJECT_ID, recordingClock, SK, startHarness } from './ecs-http-harness.js';

let harness: Harness;
beforeEach(async () => {
  harness = await startHarness();
});
afterEach(async () => {
  await harness.close();
});

const account = { name: 'demo', region: 'sim-1', projectId: PROJECT_ID, endpoint: 'simulator', requestTimeoutMs: 2000, requestsPerSecond: 1000, maxAttempts: 2 };

describe('createEcsClient', () => {
  it('points `endpoint: simulator` at the simulator address, and takes maxAttempts from the account', async () => {
    const port = Number(new URL(harness.url).port);
    const { logger, lines } = captureLogger();
    const client = createEcsClient(account, { kind: 'aksk', accessKey: AK, secretKey: SK }, {
      clock: recordingClock(),
      random: { int: () => 0 },
      logger,
      simulator: { host: '0.0.0.0', port },
    });
    harness.fallback = json(503, { error: { code: 'Common.1503', message: 'flow control' } });
    await expect(client.getResetPasswordFlag('a')).rejects.toMatchObject({ code: 'Common.1503', attempts: 2 });
    expect(harness.requests).toHaveLength(2);
    expect(harness.requests[0]!.headers.host).toBe(`127.0.0.1:${port}`);
    // Log lines name the account and region, for operators with several accounts.
    expect(lines()).toContain('"account":"demo"');
    client.close();
  });

  it('refuses `endpoint: simulator` without a simulator address', () => {
    expect(() =>
      createEcsClient(account, { kind: 'token', token: 't' }, { clock: recordingClock(), random: { int: () => 0 }, logger: captureLogger().logger }),
    ).toThrow(/simulator/);
  });
});
