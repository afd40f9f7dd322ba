/**
 * Batch admission checks every batch's servers against its target's members. When this process
 * planned the run, the run's own listing (moments earlier, same selector, same pages) is that
 * resolution: `targetMembers(target, signal, runId)` answers from it instead of listing the whole
 * target again. Counted where the requests land: the ECS simulator over real HTTP, through the real
 * signed client. The vault, locks, outcomes and audit ports are not used by planning or admission,
 * and are left out.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import { createRotationService, type RotationService, type RotationServiceDeps, type RotationTarget } from '../../src/rotation/rotation-service.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { simRotationTarget } from '../helpers/rotation-target.js';

const SERVERS = 2_500;
let sim: RunningSimulator;
let ecs: EcsApi;
let service: RotationService;

const target: RotationTarget = simRotationTarget();

beforeAll(async () => {
  sim = await startSimulator({
    faults: { throttle: null },
    fleet: { kind: 'generated', count: SERVERS, seed: 5, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 },
  });
  ecs = createEcsClient(
    { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5_000, requestsPerSecond: 1_000, maxAttempts: 3 },
    { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
    { clock: systemClock, random: cryptoRandom, logger: pino({ level: 'silent' }) },
  );
  service = createRotationService({
    target: (name: string) => (name === target.name ? target : undefined),
    account: () => ({ region: sim.region, projectId: sim.projectId }),
    ecsFor: () => ecs,
    clock: systemClock,
    random: cryptoRandom,
    logger: pino({ level: 'silent' }),
  } as unknown as RotationServiceDeps);
});

afterAll(async () => {
  await sim.close();
});

const listCalls = (): number => Object.values(sim.counters().requests.listServers ?? {}).reduce((a, b) => a + b, 0);

async function drain(iterable: Iterable<unknown> | AsyncIterable<unknown>, stopAfter = Infinity): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of iterable) {
    ids.push(typeof item === 'string' ? item : (item as { id: string }).id);
    if (ids.length >= stopAfter) break;
  }
  return ids;
}

describe('a run planned in this process hands its listing to its batches’ admission', () => {
  it('answers the run’s members from its listing, once, without listing again', async () => {
    const plan = await service.planRun({ target: 'web', runId: 'run|web|a', serverIds: undefined, dryRun: false }, undefined);
    const listed = await drain(plan.serverIds);
    expect(listed).toHaveLength(SERVERS);
    const before = listCalls();
    const members = await service.targetMembers('web', undefined, 'run|web|a');
    expect(listCalls()).toBe(before);
    expect([...members].sort()).toEqual([...listed].sort());
    // Taken once: the admission keeps its own per-run cache; a later ask (another worker's cache evicted) lists.
    await service.targetMembers('web', undefined, 'run|web|a');
    expect(listCalls()).toBe(before + Math.ceil(SERVERS / 1000));
  });

  it('makes an admission asked while the listing still streams wait for its end', async () => {
    const before = listCalls();
    const plan = await service.planRun({ target: 'web', runId: 'run|web|b', serverIds: undefined, dryRun: false }, undefined);
    const iterator = (plan.serverIds as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await iterator.next(); // the run processor has read its first server and queued nothing yet
    let answered: ReadonlySet<string> | undefined;
    const asked = service.targetMembers('web', undefined, 'run|web|b').then((m) => (answered = m));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(answered).toBeUndefined();
    let rest = 1;
    while (!(await iterator.next()).done) rest++;
    await asked;
    expect(answered?.size).toBe(rest);
    expect(rest).toBe(SERVERS);
    expect(listCalls()).toBe(before + 3); // the run's own pages, not a second listing
  });

  it('tells what the listing has found so far while it streams, and nothing once it has ended', async () => {
    const plan = await service.planRun({ target: 'web', runId: 'run|web|s', serverIds: undefined, dryRun: false }, undefined);
    expect(service.listedSoFar('run|web|s', 'web')).toBeUndefined(); // not read yet
    const iterator = (plan.serverIds as AsyncIterable<{ id: string }>)[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as { id: string };
    // Found before it is handed on: a batch holding it can be admitted as soon as it is queued.
    expect([...(service.listedSoFar('run|web|s', 'web') ?? [])]).toEqual([first.id]);
    expect(service.listedSoFar('run|web|s', 'other')).toBeUndefined();
    expect(service.listedSoFar('run|web|t', 'web')).toBeUndefined();
    for (let i = 1; i < 1500; i++) await iterator.next();
    expect(service.listedSoFar('run|web|s', 'web')?.size).toBe(1500);
    while (!(await iterator.next()).done);
    expect(service.listedSoFar('run|web|s', 'web')).toBeUndefined();
    expect((await service.targetMembers('web', undefined, 'run|web|s')).size).toBe(SERVERS);

    const abandoned = await service.planRun({ target: 'web', runId: 'run|web|u', serverIds: undefined, dryRun: false }, undefined);
    await drain(abandoned.serverIds, 10);
    expect(service.listedSoFar('run|web|u', 'web')).toBeUndefined();
  });

  it('lists on its own when the run’s listing was abandoned, or never read, or belongs to another run or target', async () => {
    const plan = await service.planRun({ target: 'web', runId: 'run|web|c', serverIds: undefined, dryRun: false }, undefined);
    await drain(plan.serverIds, 10); // the fan-out failed after ten servers
    // Not the ten servers read before the fan-out stopped: a listing of its own (the pages read
    // ahead for the abandoned run may still land, so the request count is not exact here).
    expect((await service.targetMembers('web', undefined, 'run|web|c')).size).toBe(SERVERS);

    await service.planRun({ target: 'web', runId: 'run|web|d', serverIds: undefined, dryRun: false }, undefined); // never read
    let before = listCalls();
    expect((await service.targetMembers('web', undefined, 'run|web|d')).size).toBe(SERVERS);
    expect(listCalls()).toBe(before + 3);

    const other = await service.planRun({ target: 'web', runId: 'run|web|e', serverIds: undefined, dryRun: false }, undefined);
    await drain(other.serverIds);
    before = listCalls();
    expect((await service.targetMembers('web', undefined, 'run|web|f')).size).toBe(SERVERS);
    expect((await service.targetMembers('web', undefined)).size).toBe(SERVERS);
    expect(listCalls()).toBe(before + 6);
  });

  it('keeps the whole target’s members, not only the operator’s servers, for a run of named servers', async () => {
    const plan = await service.planRun({ target: 'web', runId: 'run|web|g', serverIds: undefined, dryRun: false }, undefined);
    const all = await drain(plan.serverIds);
    const named = await service.planRun({ target: 'web', runId: 'run|web|h', serverIds: all.slice(0, 3), dryRun: false }, undefined);
    expect(await drain(named.serverIds)).toEqual(all.slice(0, 3));
    const before = listCalls();
    expect((await service.targetMembers('web', undefined, 'run|web|h')).size).toBe(SERVERS);
    expect(listCalls()).toBe(before);
  });
});
