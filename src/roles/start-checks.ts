import type { LoadedConfig } from '../config/index.js';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';

/**
 * Invariant 6 (validate before side effects), for the roles about to start: the credentials of
 * every account an enabled target uses (worker), and the HTTP token when token auth is on
 * (dashboard). Throws a `RotatorError` naming the missing variable or file; returns the token.
 */
export function checkBeforeStart(config: LoadedConfig, roles: readonly string[]): { httpToken: string | undefined } {
  if (roles.includes('worker')) {
    for (const accountName of new Set(config.targets.filter((t) => t.enabled).map((t) => t.account))) {
      config.account(accountName);
      config.credentials(accountName); // throws CONFIG_CREDENTIALS_MISSING naming the variables
    }
  }
  if (!roles.includes('dashboard') || config.service.http.auth.mode !== 'token') return { httpToken: undefined };
  const httpToken = config.httpToken();
  if (httpToken === undefined) {
    throw new RotatorError({
      code: ServiceErrorCode.configHttpTokenMissing,
      message: 'http.auth.mode is token: set ROTATOR_HTTP_TOKEN or ROTATOR_HTTP_TOKEN_FILE',
      retryable: false,
    });
  }
  return { httpToken };
}
