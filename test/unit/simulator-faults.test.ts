import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID } from '../../src/simulator/demo-credentials.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/simulator.js';
import { callSim, manualClock, simInspect } from '../helpers/simulator-client.js';
import type { SimCall, SimReply } from '../helpers/simulator-client.js';

const clock = manualClock();
const sims: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

const SERVERS: SimServerSpec[] = ['s1', 's2', 's3'].map((id) => ({
  id,
  name: `ecs-${id}`,
  osType: 'Linux',
  status: 'ACTIVE',
  locked: false,
  plugin: true,
  tags: {},
  enterpriseProjectId: '0',
}));
const PASSWORD = 'Xy7!pq9_Lm2k';

async function start(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ clock, fleet: { kind: 'servers', servers: SERVERS }, ...options });
  sims.push(sim);
  return sim;
}

function api(sim: RunningSimulator, call: Partial<SimCall> & { path: string }): Promise<SimReply> {
  return callSim(sim.url, { projectId: DEMO_PROJECT_ID, credentials: DEMO_CREDENTIALS, nowMs: clock.now(), ...call });
}
const list = (sim: RunningSimulator) => api(sim, { path: 'cloudservers/detail' });
const reset = (sim: RunningSimulator, signal?: AbortSignal) =>
  api(sim, { method: 'PUT', path: 'cloudservers/os-reset-passwords', body: { new_password: PASSWORD, servers: [{ id: 's1' }] }, signal });

/** Resolves once `predicate` holds, checking after each turn of the event loop (no fixed sleeps). */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}

describe('simulator throttling', () => {
  it('answers 429 APIGW.0308 with Retry-After past the burst, per API, and refills with time', async () => {
    const sim = await start({ faults: { throttle: { ratePerSecond: 1, burst: 2, retryAfterSeconds: 3 } } });
    expect((await list(sim)).status).toBe(200);
    expect((await list(sim)).status).toBe(200);
    const throttled = await list(sim);
    expect(throttled.status).toBe(429);
    expect(throttled.json.error_code).toBe('APIGW.0308');
    expect(throttled.json.request_id).toBe(throttled.headers['x-request-id']);
    expect(throttled.headers['retry-after']).toBe('3');
    // Another API has its own bucket.
    expect((await api(sim, { path: 'cloudservers/s1' })).status).toBe(200);
    clock.advance(1000);
    expect((await list(sim)).status).toBe(200);
    expect(sim.counters().requests.listServers).toEqual({ '200': 3, '429': 1 });
  });

  it('omits Retry-After unless configured, and is Huawei\'s 200/s by default', async () => {
    const sim = await start({ faults: { throttle: { ratePerSecond: 1, burst: 1 } } });
    await list(sim);
    const throttled = await list(sim);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBeUndefined();
    const byDefault = await start();
    expect(byDefault.faults().throttle).toEqual({ ratePerSecond: 200, burst: 200 });
  });
});

describe('simulator random faults', () => {
  it('500 Common.0001 and 503 Common.1503 before processing change nothing', async () => {
    const sim = await start({ faults: { error500Probability: 1, faultTiming: 'before-processing', throttle: null } });
    const e500 = await reset(sim);
    expect(e500.status).toBe(500);
    expect(e500.json.error.code).toBe('Common.0001');
    sim.setFaults({ error500Probability: 0, error503Probability: 1 });
    const e503 = await reset(sim);
    expect(e503.status).toBe(503);
    expect(e503.json.error.code).toBe('Common.1503');
    expect(sim.server('s1')!.resetCount).toBe(0);
  });

  it('a 500 after processing leaves the reset applied: the outcome the client sees is unknown', async () => {
    const sim = await start({ faults: { error500Probability: 1, faultTiming: 'after-processing', throttle: null } });
    expect((await reset(sim)).status).toBe(500);
    expect(sim.login('s1', PASSWORD)).toEqual({ now: false, afterRestart: true });
  });

  it('connection reset: the socket is destroyed; after processing the reset is applied', async () => {
    const sim = await start({ faults: { connectionResetProbability: 1, throttle: null } });
    await expect(reset(sim)).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|socket hang up/i) });
    expect(sim.counters().requests.batchResetPasswords).toEqual({ 'connection-reset': 1 });
    expect(sim.receivedSequence('s1')).toEqual([expect.objectContaining({ password: 1, applied: true })]);
  });

  it('hang: the call is never answered; the client aborts; close() still completes', async () => {
    const sim = await start({ faults: { hangProbability: 1, faultTiming: 'before-processing', throttle: null } });
    const controller = new AbortController();
    const pending = reset(sim, controller.signal);
    await until(() => sim.counters().requests.batchResetPasswords?.hang === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(sim.server('s1')!.resetCount).toBe(0);

    // A hung call still open at close time does not keep the simulator up.
    const second = reset(sim).catch((e: unknown) => e);
    await until(() => sim.counters().requests.batchResetPasswords?.hang === 2);
    await sims.pop()!.close();
    expect(await second).toBeInstanceOf(Error);
  });

  it('scopes random faults to the listed APIs', async () => {
    const sim = await start({ faults: { error503Probability: 1, apis: ['batchResetPasswords'], throttle: null } });
    expect((await list(sim)).status).toBe(200);
    expect((await reset(sim)).status).toBe(503);
  });

  it('adds fixed latency plus jitter through the injected clock', async () => {
    const sim = await start({ faults: { latencyMs: { fixed: 500, jitter: 100 }, throttle: null } });
    const before = clock.now();
    expect((await list(sim)).status).toBe(200);
    const waited = clock.now() - before;
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(600);
  });

  it('is deterministic for a seed', async () => {
    const statuses = async (seed: number): Promise<number[]> => {
      const sim = await start({ faults: { error500Probability: 0.5, seed, throttle: null } });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await list(sim)).status);
      return out;
    };
    const a = await statuses(42);
    const b = await statuses(42);
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([200, 500]));
    expect(await statuses(43)).not.toEqual(a);
  });
});

describe('accepted but never applied', () => {
  it('answers accepted but stages nothing for the listed servers; counted and visible as not applied', async () => {
    const sim = await start({ faults: { acceptedNotAppliedServers: ['s2'], throttle: null } });
    const reply = await api(sim, {
      method: 'PUT',
      path: 'cloudservers/os-reset-passwords',
      body: { new_password: PASSWORD, servers: [{ id: 's1' }, { id: 's2' }] },
    });
    expect(reply.json.response).toEqual([{ id: 's1' }, { id: 's2' }]);
    expect(sim.login('s1', PASSWORD)?.afterRestart).toBe(true);
    expect(sim.login('s2', PASSWORD)).toEqual({ now: false, afterRestart: false });
    expect(sim.server('s2')).toMatchObject({ hasStagedPassword: false, resetCount: 1, passwordsReceived: 1 });
    expect(sim.receivedSequence('s2')).toEqual([expect.objectContaining({ password: 1, applied: false })]);
    expect(sim.counters().acceptedNotApplied).toBe(1);
  });

  it('applies the probability per accepted server', async () => {
    const sim = await start({ faults: { acceptedNotAppliedProbability: 1, throttle: null } });
    expect((await reset(sim)).status).toBe(200);
    expect(sim.server('s1')!.hasStagedPassword).toBe(false);
  });
});

describe('faults at run time through /__sim/faults', () => {
  it('reads, merges and validates faults, naming the bad field', async () => {
    const sim = await start({ faults: { throttle: null } });
    const put = await simInspect(sim.url, 'PUT', '/__sim/faults', { error503Probability: 1 });
    expect(put.status).toBe(200);
    expect(put.json.error503Probability).toBe(1);
    expect(put.json.throttle).toBeNull();
    expect((await list(sim)).status).toBe(503);
    expect((await simInspect(sim.url, 'GET', '/__sim/faults')).json.error503Probability).toBe(1);

    const bad = await simInspect(sim.url, 'PUT', '/__sim/faults', { hangProbability: 2 });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/hangProbability/);
    const unknown = await simInspect(sim.url, 'PUT', '/__sim/faults', { explode: true });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toMatch(/explode/);
    const sum = await simInspect(sim.url, 'PUT', '/__sim/faults', { error500Probability: 0.5 });
    expect(sum.status).toBe(400);
    expect(sum.json.message).toMatch(/must not exceed 1/);
    expect(() => sim.setFaults({ latencyMs: { fixed: -1, jitter: 0 } })).toThrow(/latencyMs\.fixed/);
    expect((await simInspect(sim.url, 'PUT', '/__sim/faults', { error503Probability: 0 })).status).toBe(200);
    expect((await list(sim)).status).toBe(200);
  });
});
