/** The real ECS client pointed at a running simulator with its demo credentials (no retries' sleeps, no rate limit). */
import pino from 'pino';
import { HuaweiEcsClient } from '../../src/adapters/huawei-ecs/huawei-ecs-client.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import type { RunningSimulator } from '../../src/simulator/simulator.js';

export function createHuaweiEcsClientForTest(sim: Pick<RunningSimulator, 'url' | 'projectId' | 'region'>): HuaweiEcsClient {
  return new HuaweiEcsClient({
    endpoint: sim.url,
    projectId: sim.projectId,
    region: sim.region,
    credentials: { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    rateLimiter: { acquire: async () => {} },
    clock: { now: () => Date.now(), sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(resolve, Math.min(ms, 50));
      signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
    }) },
    random: { int: (n) => Math.floor(Math.random() * n) },
    logger: pino({ level: 'silent' }),
  });
}
