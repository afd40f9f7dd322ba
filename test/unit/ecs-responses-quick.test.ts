import { describe, expect, it } from 'vitest';
import { batchResetSuccessSchema, listServersSchema, quickBatchResetSuccess, quickListServers, toEcsServer } from '../../src/adapters/huawei-ecs/ecs-responses.js';
import { huaweiServer } from './ecs-http-harness.js';

/**
 * The quick checks skip zod for the common answers: they may accept only what the schema accepts,
 * and what they accept must read the same (toEcsServer) as the schema's output.
 */
describe('quick checks of ECS answers', () => {
  const page = (servers: unknown[], count: unknown = servers.length): Record<string, unknown> => ({ count, servers });
  const good = [
    huaweiServer('s1'),
    huaweiServer('s2', { tags: ['env=prod', 'solo'], locked: true, enterprise_project_id: null, metadata: { os_type: 'Windows' } }),
    huaweiServer('s3', { addresses: { 'vpc-a': [{ addr: '10.0.0.1', 'OS-EXT-IPS:type': 'fixed' }], 'vpc-b': null } }),
    huaweiServer('s4', { tags: null, metadata: null, locked: null, addresses: null }),
  ];
  const bad: [string, unknown][] = [
    ['id a number', huaweiServer('s1', { id: 5 })],
    ['id empty', huaweiServer('s1', { id: '' })],
    ['name missing', huaweiServer('s1', { name: undefined })],
    ['status empty', huaweiServer('s1', { status: '' })],
    ['metadata an array', huaweiServer('s1', { metadata: ['x'] })],
    ['metadata a string', huaweiServer('s1', { metadata: 'x' })],
    ['a tag a number', huaweiServer('s1', { tags: ['a=b', 3] })],
    ['tags an object', huaweiServer('s1', { tags: { a: 'b' } })],
    ['locked a string', huaweiServer('s1', { locked: 'true' })],
    ['enterprise project a number', huaweiServer('s1', { enterprise_project_id: 0 })],
    ['addresses a string (the schema drops it)', huaweiServer('s1', { addresses: 'nonsense' })],
    ['an address list an object (the schema drops it)', huaweiServer('s1', { addresses: { v: { addr: '10.0.0.1' } } })],
    ['a server null', null],
    ['a server an array', []],
  ];

  it('accepts a well-formed page, which reads as the schema reads it', () => {
    const json = page(good, 12);
    expect(quickListServers(json)).toBe(true);
    const parsed = listServersSchema.parse(json);
    expect((json.servers as Parameters<typeof toEcsServer>[0][]).map(toEcsServer)).toEqual(parsed.servers.map(toEcsServer));
  });

  it.each(bad)('leaves %s to the schema', (_what, server) => {
    expect(quickListServers(page([...good, server]))).toBe(false);
  });

  it('accepts nothing the schema refuses', () => {
    for (const json of [...bad.map(([, server]) => page([server])), page(good, -1), page(good, 1.5), page(good, '4'), { count: 1 }, { servers: [] }, null, [], 'x']) {
      if (quickListServers(json)) expect(listServersSchema.safeParse(json).success).toBe(true);
    }
  });

  it('checks the reset answer as its schema does', () => {
    for (const json of [{ response: [{ id: 'a' }, { id: 'b', extra: 1 }] }, { response: [] }, { response: [{ id: '' }] }, { response: [{}] }, { response: [null] }, { response: {} }, {}, null]) {
      const quick = quickBatchResetSuccess(json);
      if (quick) expect(batchResetSuccessSchema.safeParse(json).success).toBe(true);
      if (batchResetSuccessSchema.safeParse(json).success) expect(quick).toBe(true);
    }
  });
});
