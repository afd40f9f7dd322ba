/** A target of the use cases (`RotationTarget`) over the simulator's generated fleet (names `ecs-…`), shared mode by default. */
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { RotationTarget } from '../../src/rotation/rotation-service.js';

export function simRotationTarget(overrides: Partial<RotationTarget> = {}): RotationTarget {
  return {
    name: 'web',
    account: 'sim',
    enabled: true,
    selector: { name: 'ecs-' },
    batchSize: 1000,
    passwordPolicy: DEFAULT_PASSWORD_POLICY,
    uniquePerServer: false,
    restartPolicy: 'none',
    dryRunPreflight: true,
    ...overrides,
  };
}
