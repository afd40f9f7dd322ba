import { describe, expect, it } from 'vitest';
import { checkEligibility } from '../../src/rotation/eligibility.js';
import type { EcsServer } from '../../src/domain/server.js';

const server = (o: Partial<EcsServer> = {}): EcsServer => ({
  id: 'a',
  name: 'ecs-a',
  status: 'ACTIVE',
  osType: 'Linux',
  tags: {},
  locked: false,
  enterpriseProjectId: undefined,
  ...o,
});

describe('checkEligibility', () => {
  it('an ACTIVE, unlocked server with a known OS and the plug-in (or an unasked flag) is eligible', () => {
    expect(checkEligibility(server(), true)).toEqual({ eligible: true });
    expect(checkEligibility(server({ osType: 'Windows' }), undefined)).toEqual({ eligible: true });
  });

  it.each([
    [server({ locked: true, status: 'SHUTOFF', osType: undefined }), false, 'locked'],
    [server({ status: 'SHUTOFF', osType: undefined }), false, 'status'],
    [server({ status: 'REBOOT' }), true, 'status'],
    [server({ osType: undefined }), false, 'os-type-unknown'],
    [server(), false, 'no-reset-plugin'],
  ] as const)('%j with flag %s → %s (first reason wins)', (s, flag, code) => {
    const result = checkEligibility(s, flag);
    expect(result).toMatchObject({ eligible: false, code });
  });

  it('names the status in the reason', () => {
    expect(checkEligibility(server({ status: 'SHUTOFF' }), true)).toMatchObject({ reason: expect.stringContaining('SHUTOFF') });
  });
});
