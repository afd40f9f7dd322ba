/**
 * AWS-adapter specifics beyond the shared contract: races on creation, retry and error
 * classification, request tokens, the write limiter, endpoint resolution and that no password
 * reaches an error or a log line. Runs against the emulator through the real AWS SDK.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  createAwsSecretsManagerVault,
  NO_PASSWORD_YET_VERSION_ID,
  type AwsSecretsManagerVaultOptions,
} from '../../src/adapters/aws-secrets-manager/aws-secrets-manager-vault.js';
import { scrub, toVaultError } from '../../src/adapters/aws-secrets-manager/aws-error-mapping.js';
import { AWS_RESERVED_TAG_KEYS } from '../../src/config/aws-secrets-manager-rules.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { isRotatorError, type RotatorError } from '../../src/domain/rotator-error.js';
import {
  startSecretsManagerEmulator,
  type SecretsManagerEmulator,
} from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import type { RateLimiter } from '../../src/ports/rate-limiter.js';
import type { SecretKey, SecretPayload, Vault } from '../../src/ports/vault.js';

let emulator: SecretsManagerEmulator;
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
const opened: Vault[] = [];

function makeVault(
  options: Partial<AwsSecretsManagerVaultOptions> = {},
  deps: { writeLimiter?: RateLimiter; createLimiter?: RateLimiter; logger?: pino.Logger } = {},
): Vault {
  const vault = createAwsSecretsManagerVault(
    { region: 'eu-west-1', endpoint: emulator.url, credentials, ...options },
    { clock: systemClock, ...deps },
  );
  opened.push(vault);
  return vault;
}

const key = (): SecretKey => ({ region: 'cn-north-4', projectId: randomBytes(16).toString('hex'), serverId: randomUUID() });
const token = (): string => `run-${randomBytes(12).toString('hex')}-b1-g0`;
const payload = (k: SecretKey): SecretPayload => ({
  username: 'root',
  password: `Pa$$-${randomBytes(8).toString('hex')}-"\\`,
  serverId: k.serverId,
  serverName: 'web-1',
  osType: 'Linux',
  region: k.region,
  projectId: k.projectId,
  runId: 'run-1',
  createdAt: '2025-01-01T00:00:00.000Z',
  activation: 'after-reboot',
});

async function rejection(promise: Promise<unknown>): Promise<RotatorError> {
  try {
    await promise;
  } catch (error) {
    expect(isRotatorError(error)).toBe(true);
    return error as RotatorError;
  }
  throw new Error('expected a rejection');
}

const requestsSince = (mark: number, operation?: string) =>
  emulator.requests().slice(mark).filter((r) => operation === undefined || r.operation === operation);

class CountingLimiter implements RateLimiter {
  count = 0;
  async acquire(): Promise<void> {
    this.count += 1;
  }
}

beforeAll(async () => {
  emulator = await startSecretsManagerEmulator();
});
afterAll(async () => {
  for (const vault of opened) await vault.close();
  await emulator.close();
});
beforeEach(() => emulator.setFaults([]));

describe('AWS Secrets Manager vault', () => {
  it('creates the secret with tags and no password version; concurrent creators all succeed', async () => {
    const vault = makeVault({ tags: { team: 'sec-ops' } });
    const k = key();
    const mark = emulator.requests().length;
    await Promise.all([vault.ensureSecret(k), vault.ensureSecret(k), vault.ensureSecret(k), vault.ensureSecret(k)]);
    const creates = requestsSince(mark, 'CreateSecret');
    // Those that found no secret (DescribeSecret) raced to create it: one won, the others were told it exists.
    expect(creates.filter((r) => r.error === undefined)).toHaveLength(1);
    expect(creates.filter((r) => r.error !== undefined && r.error !== 'ResourceExistsException')).toEqual([]);
    const description = await vault.describe(k);
    expect(description?.name).toBe(`ecs/${k.region}/${k.projectId}/${k.serverId}`);
    expect(description?.versions).toEqual([]);
  });

  it('creates a secret only when DescribeSecret says it does not exist, and asks once per process', async () => {
    const k = key();
    const first = makeVault();
    let mark = emulator.requests().length;
    await first.ensureSecret(k);
    await first.ensureSecret(k);
    expect(requestsSince(mark).map((r) => `${r.operation} ${r.error ?? 'ok'}`)).toEqual(['DescribeSecret ResourceNotFoundException', 'CreateSecret ok']);
    // Another process (a cold cache) on a secret that exists: one read (is it there, is AWSCURRENT
    // safe), no write, and nothing at all the second time.
    const second = makeVault();
    mark = emulator.requests().length;
    await second.ensureSecret(k);
    expect(requestsSince(mark).map((r) => r.operation)).toEqual(['DescribeSecret']);
    mark = emulator.requests().length;
    await second.ensureSecret(k);
    expect(requestsSince(mark)).toEqual([]);
  });

  it('sends the caller token as ClientRequestToken (the version id) and validates it before any request', async () => {
    const vault = makeVault();
    const k = key();
    await vault.ensureSecret(k);
    const t = token();
    await vault.putPending(k, t, payload(k));
    expect((await vault.getVersion(k, { label: 'AWSPENDING' }))?.versionId).toBe(t);
    const mark = emulator.requests().length;
    for (const bad of ['x'.repeat(31), 'x'.repeat(65), `${'x'.repeat(31)} y`, `${'é'.repeat(40)}`]) {
      const error = await rejection(vault.putPending(k, bad, payload(k)));
      expect(error.code).toBe('VAULT_INVALID_REQUEST');
      expect(error.retryable).toBe(false);
    }
    expect(requestsSince(mark)).toEqual([]);
  });

  it('retries throttling with the same token and value, then succeeds', async () => {
    const vault = makeVault();
    const k = key();
    await vault.ensureSecret(k);
    const t = token();
    const value = payload(k);
    emulator.setFaults([{ kind: 'throttle', operation: 'PutSecretValue', times: 2 }]);
    const mark = emulator.requests().length;
    await vault.putPending(k, t, value);
    expect(requestsSince(mark, 'PutSecretValue').map((r) => r.error)).toEqual(['ThrottlingException', 'ThrottlingException', undefined]);
    expect((await vault.getVersion(k, { versionId: t }))?.value).toEqual(value);
  });

  it('reports exhausted throttling as VAULT_THROTTLED (retryable) and 5xx as VAULT_UNAVAILABLE (retryable)', async () => {
    const vault = makeVault({ maxAttempts: 2 });
    const k = key();
    await vault.ensureSecret(k);
    emulator.setFaults([{ kind: 'throttle', operation: 'PutSecretValue' }]);
    const throttled = await rejection(vault.putPending(k, token(), payload(k)));
    expect(throttled).toMatchObject({ code: 'VAULT_THROTTLED', retryable: true, httpStatus: 400 });
    emulator.setFaults([{ kind: 'internal-error', operation: 'DescribeSecret' }]);
    const mark = emulator.requests().length;
    const unavailable = await rejection(vault.promote(k, token(), undefined));
    expect(unavailable).toMatchObject({ code: 'VAULT_UNAVAILABLE', retryable: true, httpStatus: 500 });
    expect(requestsSince(mark, 'DescribeSecret')).toHaveLength(2);
  });

  it('does not retry access denied, and reports it as VAULT_ACCESS_DENIED (not retryable)', async () => {
    const vault = makeVault();
    const k = key();
    emulator.setFaults([{ kind: 'access-denied', operation: 'CreateSecret' }]);
    const mark = emulator.requests().length;
    const error = await rejection(vault.ensureSecret(k));
    expect(error).toMatchObject({ code: 'VAULT_ACCESS_DENIED', retryable: false });
    expect(error.message).toContain('AccessDeniedException');
    expect(requestsSince(mark, 'CreateSecret')).toHaveLength(1);
  });

  it('a write whose answer was lost is retried with the same token: one version, no error', async () => {
    const vault = makeVault();
    const k = key();
    await vault.ensureSecret(k);
    const t = token();
    emulator.setFaults([{ kind: 'drop-after', operation: 'PutSecretValue', times: 1 }]);
    await vault.putPending(k, t, payload(k));
    expect((await vault.describe(k))?.versions.map((v) => v.versionId)).toEqual([t]);
  });

  it('passes every write attempt (SDK retries included) through the write limiter, and no read', async () => {
    const limiter = new CountingLimiter();
    const creates = new CountingLimiter();
    const vault = makeVault({}, { writeLimiter: limiter, createLimiter: creates });
    const k = key();
    const mark = emulator.requests().length;
    await vault.ensureSecret(k);
    const [t1, t2] = [token(), token()];
    await vault.putPending(k, t1, payload(k));
    await vault.promote(k, t1, undefined);
    emulator.setFaults([{ kind: 'throttle', operation: 'UpdateSecretVersionStage', times: 1 }]);
    await vault.putPending(k, t2, payload(k));
    await vault.promote(k, t2, t1);
    await vault.getVersion(k, { label: 'AWSCURRENT' });
    await vault.describe(k);
    const writes = requestsSince(mark).filter((r) => ['PutSecretValue', 'UpdateSecretVersionStage'].includes(r.operation));
    // 2 puts, 2 moves of AWSCURRENT (AWSPENDING stays: settled), one throttled attempt retried.
    expect(writes).toHaveLength(5);
    expect(requestsSince(mark, 'DescribeSecret').length).toBeGreaterThan(0); // reads happen, unlimited
    expect(limiter.count).toBe(writes.length);
    // CreateSecret has a quota of its own (Secrets Manager quotas), and its own limiter.
    expect(creates.count).toBe(requestsSince(mark, 'CreateSecret').length);
    expect(creates.count).toBe(1);
  });

  it('limits writes with its own token bucket at writesPerSecond when none is injected', async () => {
    // A clock that records the waits the bucket asks for (and does not wait): no timing assertion.
    const waits: number[] = [];
    const clock = { now: () => 1_000_000, sleep: async (ms: number) => void waits.push(ms) };
    const vault = createAwsSecretsManagerVault(
      { region: 'eu-west-1', endpoint: emulator.url, credentials, writesPerSecond: 2 },
      { clock },
    );
    opened.push(vault);
    const k = key();
    await vault.ensureSecret(k); // CreateSecret: its own bucket
    await vault.putPending(k, token(), payload(k)); // burst of 2: free
    await vault.putPending(k, token(), payload(k)); // free
    await vault.putPending(k, token(), payload(k)); // waits 500 ms
    await vault.putPending(k, token(), payload(k)); // waits 1000 ms (the clock stands still)
    await vault.describe(k); // reads do not wait
    expect(waits).toEqual([500, 1000]);
  });

  it('uses AWS_ENDPOINT_URL_SECRETS_MANAGER when no endpoint is configured', async () => {
    const previous = process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'];
    process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = emulator.url;
    try {
      const vault = makeVault({ endpoint: undefined });
      const k = key();
      const mark = emulator.requests().length;
      await vault.ensureSecret(k);
      expect(requestsSince(mark, 'CreateSecret')).toHaveLength(1);
    } finally {
      if (previous === undefined) delete process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'];
      else process.env['AWS_ENDPOINT_URL_SECRETS_MANAGER'] = previous;
    }
  });

  it('never puts a password in an error or a log line, under failures too', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = pino({ level: 'trace' }, sink);
    const vault = makeVault({ maxAttempts: 1 }, { logger });
    const k = key();
    const values = [payload(k), payload(k), payload(k)];
    const errors: unknown[] = [];
    const capture = async (p: Promise<unknown>): Promise<void> => {
      try {
        await p;
      } catch (error) {
        errors.push(error);
      }
    };
    await vault.ensureSecret(k);
    const t = token();
    await vault.putPending(k, t, values[0] as SecretPayload);
    await capture(vault.putPending(k, t, values[1] as SecretPayload)); // token reuse
    emulator.setFaults([{ kind: 'throttle', operation: 'PutSecretValue' }]);
    await capture(vault.putPending(k, token(), values[2] as SecretPayload));
    emulator.setFaults([{ kind: 'internal-error', operation: 'GetSecretValue' }]);
    await capture(vault.getVersion(k, { versionId: t }));
    emulator.setFaults([]);
    await vault.promote(k, t, undefined);
    await vault.getVersion(k, { label: 'AWSCURRENT' });
    expect(errors).toHaveLength(3);
    expect(lines.length).toBeGreaterThan(0);
    const visible = [
      ...lines,
      ...errors.map((e) => {
        const r = e as RotatorError;
        return `${r.message}\n${r.stack ?? ''}\n${JSON.stringify(r)}\n${String(r.cause ?? '')}`;
      }),
    ].join('\n');
    for (const value of values) {
      expect(visible).not.toContain(value.password);
      expect(visible).not.toContain(JSON.stringify(value.password).slice(1, -1));
    }
  });

  it('scrubs secrets out of a hostile SDK error message and drops the SDK cause', () => {
    const password = 'Hunter2!"x';
    const sdkError = Object.assign(new Error(`bad value {"password":${JSON.stringify(password)}} or ${password}`), {
      name: 'InvalidParameterException',
      $metadata: { httpStatusCode: 400, requestId: 'req-1' },
    });
    const error = toVaultError(sdkError, { operation: 'PutSecretValue', secretName: 's', secrets: [password] });
    expect(error.message).not.toContain(password);
    expect(error.message).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(error.message).toContain('[REDACTED]');
    expect(error.cause).toBeUndefined();
    expect(error).toMatchObject({ code: 'VAULT_REQUEST_FAILED', retryable: false, requestId: 'req-1' });
    expect(scrub('a-b-a', ['a'])).toBe('[REDACTED]-b-[REDACTED]');
  });

  it('scrubs before it cuts a long SDK message: no first part of a password straddling the cut survives', () => {
    const password = 'Zq8!mK2@vR5-pL9=xT3w';
    // The message is kept to 300 characters: put the password across that boundary.
    const sdkError = Object.assign(new Error(`${'x'.repeat(290)}${password} and more`), { name: 'InvalidParameterException', $metadata: { httpStatusCode: 400 } });
    const error = toVaultError(sdkError, { operation: 'PutSecretValue', secretName: 's', secrets: [password] });
    expect(error.message).not.toContain(password.slice(0, 10));
    expect(error.message).toContain('[REDACTED]');
  });

  it('classifies network failures and timeouts as retryable', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(toVaultError(reset, { operation: 'X', secretName: 's' })).toMatchObject({ code: 'VAULT_UNAVAILABLE', retryable: true });
    const timeout = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    expect(toVaultError(timeout, { operation: 'X', secretName: 's' })).toMatchObject({ code: 'VAULT_UNAVAILABLE', retryable: true });
  });

  it('refuses a payload it cannot read without quoting it', async () => {
    const vault = makeVault();
    const k = key();
    await vault.ensureSecret(k);
    // Another writer stored a non-JSON value under a label the rotation reads.
    const { SecretsManagerClient, PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials });
    await client.send(
      new PutSecretValueCommand({ SecretId: `ecs/${k.region}/${k.projectId}/${k.serverId}`, ClientRequestToken: token(), SecretString: 'plain-Secret-123' }),
    );
    client.destroy();
    const error = await rejection(vault.getVersion(k, { label: 'AWSCURRENT' }));
    expect(error.code).toBe('VAULT_PAYLOAD_INVALID');
    expect(error.message).not.toContain('plain-Secret-123');
  });

  it('lists across ListSecrets pages and skips secrets it does not manage', async () => {
    const limiter = new CountingLimiter();
    const vault = makeVault({}, { writeLimiter: limiter });
    const region = `r-${randomBytes(3).toString('hex')}`;
    const projectId = randomBytes(8).toString('hex');
    const keys = Array.from({ length: 105 }, () => ({ region, projectId, serverId: randomUUID() }));
    for (const k of keys) await vault.ensureSecret(k);
    const { SecretsManagerClient, CreateSecretCommand } = await import('@aws-sdk/client-secrets-manager');
    const client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials });
    // Same name prefix, not tagged managed-by=rotator: not ours.
    await client.send(new CreateSecretCommand({ Name: `ecs/${region}/${projectId}/${randomUUID()}`, Tags: [{ Key: 'managed-by', Value: 'someone-else' }] }));
    client.destroy();
    const seen: string[] = [];
    for await (const d of vault.list({ region, projectId })) seen.push(d.key.serverId);
    expect(seen.sort()).toEqual(keys.map((k) => k.serverId).sort());
  });

  it('rejects bad options with an error naming the field', () => {
    const cases: [Partial<AwsSecretsManagerVaultOptions>, RegExp][] = [
      [{ nameTemplate: 'ecs/{region}/{server}' }, /nameTemplate: unknown placeholder \{server\}/],
      [{ nameTemplate: 'ecs/{region}/{projectId}' }, /nameTemplate: must contain \{serverId\}/],
      [{ nameTemplate: 'ecs {serverId}' }, /nameTemplate: .* characters AWS secret names refuse/],
      [{ writesPerSecond: 0 }, /writesPerSecond: expected a positive number/],
      [{ maxAttempts: 1.5 }, /maxAttempts: expected a positive integer/],
      [{ endpoint: 'not a url' }, /endpoint: expected an http\(s\) URL/],
      [{ retryMode: 'legacy' as 'standard' }, /retryMode: expected "standard" or "adaptive"/],
      [{ tags: { 'managed-by': 'x' } }, /tags\.managed-by: expected a tag key other than/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        makeVault(options);
      } catch (error) {
        thrown = error;
      }
      expect(isRotatorError(thrown), String(message)).toBe(true);
      expect((thrown as RotatorError).code).toBe('VAULT_CONFIG_INVALID');
      expect((thrown as RotatorError).message).toMatch(message);
    }
  });

  it('rejects key fields that would make an ambiguous or invalid secret name', async () => {
    const vault = makeVault();
    const error = await rejection(vault.ensureSecret({ region: 'cn-north-4', projectId: 'a/b', serverId: randomUUID() }));
    expect(error.code).toBe('VAULT_INVALID_REQUEST');
    expect(error.message).toContain('projectId');
  });

  // API_PutSecretValue: "If this operation creates the first version for the secret, then Secrets
  // Manager automatically attaches the staging label AWSCURRENT to it." The adapter must never let
  // that first version be a password no server accepted.
  describe('the first version of a secret (AWS gives it AWSCURRENT)', () => {
    let raw: SecretsManagerClient;
    beforeAll(() => {
      raw = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials });
    });
    afterAll(() => raw.destroy());

    /** What any AWS reader gets by default (GetSecretValue without a stage: AWSCURRENT). */
    const defaultRead = async (name: string): Promise<string | undefined> =>
      (await raw.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
    const stagesOf = async (name: string): Promise<Record<string, string[]>> =>
      (await raw.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {};

    it('creates every secret with a "no password known yet" version holding AWSCURRENT, invisible through the port', async () => {
      const vault = makeVault();
      const k = key();
      await vault.ensureSecret(k);
      const name = `ecs/${k.region}/${k.projectId}/${k.serverId}`;
      expect(await stagesOf(name)).toEqual({ [NO_PASSWORD_YET_VERSION_ID]: ['AWSCURRENT'] });
      const placeholder = JSON.parse((await defaultRead(name)) ?? '{}') as Record<string, unknown>;
      expect(placeholder).not.toHaveProperty('password');
      expect(placeholder['rotator']).toBe('no-password-known-yet');

      const pending = payload(k);
      const t1 = token();
      await vault.putPending(k, t1, pending);
      // The pending password is not what AWS readers get.
      expect(await defaultRead(name)).not.toContain(pending.password);
      expect(await vault.getVersion(k, { label: 'AWSCURRENT' })).toBeUndefined();
      expect(await vault.getVersion(k, { versionId: NO_PASSWORD_YET_VERSION_ID })).toBeUndefined();
      expect((await vault.describe(k))?.versions.map((v) => [v.versionId, v.labels])).toEqual([[t1, ['AWSPENDING']]]);

      // Accepted: the first promotion moves AWSCURRENT onto it; the port shows no AWSPREVIOUS.
      await vault.promote(k, t1, undefined);
      expect(JSON.parse((await defaultRead(name)) ?? '{}').password).toBe(pending.password);
      expect((await vault.describe(k))?.versions.map((v) => [v.versionId, [...v.labels].sort()])).toEqual([[t1, ['AWSCURRENT', 'AWSPENDING']]]);
      expect(await vault.getVersion(k, { label: 'AWSPREVIOUS' })).toBeUndefined();
      // The second promotion moves AWSPREVIOUS onto the first accepted password, as AWS does.
      const t2 = token();
      await vault.putPending(k, t2, payload(k));
      await vault.promote(k, t2, t1);
      expect((await vault.getVersion(k, { label: 'AWSPREVIOUS' }))?.versionId).toBe(t1);
    });

    it('repairs a secret made by an older release: no version yet, or a first pending version that AWS made AWSCURRENT', async () => {
      const vault = makeVault();
      const empty = key();
      const emptyName = `ecs/${empty.region}/${empty.projectId}/${empty.serverId}`;
      await raw.send(new CreateSecretCommand({ Name: emptyName }));
      await vault.ensureSecret(empty);
      expect(await stagesOf(emptyName)).toEqual({ [NO_PASSWORD_YET_VERSION_ID]: ['AWSCURRENT'] });

      const legacy = key();
      const legacyName = `ecs/${legacy.region}/${legacy.projectId}/${legacy.serverId}`;
      const unaccepted = payload(legacy);
      const t1 = token();
      await raw.send(new CreateSecretCommand({ Name: legacyName }));
      await raw.send(
        new PutSecretValueCommand({ SecretId: legacyName, ClientRequestToken: t1, SecretString: JSON.stringify(unaccepted), VersionStages: ['AWSPENDING'] }),
      );
      expect((await stagesOf(legacyName))[t1]?.slice().sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
      await vault.ensureSecret(legacy);
      await vault.ensureSecret(legacy); // idempotent
      expect(await stagesOf(legacyName)).toEqual({ [t1]: ['AWSPENDING'], [NO_PASSWORD_YET_VERSION_ID]: ['AWSCURRENT'] });
      expect(await defaultRead(legacyName)).not.toContain(unaccepted.password);
      // The pending password is kept for its resend, and a later acceptance promotes it as a first rotation.
      expect((await vault.getVersion(legacy, { label: 'AWSPENDING' }))?.value.password).toBe(unaccepted.password);
      await vault.promote(legacy, t1, undefined);
      expect((await vault.getVersion(legacy, { label: 'AWSCURRENT' }))?.versionId).toBe(t1);
    });

    it('sets exactly the tags config check reserves (AWS_RESERVED_TAG_KEYS), besides the configured ones', async () => {
      const vault = makeVault({ tags: { team: 'sec-ops' } });
      const k = key();
      await vault.ensureSecret(k);
      const tags = (await raw.send(new DescribeSecretCommand({ SecretId: `ecs/${k.region}/${k.projectId}/${k.serverId}` }))).Tags ?? [];
      expect(tags.map((t) => t.Key).filter((name) => name !== 'team').sort()).toEqual([...AWS_RESERVED_TAG_KEYS].sort());
    });

    it('leaves alone a promotion cut short between its two writes (AWSCURRENT and AWSPENDING on an accepted version)', async () => {
      const vault = makeVault();
      const k = key();
      const name = `ecs/${k.region}/${k.projectId}/${k.serverId}`;
      await vault.ensureSecret(k);
      const [t1, t2] = [token(), token()];
      await vault.putPending(k, t1, payload(k));
      await vault.promote(k, t1, undefined);
      await vault.putPending(k, t2, payload(k));
      // promote's first write only (AWSCURRENT moved), as a crash before it dropped AWSPENDING leaves it.
      await raw.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: t2, RemoveFromVersionId: t1 }));
      const before = await stagesOf(name);
      expect(before[t2]?.slice().sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
      await vault.ensureSecret(k);
      expect(await stagesOf(name)).toEqual(before);

      // The same shape on a secret from the earlier release (no "no password yet" version), after a
      // first accepted rotation: AWSPREVIOUS elsewhere marks it as accepted, so it is left alone too.
      const old = key();
      const oldName = `ecs/${old.region}/${old.projectId}/${old.serverId}`;
      const [o1, o2] = [token(), token()];
      await raw.send(new CreateSecretCommand({ Name: oldName }));
      await raw.send(new PutSecretValueCommand({ SecretId: oldName, ClientRequestToken: o1, SecretString: JSON.stringify(payload(old)) }));
      await raw.send(new PutSecretValueCommand({ SecretId: oldName, ClientRequestToken: o2, SecretString: JSON.stringify(payload(old)), VersionStages: ['AWSPENDING'] }));
      await raw.send(new UpdateSecretVersionStageCommand({ SecretId: oldName, VersionStage: 'AWSCURRENT', MoveToVersionId: o2, RemoveFromVersionId: o1 }));
      const oldBefore = await stagesOf(oldName);
      await vault.ensureSecret(old);
      expect(await stagesOf(oldName)).toEqual(oldBefore);
    });

    it('leaves a secret alone when AWSCURRENT is on an accepted password (one DescribeSecret, no write)', async () => {
      const vault = makeVault();
      const k = key();
      await vault.ensureSecret(k);
      const t1 = token();
      await vault.putPending(k, t1, payload(k));
      await vault.promote(k, t1, undefined);
      let mark = emulator.requests().length;
      await vault.ensureSecret(k);
      expect(requestsSince(mark)).toEqual([]); // this process knows the secret is there and safe
      // Another process (a cold cache): one DescribeSecret answers both questions, no write.
      mark = emulator.requests().length;
      await makeVault().ensureSecret(k);
      expect(requestsSince(mark).map((r) => r.operation)).toEqual(['DescribeSecret']);
    });
  });
});
