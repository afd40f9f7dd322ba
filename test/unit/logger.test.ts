import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACT_CONTAINERS, REDACT_KEYS, REDACT_PATHS } from '../../src/observability/logger.js';
import { scrubSecrets, scrubText } from '../../src/observability/secret-scrubber.js';
import { RotatorError } from '../../src/domain/rotator-error.js';

/** Collects every line written, as a real pino destination. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

// Distinct, recognisable secrets: a test fails if any of them appears in the output.
const PASSWORD = 'Zq7!mK2@pL9_wX4=vB1+';
const PASSWORD_2 = 'Old-Pw_3:r8/Tq?Jd5[y';
const SK = 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc';
const TOKEN = 'MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEw';
const REDIS_PASSWORD = 'r3d1s-s3cr3t';
const SECRETS = [PASSWORD, PASSWORD_2, SK, TOKEN, REDIS_PASSWORD];

function logEverything(logger: ReturnType<typeof createLogger>): void {
  // A Huawei batch reset request as an HTTP client would log it.
  logger.info(
    {
      request: {
        method: 'PUT',
        url: '/v1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/cloudservers/os-reset-passwords',
        headers: { Authorization: `SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=host, Signature=${SK}`, 'X-Auth-Token': TOKEN },
        body: { new_password: PASSWORD, dry_run: false, servers: [{ id: 'a' }] },
      },
    },
    'reset sent',
  );
  // Deeper than any redact path: an SDK error's raw response inside a cause chain.
  const root = Object.assign(new Error('socket hang up'), {
    $response: { statusCode: 500, body: { nested: { deeper: { SecretString: JSON.stringify({ password: PASSWORD_2 }) } } } },
    config: { data: `{"new_password":"${PASSWORD}","servers":[]}` },
  });
  const wrapped = new RotatorError({ code: 'Common.0001', message: 'ECS internal error', retryable: true, cause: root });
  logger.error({ err: wrapped, attempt: 2 }, 'reset failed');
  logger.error(wrapped);
  // An AWS-like PutSecretValue input and a vault payload, with the secret JSON as a string.
  logger.warn({ input: { SecretId: 'ecs/x', SecretString: JSON.stringify({ username: 'root', password: PASSWORD }) } }, 'vault write');
  logger.warn({ outcome: { payload: { value: { password: PASSWORD, serverId: 's1' } } } }, 'nested payload');
  // Secrets in child bindings, arrays, Maps, and a JSON parse error quoting a body.
  const child = logger.child({ credentials: { accessKey: 'AK', secretKey: SK }, redis: `redis://:${REDIS_PASSWORD}@127.0.0.1:6379` });
  child.info({ batch: [{ server: 's1', newPassword: PASSWORD }], map: new Map([['token', TOKEN]]) }, 'batch');
  let parseError: unknown;
  try {
    JSON.parse(`{"new_password": "${PASSWORD}", oops}`);
  } catch (error) {
    parseError = error;
  }
  child.warn({ err: parseError }, 'bad body');
  // Interpolated into the message in a recognisable shape.
  logger.info('retrying with password=%s', PASSWORD);
  logger.info({ keyBytes: Buffer.from(PASSWORD) }, 'binary');
}

describe('createLogger', () => {
  it('writes JSON lines without any secret, however deep', () => {
    const out = capture();
    const logger = createLogger({ level: 'trace', destination: out.stream, pretty: false });
    logEverything(logger);
    const text = out.text();
    const lines = text.trim().split('\n');
    expect(lines.length).toBe(9);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    // The useful parts are still there.
    expect(text).toContain('os-reset-passwords');
    expect(text).toContain('Common.0001');
    expect(text).toContain('socket hang up');
    expect(text).toContain('[Redacted]');
    const failed = JSON.parse(lines[1]!) as { err: { code: string; cause: { message: string } } };
    expect(failed.err.code).toBe('Common.0001');
    expect(failed.err.cause.message).toBe('socket hang up');
  });

  it('has a fixture that leaks through a plain pino logger (so the test above can fail)', () => {
    const out = capture();
    logEverything(pino({ level: 'trace' }, out.stream) as unknown as ReturnType<typeof createLogger>);
    const leaked = SECRETS.filter((secret) => out.text().includes(secret));
    expect(leaked.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps secrets out of pretty output too', () => {
    const out = capture();
    const logger = createLogger({ level: 'trace', destination: out.stream, pretty: true });
    logEverything(logger);
    const text = out.text();
    expect(text).toContain('reset sent');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('honours the level', () => {
    const out = capture();
    const logger = createLogger({ level: 'warn', destination: out.stream, pretty: false, name: 'worker' });
    logger.info('hidden');
    logger.warn('shown');
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'shown', name: 'worker', level: 40 });
  });
});

describe('scrubSecrets', () => {
  it('replaces secret-looking keys at any depth without touching the input', () => {
    const input = { a: { b: { c: { d: { e: { f: { password: PASSWORD, keep: 1 } } } } } } };
    const out = scrubSecrets(input) as typeof input;
    expect(out.a.b.c.d.e.f).toEqual({ password: '[Redacted]', keep: 1 });
    expect(input.a.b.c.d.e.f.password).toBe(PASSWORD);
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { token: TOKEN };
    a.self = a;
    expect(JSON.stringify(scrubSecrets(a))).not.toContain(TOKEN);
  });

  it('masks pairs and URL passwords inside text', () => {
    expect(scrubText(`{"new_password":"${PASSWORD}","x":1}`)).toBe('{"new_password":"[Redacted]","x":1}');
    expect(scrubText(`X-Auth-Token: ${TOKEN}`)).not.toContain(TOKEN);
    expect(scrubText(`redis://user:${REDIS_PASSWORD}@host:6379/0`)).toBe('redis://user:***@host:6379/0');
    expect(scrubText('plain text stays')).toBe('plain text stays');
  });
});

describe('pino redact paths (the first layer, on its own)', () => {
  /** A plain pino logger with only REDACT_PATHS: no scrubber behind it. */
  function layerOne(): { logger: pino.Logger; text: () => string } {
    const out = capture();
    return { logger: pino({ redact: { paths: [...REDACT_PATHS], censor: '[Redacted]' } }, out.stream), text: out.text };
  }

  // Hyphenated names (x-auth-token) were listed as '"x-auth-token"', which pino read as a field with
  // quotes in its name: this layer redacted none of them, at any depth (the scrubber did).
  it('redacts every secret key at the top level and one level under every container this code logs', () => {
    const { logger, text } = layerOne();
    for (const key of REDACT_KEYS) {
      logger.info({ [key]: PASSWORD }, 'top');
      for (const container of REDACT_CONTAINERS) logger.info({ [container]: { [key]: PASSWORD, keep: 'visible' } }, 'one level');
    }
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(REDACT_KEYS.length * (1 + REDACT_CONTAINERS.length));
    expect(text()).not.toContain(PASSWORD);
    expect(lines.filter((line) => line.includes('"keep":"visible"'))).toHaveLength(REDACT_KEYS.length * REDACT_CONTAINERS.length);
  });

  it('redacts the deeper shapes: request and response headers and bodies, error causes, SDK inputs', () => {
    const { logger, text } = layerOne();
    logger.info({ request: { headers: { 'X-Auth-Token': TOKEN, Authorization: SK }, body: { new_password: PASSWORD, 'reset-password': { new_password: PASSWORD_2 } } } });
    logger.info({ err: { $response: { body: { password: PASSWORD }, headers: { authorization: SK } }, cause: { token: TOKEN } } });
    logger.info({ input: { SecretString: PASSWORD }, payload: { value: { password: PASSWORD_2 } } });
    for (const secret of SECRETS) expect(text()).not.toContain(secret);
  });

  it('lists each path once, none of them a container path that *.<key> already covers', () => {
    expect(new Set(REDACT_PATHS).size).toBe(REDACT_PATHS.length);
    for (const container of REDACT_CONTAINERS) for (const key of REDACT_KEYS) expect(REDACT_PATHS).not.toContain(`${container}.${key}`);
    // 21 keys × (top level, *.key, 22 deeper prefixes): was 861 with the containers listed too.
    expect(REDACT_PATHS.length).toBeLessThan(550);
  });
});
