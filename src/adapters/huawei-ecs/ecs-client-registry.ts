import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.js';
import type { EcsApi } from '../../ports/ecs-api.js';
import type { RandomSource } from '../../ports/random-source.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';
import { createEcsClient, type EcsAccountSettings } from './create-ecs-client.js';
import type { EcsCredentials } from './huawei-ecs-client.js';

/** Options of {@link createEcsClientRegistry}. */
export interface EcsClientRegistryDeps {
  /** The account's settings (throws for an unknown account). */
  account(name: string): EcsAccountSettings;
  /**
   * The account's credentials, read on every request: a refreshed token file or a rotated key is
   * used without a restart.
   */
  credentials(accountName: string): EcsCredentials;
  /**
   * The account's request limiter. Production passes a Redis limiter so that every worker of the
   * deployment shares one rate per account. @defaultValue the client's in-process token bucket
   */
  rateLimiterFor?: ((account: EcsAccountSettings) => RateLimiter) | undefined;
  /** Where `endpoint: simulator` points. */
  simulator?: { readonly host: string; readonly port: number } | undefined;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
}

/**
 * One ECS client per account, built on first use and then shared by every batch of the process
 * (the client holds the connection pool and the rate limiter).
 */
export function createEcsClientRegistry(deps: EcsClientRegistryDeps): (accountName: string) => EcsApi {
  const clients = new Map<string, EcsApi>();
  return (accountName) => {
    let client = clients.get(accountName);
    if (!client) {
      const account = deps.account(accountName);
      // A provider, not a value: credential files are re-read per request (refreshed tokens, rotated keys).
      client = createEcsClient(account, () => deps.credentials(accountName), {
        clock: deps.clock,
        random: deps.random,
        logger: deps.logger,
        rateLimiter: deps.rateLimiterFor?.(account),
        simulator: deps.simulator,
      });
      clients.set(accountName, client);
    }
    return client;
  };
}
