import { EcsClientErrorCode } from '../../domain/error-codes.js';
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.js';
import type { RandomSource } from '../../ports/random-source.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';
import { TokenBucketRateLimiter } from '../token-bucket-rate-limiter.js';
import { HuaweiEcsClient } from './huawei-ecs-client.js';
import type { EcsCredentials } from './huawei-ecs-client.js';
import { DEFAULT_ECS_RETRY_POLICY } from './retry-policy.js';
import type { RetryPolicy } from './retry-policy.js';
import { EcsApiError } from './ecs-api-error.js';

/** The account endpoint value meaning "the built-in simulator" (see config `simulator.host`/`port`). */
export const SIMULATOR_ENDPOINT_NAME = 'simulator';

/** What the factory reads from an account of the service config (`AccountConfig` fits as is). */
export interface EcsAccountSettings {
  readonly name: string;
  readonly region: string;
  readonly projectId: string;
  /** An http(s) base URL, or `simulator`. */
  readonly endpoint: string;
  readonly requestTimeoutMs: number;
  readonly requestsPerSecond: number;
  readonly maxAttempts: number;
}

export interface EcsClientDeps {
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /**
   * Shared limiter (the Redis one, for all workers of a deployment).
   * @defaultValue an in-process token bucket at `account.requestsPerSecond` (burst: one second's worth)
   */
  rateLimiter?: RateLimiter | undefined;
  /** Where `endpoint: simulator` points; required for such accounts. */
  simulator?: { readonly host: string; readonly port: number } | undefined;
  /** @defaultValue DEFAULT_ECS_RETRY_POLICY with `account.maxAttempts` */
  retry?: RetryPolicy | undefined;
}

/** Builds the ECS client for one account: the CLI, the workers and the tests all go through here. */
export function createEcsClient(
  account: EcsAccountSettings,
  credentials: EcsCredentials | (() => EcsCredentials),
  deps: EcsClientDeps,
): HuaweiEcsClient {
  let endpoint = account.endpoint;
  if (endpoint === SIMULATOR_ENDPOINT_NAME) {
    if (!deps.simulator) {
      throw new EcsApiError({
        code: EcsClientErrorCode.invalidArgument,
        message: `account ${account.name}: endpoint is "simulator" but no simulator host/port was given`,
        retryable: false,
      });
    }
    // A wildcard bind address is reached through loopback; an IPv6 literal needs brackets.
    const bound = deps.simulator.host;
    const host = bound === '0.0.0.0' ? '127.0.0.1' : bound === '::' ? '[::1]' : bound.includes(':') && !bound.startsWith('[') ? `[${bound}]` : bound;
    endpoint = `http://${host}:${deps.simulator.port}`;
  }
  return new HuaweiEcsClient({
    endpoint,
    projectId: account.projectId,
    region: account.region,
    credentials,
    timeoutMs: account.requestTimeoutMs,
    retry: deps.retry ?? { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: account.maxAttempts },
    rateLimiter:
      deps.rateLimiter ?? new TokenBucketRateLimiter({ requestsPerSecond: account.requestsPerSecond, clock: deps.clock }),
    clock: deps.clock,
    random: deps.random,
    logger: deps.logger.child({ account: account.name, region: account.region }),
  });
}
