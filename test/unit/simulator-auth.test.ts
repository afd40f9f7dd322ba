import { afterEach, describe, expect, it } from 'vitest';
import { formatSdkDate } from '../../src/adapters/huawei-ecs/signer.js';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_TOKEN } from '../../src/simulator/demo-credentials.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator } from '../../src/simulator/simulator.js';
import { callSim, manualClock } from '../helpers/simulator-client.js';
import type { SimCall } from '../helpers/simulator-client.js';

const clock = manualClock();
let sim: RunningSimulator;
afterEach(async () => {
  await sim?.close();
});

async function start(options: Parameters<typeof startSimulator>[0] = {}): Promise<RunningSimulator> {
  sim = await startSimulator({ clock, fleet: { kind: 'generated', count: 30, seed: 7 }, faults: { throttle: null }, ...options });
  return sim;
}

const signed = (call: Partial<SimCall> & { path: string }): SimCall => ({
  projectId: DEMO_PROJECT_ID,
  credentials: DEMO_CREDENTIALS,
  nowMs: clock.now(),
  ...call,
});

function expectGateway401(reply: { status: number; json: Record<string, unknown>; headers: Record<string, unknown> }, code = 'APIGW.0301'): void {
  expect(reply.status).toBe(401);
  expect(reply.json.error_code).toBe(code);
  expect(typeof reply.json.error_msg).toBe('string');
  expect(reply.json.request_id).toBe(reply.headers['x-request-id']);
}

describe('simulator gateway authentication (AK/SK)', () => {
  it('accepts a correctly signed GET with a query and a correctly signed PUT with a body', async () => {
    await start();
    const list = await callSim(sim.url, signed({ path: 'cloudservers/detail', query: [['limit', '5'], ['tags', 'env=prod']] }));
    expect(list.status).toBe(200);
    expect(list.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const id = sim.servers().find((s) => s.status === 'ACTIVE' && !s.locked && s.plugin)!.id;
    const reset = await callSim(
      sim.url,
      signed({ method: 'PUT', path: 'cloudservers/os-reset-passwords', body: { new_password: 'Xy7!pq9_Lm2k', dry_run: true, servers: [{ id }] } }),
    );
    expect(reset.status).toBe(200);
  });

  it('verifies the query as received: raw characters the sender leaves unencoded still verify', async () => {
    await start();
    // Signed over the decoded value; sent with `!` and `(` raw on the wire, as Huawei's SDKs do.
    const reply = await callSim(
      sim.url,
      signed({
        path: 'cloudservers/detail',
        query: [['name', "web!(x)'*"]],
        tamper: (wire) => {
          wire.query = [];
          wire.path = `${wire.path}?name=web!(x)'*`;
        },
      }),
    );
    expect(reply.status).toBe(200);
    expect(reply.json.count).toBe(0);
  });

  it.each([
    ['body', (w: { body: string }) => void (w.body = w.body.replace('"dry_run":true', '"dry_run":false'))],
    ['query', (w: { query: [string, string][] }) => void (w.query = [['limit', '6']])],
    ['host', (w: { headers: Record<string, string> }) => void (w.headers.Host = 'ecs.cn-north-4.myhuaweicloud.com')],
    ['date', (w: { headers: Record<string, string> }) => void (w.headers['X-Sdk-Date'] = formatSdkDate(clock.now() + 1000))],
    ['method', (w: { method: string }) => void (w.method = 'POST')],
  ])('rejects a request whose %s changed after signing', async (_what, tamper) => {
    await start();
    const id = sim.servers()[0]!.id;
    const isBody = _what === 'body' || _what === 'method';
    const reply = await callSim(
      sim.url,
      signed({
        method: isBody ? 'PUT' : 'GET',
        path: isBody ? 'cloudservers/os-reset-passwords' : 'cloudservers/detail',
        query: isBody ? [] : [['limit', '5']],
        body: isBody ? { new_password: 'Xy7!pq9_Lm2k', dry_run: true, servers: [{ id }] } : undefined,
        tamper: tamper as (w: unknown) => void,
      }),
    );
    if (_what === 'method') {
      // POST to os-reset-passwords is no API at all: the gateway answers 404 before authenticating.
      expect(reply.status).toBe(404);
      expect(reply.json.error_code).toBe('APIGW.0101');
    } else {
      expectGateway401(reply);
      expect(reply.json.error_msg).toMatch(/signature/);
    }
    expect(sim.servers().every((s) => s.resetCount === 0)).toBe(true);
  });

  it('rejects a signature made with another secret key, an unknown AK, and a garbled or missing Authorization', async () => {
    await start();
    const wrongSk = await callSim(sim.url, signed({ path: 'cloudservers/detail', credentials: { ...DEMO_CREDENTIALS, secretKey: 'nope' } }));
    expectGateway401(wrongSk);
    const unknownAk = await callSim(sim.url, signed({ path: 'cloudservers/detail', credentials: { accessKey: 'UNKNOWNAK', secretKey: DEMO_CREDENTIALS.secretKey } }));
    expectGateway401(unknownAk);
    const garbled = await callSim(sim.url, signed({ path: 'cloudservers/detail', tamper: (w) => void (w.headers.Authorization = 'Bearer something') }));
    expectGateway401(garbled);
    const missing = await callSim(sim.url, { path: 'cloudservers/detail', projectId: DEMO_PROJECT_ID });
    expectGateway401(missing);
  });

  it('rejects a date more than 15 minutes from its clock, either way, and accepts 14 minutes', async () => {
    await start();
    for (const skew of [16 * 60_000, -16 * 60_000]) {
      const reply = await callSim(sim.url, signed({ path: 'cloudservers/detail', nowMs: clock.now() + skew }));
      expectGateway401(reply);
      expect(reply.json.error_msg).toMatch(/15 minutes/);
    }
    const ok = await callSim(sim.url, signed({ path: 'cloudservers/detail', nowMs: clock.now() - 14 * 60_000 }));
    expect(ok.status).toBe(200);
    const malformed = await callSim(sim.url, signed({ path: 'cloudservers/detail', headers: { 'X-Sdk-Date': '2030-01-15T12:00:00Z' } }));
    expectGateway401(malformed);
  });

  it('requires host, x-sdk-date and x-project-id to be signed', async () => {
    await start();
    const reply = await callSim(sim.url, signed({ path: 'cloudservers/detail', headers: { 'X-Project-Id': undefined } }));
    expectGateway401(reply);
    expect(reply.json.error_msg).toMatch(/x-project-id/);
  });

  it('refuses a project id other than its own, in the header or in the path (403 APIGW.0302)', async () => {
    await start();
    const other = 'ffffffffffffffffffffffffffffffff';
    const header = await callSim(sim.url, signed({ path: `/v1/${DEMO_PROJECT_ID}/cloudservers/detail`, projectId: other }));
    expect(header.status).toBe(403);
    expect(header.json.error_code).toBe('APIGW.0302');
    const path = await callSim(sim.url, signed({ path: `/v1/${other}/cloudservers/detail` }));
    expect(path.status).toBe(403);
    expect(path.json.error_code).toBe('APIGW.0302');
  });

  it('locks an AK for 5 minutes after more than 5 consecutive bad signatures, then releases it', async () => {
    await start();
    const bad = signed({ path: 'cloudservers/detail', credentials: { ...DEMO_CREDENTIALS, secretKey: 'wrong' } });
    // Five bad signatures do not lock: a good one still passes and resets the count.
    for (let i = 0; i < 5; i++) expect((await callSim(sim.url, { ...bad, nowMs: clock.now() })).status).toBe(401);
    expect((await callSim(sim.url, signed({ path: 'cloudservers/detail' }))).status).toBe(200);
    // Six consecutive bad signatures lock it.
    for (let i = 0; i < 6; i++) expect((await callSim(sim.url, { ...bad, nowMs: clock.now() })).status).toBe(401);
    const locked = await callSim(sim.url, signed({ path: 'cloudservers/detail' }));
    expectGateway401(locked);
    expect(locked.json.error_msg).toMatch(/locked/);
    clock.advance(5 * 60_000 - 1000);
    expect((await callSim(sim.url, signed({ path: 'cloudservers/detail' }))).status).toBe(401);
    clock.advance(1000);
    expect((await callSim(sim.url, signed({ path: 'cloudservers/detail' }))).status).toBe(200);
  });

  it('locks per AK: another AK keeps working', async () => {
    const second = { accessKey: 'SECONDAK000000000001', secretKey: 'second-secret' };
    await start({ credentials: [DEMO_CREDENTIALS, second] });
    const bad = signed({ path: 'cloudservers/detail', credentials: { ...DEMO_CREDENTIALS, secretKey: 'wrong' } });
    for (let i = 0; i < 6; i++) await callSim(sim.url, bad);
    expect((await callSim(sim.url, signed({ path: 'cloudservers/detail' }))).status).toBe(401);
    expect((await callSim(sim.url, signed({ path: 'cloudservers/detail', credentials: second }))).status).toBe(200);
  });
});

describe('simulator gateway authentication (token)', () => {
  it('accepts a configured X-Auth-Token and refuses an unknown or expired one', async () => {
    await start({ tokens: [DEMO_TOKEN, { token: 'short-lived', expiresAtMs: clock.now() + 60_000 }] });
    const base = { path: 'cloudservers/detail', projectId: DEMO_PROJECT_ID };
    expect((await callSim(sim.url, { ...base, token: DEMO_TOKEN })).status).toBe(200);
    expectGateway401(await callSim(sim.url, { ...base, token: 'forged' }));
    expect((await callSim(sim.url, { ...base, token: 'short-lived' })).status).toBe(200);
    clock.advance(60_000);
    expectGateway401(await callSim(sim.url, { ...base, token: 'short-lived' }), 'APIGW.0307');
  });
});

describe('simulator routing', () => {
  it('answers unknown paths and methods with a gateway-style 404 before authentication, with X-Request-Id', async () => {
    await start();
    for (const call of [
      { path: 'cloudservers/nothing/here' },
      { method: 'DELETE', path: 'cloudservers/os-reset-passwords' },
      { path: '/v2/whatever' },
    ]) {
      const reply = await callSim(sim.url, { projectId: DEMO_PROJECT_ID, ...call });
      expect(reply.status).toBe(404);
      expect(reply.json.error_code).toBe('APIGW.0101');
      expect(reply.headers['x-request-id']).toBeTruthy();
    }
  });
});
