/**
 * The pino logger factory. Every process builds one at its composition root and passes it (or
 * children of it) down; there is no module-level logger.
 *
 * Secrets are kept out in two independent layers, because either alone has gaps:
 *  1. pino `redact` with explicit paths, at the depths this code logs secrets (cheap, and it also
 *     covers child bindings and custom serializers' output);
 *  2. `scrubSecrets` (secret-scrubber.ts), which walks every logged object at any depth, serialises
 *     errors with their causes, and masks secrets inside strings. `redact` cannot express "any depth"
 *     (only listed paths and one-level wildcards), and a future log line will nest a request body one
 *     level deeper than this list foresaw.
 * The log message itself must still never contain a secret: interpolated strings are masked only for
 * the recognisable `key=value` shapes.
 */
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { REDACTED, scrubSecrets, scrubText } from './secret-scrubber.js';

export interface CreateLoggerOptions {
  /** Minimum level written. @defaultValue `info` */
  level?: Level | 'silent' | undefined;
  /** `name` field of every line, e.g. the process role. */
  name?: string | undefined;
  /** Where lines go. @defaultValue standard output (synchronous writes, so nothing is lost at exit) */
  destination?: DestinationStream | undefined;
  /**
   * Human-readable output through pino-pretty instead of JSON lines.
   * @defaultValue true when standard output is a terminal (and no destination is given), else false
   */
  pretty?: boolean | undefined;
  /** Extra fields on every line (pino `base`); pid and hostname are always included. */
  base?: Record<string, unknown> | undefined;
}

/** The field names whose values are secrets, at any of the depths {@link REDACT_PATHS} lists. */
export const REDACT_KEYS: readonly string[] = [
  'password',
  'newPassword',
  'new_password',
  'oldPassword',
  'secret',
  'secretKey',
  'secret_key',
  'sk',
  'token',
  'authToken',
  'auth_token',
  'securityToken',
  'accessToken',
  'SecretString',
  'SecretBinary',
  'authorization',
  'Authorization',
  'x-auth-token',
  'X-Auth-Token',
  'x-security-token',
  'cookie',
];

/** Fields this code logs secrets one level under: covered by the `*.<key>` paths. */
export const REDACT_CONTAINERS: readonly string[] = [
  'body',
  'value',
  'payload',
  'data',
  'input',
  'params',
  'credentials',
  'headers',
  'request',
  'response',
  'req',
  'res',
  'err',
  'error',
  'cause',
  'config',
  'secretValue',
];

/**
 * Paths redacted by pino itself. Listed explicitly (pino has no recursive wildcard): top level, one
 * level of wildcard, and the deeper shapes this code logs: HTTP requests/responses, Huawei request
 * bodies, AWS SDK inputs/responses, vault payloads and credentials.
 *
 * One level under any field (`body.password`, `credentials.secretKey`, …) is `*.<key>`'s: listing
 * those containers as well (`body.<key>` for 17 containers) made 861 paths instead of 504, with no
 * line redacted differently, and pino's redactor parses every path again each time it runs (on
 * every child logger's bindings, @pinojs/redact 0.4). The containers stay in
 * {@link REDACT_CONTAINERS}, which the tests prove covered.
 */
export const REDACT_PATHS: readonly string[] = (() => {
  const nested = [
    'req.headers',
    'res.headers',
    'request.headers',
    'request.body',
    'response.headers',
    'response.body',
    'err.request',
    'err.response',
    'err.config',
    'err.body',
    'err.cause',
    'error.request',
    'error.response',
    'error.body',
    'error.cause',
    'err.$response.body',
    'err.$response.headers',
    'input.SecretString',
    'body["reset-password"]',
    'request.body["reset-password"]',
    'payload.value',
    'secret.value',
  ];
  const paths = new Set<string>();
  for (const key of REDACT_KEYS) {
    // A name that is not an identifier goes in brackets and quotes (`["x-auth-token"]`): pino reads
    // quotes only inside brackets, and `"x-auth-token"` alone named a field with quotes in its name.
    const plain = /^[A-Za-z_$][\w$]*$/.test(key);
    paths.add(plain ? key : `["${key}"]`);
    const segment = plain ? `.${key}` : `["${key}"]`;
    paths.add(`*${segment}`);
    for (const prefix of nested) paths.add(`${prefix}${segment}`);
  }
  return [...paths];
})();

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const destination: DestinationStream =
    options.destination === undefined
      ? usePretty
        ? pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l' })
        : pino.destination({ dest: 1, sync: true })
      : usePretty
        ? pretty({ colorize: false, sync: true, destination: options.destination })
        : options.destination;

  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.base === undefined ? {} : { base: { pid: process.pid, hostname: hostname(), ...(scrubSecrets(options.base) as object) } }),
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      // Errors are serialised (and scrubbed) by the log formatter below; the std serializer would see
      // a plain object and re-wrap it, so it is replaced by the identity.
      serializers: { err: (value: unknown) => value, error: (value: unknown) => value },
      formatters: {
        log: (object) => scrubSecrets(object) as Record<string, unknown>,
      },
      hooks: {
        // Masks `password=…`-shaped text in the message and in printf-style string arguments.
        logMethod(args, method) {
          const cleaned = args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg)) as typeof args;
          method.apply(this, cleaned);
        },
      },
      // Child bindings bypass `formatters.log` (pino only redacts them by path): scrub them too.
      onChild: (child) => scrubChildBindings(child),
    },
    destination,
  );
}

/** pino keeps a child's bindings as a pre-serialised JSON fragment (`,"k":v,…`); rewrite it scrubbed. */
function scrubChildBindings(child: Logger): void {
  const symbol = pino.symbols.chindingsSym;
  const holder = child as unknown as Record<symbol, unknown>;
  const fragment = holder[symbol];
  if (typeof fragment !== 'string' || fragment === '') return;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(`{${fragment.slice(1)}}`) as Record<string, unknown>;
  } catch {
    return;
  }
  const cleaned = JSON.stringify(scrubSecrets(parsed));
  holder[symbol] = cleaned === '{}' ? '' : `,${cleaned.slice(1, -1)}`;
}
