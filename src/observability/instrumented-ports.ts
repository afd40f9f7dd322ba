/**
 * Metrics at the edges: decorators of the EcsApi and Vault ports and of the batch use case. The
 * rotation core is unaware of them; the composition root wraps what it hands to the core.
 *
 * Each wrapper calls the real method on the real object (not on a proxy), so adapters that keep
 * their clients in `#private` fields keep working.
 */
import type { EcsApi } from '../ports/ecs-api.js';
import type { Vault } from '../ports/vault.js';
import type { RotateBatch } from '../rotation/rotation-service.js';
import { classifyJobFailure } from '../queue/job-failure.js';
import { boundedCode, type ServiceMetrics } from './service-metrics.js';

const ECS_OPERATIONS = ['batchResetPasswords', 'getServer', 'getResetPasswordFlag', 'batchReboot', 'getJob', 'waitForJob'] as const;
const VAULT_OPERATIONS = ['ensureSecret', 'putPending', 'getVersion', 'describe', 'promote', 'removeLabel', 'moveLabel'] as const;

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Wraps the listed async methods of `port`; every other property is the port's own. The wrapped
 * and bound functions are made once per property, not on every access: a 100k-server run makes
 * close to a million vault calls through this proxy.
 */
function instrument<T extends object>(port: T, methods: readonly string[], observe: (operation: string, error: unknown, s: number) => void): T {
  const made = new Map<string | symbol, { value: unknown; fn: unknown }>();
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const cached = made.get(property);
      if (cached !== undefined && cached.value === value) return cached.fn;
      let fn: unknown;
      if (typeof property !== 'string' || !methods.includes(property)) {
        fn = value.bind(target);
      } else {
        fn = async (...args: unknown[]) => {
          const start = process.hrtime.bigint();
          try {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            observe(property, undefined, seconds(start));
            return result;
          } catch (error) {
            observe(property, error, seconds(start));
            throw error;
          }
        };
      }
      made.set(property, { value, fn });
      return fn;
    },
  });
}

export function instrumentEcsApi(ecs: EcsApi, metrics: ServiceMetrics, account: string): EcsApi {
  const observe = (operation: string, error: unknown, s: number): void => {
    metrics.ecsRequests.inc({ account, operation, code: error === undefined ? 'ok' : boundedCode(error) });
    metrics.ecsDuration.observe({ account, operation }, s);
  };
  const wrapped = instrument(ecs, ECS_OPERATIONS, observe);
  // listServers is an async iterable (one call per page inside): timed from the first page to the last.
  return new Proxy(wrapped, {
    get(target, property, receiver) {
      if (property !== 'listServers') return Reflect.get(target, property, receiver);
      return (...args: Parameters<EcsApi['listServers']>) =>
        (async function* () {
          const start = process.hrtime.bigint();
          try {
            yield* ecs.listServers(...args);
            observe('listServers', undefined, seconds(start));
          } catch (error) {
            observe('listServers', error, seconds(start));
            throw error;
          }
        })();
    },
  });
}

export function instrumentVault(vault: Vault, metrics: ServiceMetrics): Vault {
  // Label-bound children, made once per operation: prom-client hashes a label object on every call otherwise.
  const ok = new Map(VAULT_OPERATIONS.map((operation) => [operation as string, metrics.vaultOperations.labels({ operation, result: 'ok' })]));
  const duration = new Map(VAULT_OPERATIONS.map((operation) => [operation as string, metrics.vaultDuration.labels({ operation })]));
  const observe = (operation: string, error: unknown, s: number): void => {
    if (error === undefined) ok.get(operation)?.inc();
    else metrics.vaultOperations.inc({ operation, result: boundedCode(error) });
    duration.get(operation)?.observe(s);
  };
  const single = instrument(vault, VAULT_OPERATIONS, observe);
  // Batch-level calls count as the operations they hold: each write under its kind, each key read as
  // a `describe`, with the call's duration (the time until that write was acknowledged).
  // A batch-level call holds up to thousands of operations: the successes are counted once per kind
  // (one `inc(n)`), only their durations one by one (a histogram has no weighted observation).
  const observeOk = (operation: string, n: number, s: number): void => {
    ok.get(operation)?.inc(n);
    const histogram = duration.get(operation);
    if (histogram !== undefined) for (let i = 0; i < n; i++) histogram.observe(s);
  };
  const writeMany: Vault['writeMany'] = async (writes) => {
    const start = process.hrtime.bigint();
    try {
      const results = await vault.writeMany(writes);
      const s = seconds(start);
      const succeeded = new Map<string, number>();
      results.forEach((result, i) => {
        const kind = writes[i]!.kind;
        if (result.ok) succeeded.set(kind, (succeeded.get(kind) ?? 0) + 1);
        else observe(kind, result.error, s);
      });
      for (const [kind, n] of succeeded) observeOk(kind, n, s);
      return results;
    } catch (error) {
      const s = seconds(start);
      for (const write of writes) observe(write.kind, error, s);
      throw error;
    }
  };
  const describeMany: Vault['describeMany'] = async (keys) => {
    const start = process.hrtime.bigint();
    try {
      const answers = await vault.describeMany(keys);
      observeOk('describe', keys.length, seconds(start));
      return answers;
    } catch (error) {
      const s = seconds(start);
      for (let i = 0; i < keys.length; i++) observe('describe', error, s);
      throw error;
    }
  };
  return new Proxy(single, {
    get(target, property, receiver) {
      if (property === 'writeMany') return writeMany;
      if (property === 'describeMany') return describeMany;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/**
 * Counts each batch's outcomes by target, and the throttling pauses its failures cause (the batch
 * processor pauses the queue for exactly the errors `classifyJobFailure` calls throttled).
 */
export function instrumentRotateBatch(rotateBatch: RotateBatch, metrics: ServiceMetrics): RotateBatch {
  return async (input, context) => {
    try {
      const result = await rotateBatch(input, context);
      const counts = new Map<string, number>();
      for (const o of result.outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
      for (const [outcome, n] of counts) metrics.rotations.inc({ target: input.target, outcome }, n);
      return result;
    } catch (error) {
      const failure = classifyJobFailure(error);
      if (failure.kind === 'throttled') {
        metrics.throttlePauses.inc({ target: input.target, code: boundedCode(error) });
        metrics.throttlePauseSeconds.inc({ target: input.target }, failure.delayMs / 1000);
      }
      throw error;
    }
  };
}
