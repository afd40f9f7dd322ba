import { describe, expect, it } from 'vitest';
import { serverSchema, toEcsServer } from '../../src/adapters/huawei-ecs/ecs-responses.js';
import { huaweiServer } from './ecs-http-harness.js';

/** The `addresses` block as Huawei's ECS detail documents it (`OS-EXT-IPS:type` fixed | floating). */
describe('server addresses from the ECS detail', () => {
  it('splits IPv4 addresses into fixed (private) and floating (elastic/public), over every VPC', () => {
    const raw = huaweiServer('s1', {
      addresses: {
        'vpc-a': [
          { version: '4', addr: '192.168.0.12', 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' },
          { version: '4', addr: '121.36.0.8', 'OS-EXT-IPS:type': 'floating' },
          { version: '6', addr: '2407:c080::1', 'OS-EXT-IPS:type': 'fixed' },
        ],
        'vpc-b': [{ version: '4', addr: '10.0.3.4', 'OS-EXT-IPS:type': 'fixed' }],
      },
    });
    expect(toEcsServer(serverSchema.parse(raw)).addresses).toEqual({ fixed: ['192.168.0.12', '10.0.3.4'], floating: ['121.36.0.8'] });
  });

  it('a malformed addresses block is ignored, never a failure of the call; no block means undefined', () => {
    expect(toEcsServer(serverSchema.parse(huaweiServer('s1', { addresses: 'nonsense' }))).addresses).toBeUndefined();
    expect(toEcsServer(serverSchema.parse(huaweiServer('s1', { addresses: { v: [null, 3, { addr: 'not-an-ip' }] } }))).addresses).toEqual({ fixed: [], floating: [] });
    expect(toEcsServer(serverSchema.parse(huaweiServer('s1'))).addresses).toBeUndefined();
  });
});
