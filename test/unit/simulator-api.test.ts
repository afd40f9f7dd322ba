import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID } from '../../src/simulator/demo-credentials.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/simulator.js';
import { callSim, manualClock, simInspect } from '../helpers/simulator-client.js';
import type { SimCall, SimReply } from '../helpers/simulator-client.js';

const clock = manualClock();
let sim: RunningSimulator;
afterEach(async () => {
  await sim?.close();
});

async function start(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  sim = await startSimulator({ clock, faults: { throttle: null }, rebootDurationMs: 10_000, ...options });
  return sim;
}

function api(call: Partial<SimCall> & { path: string }): Promise<SimReply> {
  return callSim(sim.url, { projectId: DEMO_PROJECT_ID, credentials: DEMO_CREDENTIALS, nowMs: clock.now(), ...call });
}

const reset = (body: unknown) => api({ method: 'PUT', path: 'cloudservers/os-reset-passwords', body });

const spec = (id: string, extra: Partial<SimServerSpec> = {}): SimServerSpec => ({
  id,
  name: `ecs-${id}`,
  osType: 'Linux',
  status: 'ACTIVE',
  locked: false,
  plugin: true,
  tags: { rotate: 'true' },
  enterpriseProjectId: '0',
  ...extra,
});

const MIXED: SimServerSpec[] = [
  spec('ok-linux'),
  spec('ok-windows', { osType: 'Windows' }),
  spec('locked', { locked: true }),
  spec('no-plugin', { plugin: false }),
  spec('shutoff', { status: 'SHUTOFF' }),
];
const PASSWORD = 'Xy7!pq9_Lm2k';
const SECOND = 'Qw3@zx8-Rt5v';

describe('GET cloudservers/detail', () => {
  it('pages by page number when the total is not a multiple of the page size; offset 0 and 1 are both page 1', async () => {
    await start({ fleet: { kind: 'generated', count: 53, seed: 3 } });
    const seen: string[] = [];
    for (let page = 1; page <= 6; page++) {
      const reply = await api({ path: 'cloudservers/detail', query: [['limit', '10'], ['offset', String(page)]] });
      expect(reply.status).toBe(200);
      expect(reply.json.count).toBe(53);
      expect(reply.json.servers).toHaveLength(page === 6 ? 3 : 10);
      seen.push(...reply.json.servers.map((s: { id: string }) => s.id));
    }
    expect(new Set(seen).size).toBe(53);
    expect(seen).toEqual(sim.servers().map((s) => s.id));
    const beyond = await api({ path: 'cloudservers/detail', query: [['limit', '10'], ['offset', '7']] });
    expect(beyond.json).toEqual({ count: 53, servers: [] });
    const zero = await api({ path: 'cloudservers/detail', query: [['limit', '10'], ['offset', '0']] });
    const one = await api({ path: 'cloudservers/detail', query: [['limit', '10'], ['offset', '1']] });
    expect(zero.json.servers.map((s: { id: string }) => s.id)).toEqual(one.json.servers.map((s: { id: string }) => s.id));
    const byDefault = await api({ path: 'cloudservers/detail' });
    expect(byDefault.json.servers).toHaveLength(25);
  });

  it('refuses a limit outside 1..1000 naming the parameter', async () => {
    await start({ fleet: { kind: 'generated', count: 3 } });
    for (const limit of ['0', '1001', 'ten', '-1']) {
      const reply = await api({ path: 'cloudservers/detail', query: [['limit', limit]] });
      expect(reply.status).toBe(400);
      expect(reply.json.error.code).toBe('Ecs.0005');
      expect(reply.json.error.message).toMatch(/limit/);
    }
    expect((await api({ path: 'cloudservers/detail', query: [['limit', '1000']] })).status).toBe(200);
  });

  it('filters by tags, not-tags, name, status (ACTIVE includes REBOOT), enterprise project; server_id ignores the rest', async () => {
    await start({
      fleet: {
        kind: 'servers',
        servers: [
          spec('a', { name: 'ecs-web-001', tags: { rotate: 'true', env: 'prod' } }),
          spec('b', { name: 'ecs-web-002', tags: { rotate: 'true', env: 'staging' }, enterpriseProjectId: 'ep-2' }),
          spec('c', { name: 'ecs-db-001', tags: { env: 'prod' }, status: 'SHUTOFF' }),
          spec('d', { name: 'ecs-db-002', tags: { rotate: 'false', env: 'prod' } }),
        ],
      },
    });
    const ids = async (query: [string, string][]): Promise<string[]> => {
      const reply = await api({ path: 'cloudservers/detail', query });
      expect(reply.status).toBe(200);
      expect(reply.json.count).toBe(reply.json.servers.length);
      return reply.json.servers.map((s: { id: string }) => s.id);
    };
    expect(await ids([['tags', 'rotate=true']])).toEqual(['a', 'b']);
    expect(await ids([['tags', 'rotate=true'], ['tags', 'env=prod']])).toEqual(['a']);
    expect(await ids([['tags', 'rotate=true,env=staging']])).toEqual(['b']);
    expect(await ids([['not-tags', 'rotate=true']])).toEqual(['c', 'd']);
    expect(await ids([['name', 'web']])).toEqual(['a', 'b']);
    expect(await ids([['status', 'SHUTOFF']])).toEqual(['c']);
    expect(await ids([['enterprise_project_id', 'ep-2']])).toEqual(['b']);
    expect(await ids([['server_id', 'c'], ['status', 'ACTIVE'], ['tags', 'rotate=true']])).toEqual(['c']);
    expect(await ids([['server_id', 'nope']])).toEqual([]);
    // A comma-separated list, as Huawei's official SDK sends it; unknown ids are left out.
    expect((await ids([['server_id', 'c,a,nope'], ['tags', 'rotate=true']])).sort()).toEqual(['a', 'c']);

    // A server in REBOOT still matches status=ACTIVE, and reports REBOOT.
    const job = await api({ method: 'POST', path: 'cloudservers/action', body: { reboot: { type: 'SOFT', servers: [{ id: 'a' }] } } });
    expect(job.status).toBe(200);
    expect(await ids([['status', 'ACTIVE']])).toEqual(['a', 'b', 'd']);
    expect(await ids([['status', 'REBOOT']])).toEqual(['a']);
  });

  it('describes servers with the fields a client reads', async () => {
    await start({ fleet: { kind: 'servers', servers: [spec('w', { osType: 'Windows', tags: { env: 'prod' }, locked: true })] } });
    const reply = await api({ path: 'cloudservers/detail' });
    const server = reply.json.servers[0];
    expect(server).toMatchObject({ id: 'w', name: 'ecs-w', status: 'ACTIVE', locked: true, tags: ['env=prod'], enterprise_project_id: '0' });
    expect(server.metadata.os_type).toBe('Windows');
    expect(server['OS-EXT-STS:vm_state']).toBe('active');
  });
  it('shows a server\'s times as Huawei formats them; `updated` follows an accepted reset, `created` stays', async () => {
    await start({ fleet: { kind: 'servers', servers: [spec('a'), spec('b')] } });
    const show = async (id: string) => (await api({ path: `cloudservers/${id}` })).json.server as Record<string, unknown>;
    const before = await show('a');
    expect(before.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(before.updated).toBe(before.created);
    expect(before['OS-SRV-USG:launched_at']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}000$/);
    clock.advance(90_000);
    expect((await reset({ new_password: PASSWORD, servers: [{ id: 'a' }] })).status).toBe(200);
    const after = await show('a');
    expect(after.created).toBe(before.created);
    expect(Date.parse(after.updated as string) - Date.parse(before.updated as string)).toBeGreaterThanOrEqual(90_000);
    // The listing shows the same, and the server not reset keeps its time.
    const listed = (await api({ path: 'cloudservers/detail' })).json.servers as Record<string, unknown>[];
    expect(listed.find((s) => s.id === 'a')?.updated).toBe(after.updated);
    expect(listed.find((s) => s.id === 'b')?.updated).toBe(listed.find((s) => s.id === 'b')?.created);
  });
});

describe('GET cloudservers/{id} and os-resetpwd-flag', () => {
  it('answers the server, 404 Ecs.0114 when missing, and the plug-in flag as a string', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const one = await api({ path: 'cloudservers/ok-linux' });
    expect(one.status).toBe(200);
    expect(one.json.server.id).toBe('ok-linux');
    const missing = await api({ path: 'cloudservers/missing' });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('Ecs.0114');
    expect((await api({ path: 'cloudservers/ok-linux/os-resetpwd-flag' })).json).toEqual({ resetpwd_flag: 'True' });
    expect((await api({ path: 'cloudservers/no-plugin/os-resetpwd-flag' })).json).toEqual({ resetpwd_flag: 'False' });
    expect((await api({ path: 'cloudservers/missing/os-resetpwd-flag' })).status).toBe(404);
  });
});

describe('PUT cloudservers/os-reset-passwords', () => {
  const ALL = [...MIXED.map((s) => ({ id: s.id })), { id: 'missing' }];
  const EXPECTED_ERRORS = [
    { id: 'locked', error_code: 'Ecs.0605' },
    { id: 'no-plugin', error_code: 'Ecs.0613' },
    { id: 'shutoff', error_code: 'Ecs.0100' },
    { id: 'missing', error_code: 'Ecs.0614' },
  ];

  it('400-internal-error mode: 400 Ecs.0611 with per-server codes; the servers that passed are staged anyway', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED }, partialFailureMode: '400-internal-error' });
    const reply = await reset({ new_password: PASSWORD, servers: ALL });
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe('Ecs.0611');
    expect(reply.json.internalError.map((e: { id: string; error_code: string }) => ({ id: e.id, error_code: e.error_code }))).toEqual(EXPECTED_ERRORS);
    expect(reply.json.response).toBeUndefined();
    for (const id of ['ok-linux', 'ok-windows']) {
      expect(sim.login(id, PASSWORD)).toEqual({ now: false, afterRestart: true });
      expect(sim.server(id)).toMatchObject({ hasStagedPassword: true, resetCount: 1 });
    }
    for (const { id } of EXPECTED_ERRORS.slice(0, 3)) expect(sim.server(id)).toMatchObject({ hasStagedPassword: false, resetCount: 0 });
  });

  it('200-subset mode: 200 listing only the accepted servers; switchable at run time through /__sim/', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED }, partialFailureMode: '200-subset' });
    const reply = await reset({ new_password: PASSWORD, servers: ALL });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ response: [{ id: 'ok-linux' }, { id: 'ok-windows' }] });
    expect(sim.login('ok-windows', PASSWORD)?.afterRestart).toBe(true);

    // Every server refused: the 400 form even in 200-subset mode.
    const none = await reset({ new_password: PASSWORD, servers: [{ id: 'locked' }] });
    expect(none.status).toBe(400);
    expect(none.json.internalError[0].error_code).toBe('Ecs.0605');

    const switched = await simInspect(sim.url, 'PUT', '/__sim/partial-failure-mode', { mode: '400-internal-error' });
    expect(switched.status).toBe(200);
    const after = await reset({ new_password: SECOND, servers: ALL });
    expect(after.status).toBe(400);
    expect(after.json.error.code).toBe('Ecs.0611');
    expect(sim.receivedSequence('ok-linux').map((r) => r.password)).toEqual([1, 2]);
  });

  it('all accepted: 200 with every server', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const reply = await reset({ new_password: PASSWORD, dry_run: false, servers: [{ id: 'ok-linux' }, { id: 'ok-windows' }] });
    expect(reply.status).toBe(200);
    expect(reply.json.response).toEqual([{ id: 'ok-linux' }, { id: 'ok-windows' }]);
  });

  it('dry_run answers what the call would, and changes nothing', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const before = sim.servers();
    const failing = await reset({ new_password: PASSWORD, dry_run: true, servers: ALL });
    expect(failing.status).toBe(400);
    expect(failing.json.internalError.map((e: { error_code: string }) => e.error_code)).toEqual(EXPECTED_ERRORS.map((e) => e.error_code));
    const passing = await reset({ new_password: PASSWORD, dry_run: true, servers: [{ id: 'ok-linux' }] });
    expect(passing.status).toBe(200);
    expect(passing.json.response).toEqual([{ id: 'ok-linux' }]);
    const noPassword = await reset({ dry_run: true, servers: [{ id: 'ok-linux' }] });
    expect(noPassword.status).toBe(200);
    const badPassword = await reset({ new_password: 'short', dry_run: true, servers: [{ id: 'ok-linux' }] });
    expect(badPassword.json.error.code).toBe('Ecs.0011');
    expect(sim.servers()).toEqual(before);
    expect(sim.login('ok-linux', PASSWORD)).toEqual({ now: false, afterRestart: false });
    expect(sim.wasReceived('ok-linux', PASSWORD)).toBe(false);
  });

  it('refuses more than 1000 servers with Ecs.0118 and accepts exactly 1000 ids for checking', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `id-${i}` }));
    const tooMany = await reset({ new_password: PASSWORD, servers: ids(1001) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.code).toBe('Ecs.0118');
    const thousand = await reset({ new_password: PASSWORD, dry_run: true, servers: ids(1000) });
    expect(thousand.status).toBe(400);
    expect(thousand.json.error.code).toBe('Ecs.0611');
    expect(thousand.json.internalError).toHaveLength(1000);
  });

  it.each([
    ['too short', 'Ab1!xyz'],
    ['too long', 'Ab1!'.repeat(7)],
    ['two classes only', 'abcdefgh1234'],
    ['a forbidden special', 'Xy7$pq9_Lm2k'],
    ['a space', 'Xy7 pq9_Lm2k'],
    ['non-ASCII', 'Xy7!pq9_Lm2é'],
    ['the username', 'Xy7!rootLm2k'],
    ['the username reversed, other case', 'Xy7!TOORLm2k'],
    ['Administrator', 'administrator1!A'],
    ['a run of Administrator', 'Xy7!Strq9Lm2k'],
    ['a leading slash', '/Xy7pq9_Lm2k'],
  ])('refuses a password with %s with Ecs.0011, without echoing it', async (_what, password) => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const reply = await reset({ new_password: password, servers: [{ id: 'ok-windows' }] });
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe('Ecs.0011');
    expect(reply.text).not.toContain(password);
    expect(sim.server('ok-windows')!.resetCount).toBe(0);
  });

  it('accepts every documented special character', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const reply = await reset({ new_password: 'Ab1!@%-_=+[]:./?', servers: [{ id: 'ok-linux' }] });
    expect(reply.status).toBe(200);
  });

  it.each([
    ['an empty body', '', 'Common.0002', /empty/],
    ['invalid JSON', `{"new_password":"${PASSWORD}",`, 'Ecs.0005', /JSON/],
    ['no servers', { new_password: PASSWORD }, 'Ecs.0005', /servers/],
    ['an empty server list', { new_password: PASSWORD, servers: [] }, 'Ecs.0005', /servers/],
    ['a server without id', { new_password: PASSWORD, servers: [{ name: 'x' }] }, 'Ecs.0005', /servers\[0\]\.id/],
    ['no password and no dry_run', { servers: [{ id: 'ok-linux' }] }, 'Ecs.0005', /new_password/],
    ['a non-boolean dry_run', { new_password: PASSWORD, dry_run: 'yes', servers: [{ id: 'ok-linux' }] }, 'Ecs.0005', /dry_run/],
    ['an unknown field', { new_password: PASSWORD, servers: [{ id: 'ok-linux' }], force: true }, 'Ecs.0005', /force/],
    ['a duplicate id', { new_password: PASSWORD, servers: [{ id: 'ok-linux' }, { id: 'ok-linux' }] }, 'Ecs.0005', /duplicate/],
  ])('refuses %s with a clear error and no password echoed', async (_what, body, code, message) => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const reply = await reset(body);
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe(code);
    expect(reply.json.error.message).toMatch(message);
    expect(reply.text).not.toContain(PASSWORD);
    expect(sim.server('ok-linux')!.resetCount).toBe(0);
  });
});

describe('reset stages, restart activates', () => {
  it('a reboot job runs INIT → RUNNING → SUCCESS over rebootDurationMs and then the new password logs in', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    expect((await reset({ new_password: PASSWORD, servers: [{ id: 'ok-linux' }, { id: 'ok-windows' }] })).status).toBe(200);
    expect((await simInspect(sim.url, 'POST', '/__sim/login', { serverId: 'ok-linux', password: PASSWORD })).json).toEqual({
      now: false,
      afterRestart: true,
    });

    const started = await api({ method: 'POST', path: 'cloudservers/action', body: { reboot: { type: 'SOFT', servers: [{ id: 'ok-linux' }] } } });
    expect(started.status).toBe(200);
    const jobId: string = started.json.job_id;
    expect(jobId).toMatch(/^[0-9a-f]{32}$/);
    const job = async () => (await api({ path: `jobs/${jobId}` })).json;

    expect((await job()).status).toBe('INIT');
    expect(sim.server('ok-linux')!.status).toBe('REBOOT');
    clock.advance(1000);
    const running = await job();
    expect(running.status).toBe('RUNNING');
    expect(running.entities.sub_jobs[0]).toMatchObject({ status: 'RUNNING', entities: { server_id: 'ok-linux' } });
    expect(sim.login('ok-linux', PASSWORD)).toEqual({ now: false, afterRestart: true });
    // A reset during the reboot is refused: the server is not ACTIVE.
    const during = await reset({ new_password: SECOND, servers: [{ id: 'ok-linux' }] });
    expect(during.json.internalError[0].error_code).toBe('Ecs.0100');

    clock.advance(9000);
    const done = await job();
    expect(done).toMatchObject({ status: 'SUCCESS', job_id: jobId, entities: { sub_jobs_total: 1 } });
    expect(done.entities.sub_jobs[0]).toMatchObject({ status: 'SUCCESS', entities: { server_id: 'ok-linux' } });
    expect(done.end_time).toBeTruthy();
    expect(sim.server('ok-linux')).toMatchObject({ status: 'ACTIVE', hasStagedPassword: false });
    expect((await simInspect(sim.url, 'POST', '/__sim/login', { serverId: 'ok-linux', password: PASSWORD })).json).toEqual({
      now: true,
      afterRestart: true,
    });
    // The server not rebooted still runs on its old password.
    expect(sim.login('ok-windows', PASSWORD)).toEqual({ now: false, afterRestart: true });
  });

  it('a reboot job with a locked or stopped server ends FAIL with per-server codes', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const started = await api({
      method: 'POST',
      path: 'cloudservers/action',
      body: { reboot: { type: 'HARD', servers: [{ id: 'ok-linux' }, { id: 'locked' }, { id: 'shutoff' }] } },
    });
    expect(sim.server('ok-linux')!.status).toBe('HARD_REBOOT');
    clock.advance(10_000);
    const job = (await api({ path: `jobs/${started.json.job_id}` })).json;
    expect(job.status).toBe('FAIL');
    expect(job.entities.sub_jobs.map((s: { status: string; error_code: string | null }) => [s.status, s.error_code])).toEqual([
      ['SUCCESS', null],
      ['FAIL', 'Ecs.0605'],
      ['FAIL', 'Ecs.0100'],
    ]);
    expect((await api({ path: 'jobs/0000' })).status).toBe(404);
    const badType = await api({ method: 'POST', path: 'cloudservers/action', body: { reboot: { type: 'SOFTLY', servers: [{ id: 'ok-linux' }] } } });
    expect(badType.json.error.message).toMatch(/reboot\.type/);
  });

  it('an out-of-band restart activates the staged password', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    await reset({ new_password: PASSWORD, servers: [{ id: 'ok-windows' }] });
    const restarted = await simInspect(sim.url, 'POST', '/__sim/servers/ok-windows/restart');
    expect(restarted.status).toBe(200);
    expect(restarted.json.hasStagedPassword).toBe(false);
    expect(sim.login('ok-windows', PASSWORD)).toEqual({ now: true, afterRestart: true });
  });
});

describe('inspection never reveals a password', () => {
  it('no /__sim/ or API response contains a password used or a hash-like value', async () => {
    await start({ fleet: { kind: 'servers', servers: MIXED } });
    const passwords = [PASSWORD, SECOND];
    const replies: SimReply[] = [];
    replies.push(await reset({ new_password: PASSWORD, servers: [{ id: 'ok-linux' }, { id: 'locked' }] }));
    replies.push(await reset({ new_password: SECOND, servers: [{ id: 'ok-windows' }] }));
    replies.push(await api({ path: 'cloudservers/detail' }));
    replies.push(await api({ path: 'cloudservers/ok-linux' }));
    for (const path of ['/__sim/info', '/__sim/servers', '/__sim/servers/ok-linux', '/__sim/servers/ok-windows', '/__sim/counters', '/__sim/faults']) {
      const reply = await simInspect(sim.url, 'GET', path);
      expect(reply.status).toBe(200);
      replies.push(reply);
    }
    replies.push(await simInspect(sim.url, 'POST', '/__sim/login', { serverId: 'ok-linux', password: PASSWORD }));
    replies.push(await simInspect(sim.url, 'POST', '/__sim/login', { serverId: 'nope', password: PASSWORD }));
    replies.push(await simInspect(sim.url, 'POST', '/__sim/login', `{"serverId":"ok-linux","password":"${PASSWORD}"`));
    replies.push(await simInspect(sim.url, 'PATCH', '/__sim/servers/ok-linux', { locked: false }));
    replies.push(await simInspect(sim.url, 'POST', '/__sim/servers/ok-linux/restart'));
    replies.push(await simInspect(sim.url, 'GET', '/__sim/servers/ok-linux'));
    const everything = replies.map((r) => `${JSON.stringify(r.headers)}\n${r.text}`).join('\n');
    for (const p of passwords) expect(everything).not.toContain(p);
    expect(everything).not.toContain(DEMO_CREDENTIALS.secretKey);
    // No SHA-256-sized hex anywhere (request ids are 32 hex characters, fingerprints would be 64).
    expect(everything).not.toMatch(/[0-9a-f]{64}/i);
    // In-process helpers answer by ordinal and booleans only.
    expect(JSON.stringify(sim.receivedSequence('ok-linux'))).not.toMatch(/[0-9a-f]{64}/i);
    expect(sim.server('ok-linux')).toMatchObject({ passwordsReceived: 1, distinctPasswordsReceived: 1 });
  });
});
