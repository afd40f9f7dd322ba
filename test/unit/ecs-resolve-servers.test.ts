import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveTargetServers } from '../../src/rotation/resolve-servers.js';
import type { ResolvedServer } from '../../src/rotation/resolve-servers.js';
import type { Harness } from './ecs-http-harness.js';
import { huaweiServer, json, makeClient, PROJECT_ID, startHarness } from './ecs-http-harness.js';

// The real client against a scripted HTTP server standing in for Huawei.
let harness: Harness;
const fleet = ['s1', 's2', 's3', 's4', 's5'].map((id, i) => huaweiServer(id, { tags: i % 2 === 0 ? ['rotate=true'] : ['rotate=false'] }));

beforeEach(async () => {
  harness = await startHarness();
  harness.fallback = (req, res) => {
    const detail = `/v1/${PROJECT_ID}/cloudservers/detail`;
    if (req.path === detail) {
      const q = new URLSearchParams(req.query);
      const limit = Number(q.get('limit'));
      const page = Number(q.get('offset'));
      const tag = q.get('tags');
      const matches = fleet.filter((s) => !tag || (s.tags as string[]).includes(tag));
      json(200, { count: matches.length, servers: matches.slice((page - 1) * limit, page * limit) })(req, res);
      return;
    }
    const id = req.path.split('/').pop()!;
    const server = fleet.find((s) => s.id === id);
    if (server) json(200, { server })(req, res);
    else json(404, { error: { code: 'Ecs.0114', message: 'not found' } })(req, res);
  };
});
afterEach(async () => {
  await harness.close();
});

async function collect(iterable: AsyncIterable<ResolvedServer>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of iterable) out.push(r.kind === 'found' ? `${r.server.id}:${r.via}` : `${r.serverId}:not-found`);
  return out;
}

describe('resolveTargetServers', () => {
  it('explicit ids first (deduped, missing reported), then filter matches not already yielded', async () => {
    const { client } = makeClient(harness);
    const result = await collect(
      resolveTargetServers(client, { serverIds: ['s3', 'ghost', 's3', 's2'], tags: { rotate: 'true' } }, { pageSize: 2 }),
    );
    expect(result).toEqual(['s3:id', 'ghost:not-found', 's2:id', 's1:filter', 's5:filter']);
    client.close();
  });

  it('ids only: no list call; filters only: no get calls', async () => {
    const { client } = makeClient(harness);
    expect(await collect(resolveTargetServers(client, { serverIds: ['s1'], name: '', tags: {} }))).toEqual(['s1:id']);
    expect(harness.requests.map((r) => r.path.split('/').slice(3).join('/'))).toEqual(['cloudservers/s1']);
    harness.requests.length = 0;
    expect(await collect(resolveTargetServers(client, { name: 'ecs', status: 'ACTIVE' }))).toEqual(fleet.map((s) => `${s.id}:filter`));
    expect(harness.requests.every((r) => r.path.endsWith('/cloudservers/detail'))).toBe(true);
    expect(harness.requests[0]!.query).toEqual(expect.arrayContaining([['name', 'ecs'], ['status', 'ACTIVE']]));
    client.close();
  });

  it('refuses a selector with neither ids nor filters (never "the whole project" by accident)', async () => {
    const { client } = makeClient(harness);
    await expect(collect(resolveTargetServers(client, { serverIds: [], tags: {}, name: '' }))).rejects.toMatchObject({ code: 'SELECTOR_EMPTY' });
    // Status alone only narrows: it would select most of a project.
    await expect(collect(resolveTargetServers(client, { status: 'ACTIVE' }))).rejects.toMatchObject({ code: 'SELECTOR_EMPTY' });
    expect(harness.requests).toHaveLength(0);
    client.close();
  });
});
