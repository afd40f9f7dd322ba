/**
 * AWS Secrets Manager's rules, as the emulator implements them, checked through the real AWS SDK.
 * Where a test encodes a documented rule it quotes the sentence from AWS's API reference
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/, pages API_PutSecretValue and
 * API_UpdateSecretVersionStage), so that the double is checked against AWS's word, not our own.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startSecretsManagerEmulator,
  type SecretsManagerEmulator,
} from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';

let emulator: SecretsManagerEmulator;
let client: SecretsManagerClient;
/** A client that makes one attempt only, to see each answer as the emulator gives it. */
let once: SecretsManagerClient;

const token = (): string => `tok-${randomUUID()}`;
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected a failure');
}

async function stages(name: string): Promise<Record<string, string[]>> {
  return (await client.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {};
}

async function newSecret(): Promise<string> {
  const name = `test/${randomUUID()}`;
  await client.send(new CreateSecretCommand({ Name: name }));
  return name;
}

beforeAll(async () => {
  emulator = await startSecretsManagerEmulator();
  client = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials });
  once = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials, maxAttempts: 1 });
});
afterAll(async () => {
  client.destroy();
  once.destroy();
  await emulator.close();
});
beforeEach(() => emulator.setFaults([]));

describe('secrets manager emulator (through the AWS SDK)', () => {
  it('CreateSecret without a value makes a secret with no versions; a second create is ResourceExistsException', async () => {
    const name = `test/${randomUUID()}`;
    const created = await client.send(new CreateSecretCommand({ Name: name, Tags: [{ Key: 'k', Value: 'v' }] }));
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:test\/.+-.{6}$/);
    expect(created.VersionId).toBeUndefined();
    expect(await stages(name)).toEqual({});
    const described = await client.send(new DescribeSecretCommand({ SecretId: created.ARN }));
    expect(described.Name).toBe(name);
    expect(described.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs((described.CreatedDate as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(await failure(client.send(new GetSecretValueCommand({ SecretId: name })))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 400,
    });
    expect(await failure(client.send(new CreateSecretCommand({ Name: name })))).toMatchObject({ name: 'ResourceExistsException' });
  });

  it('PutSecretValue without VersionStages moves AWSCURRENT, and AWSPREVIOUS follows', async () => {
    const name = await newSecret();
    const [t1, t2] = [token(), token()];
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'one' }));
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'two' }));
    expect(await stages(name)).toEqual({ [t1]: ['AWSPREVIOUS'], [t2]: ['AWSCURRENT'] });
    const plain = await client.send(new GetSecretValueCommand({ SecretId: name }));
    expect(plain).toMatchObject({ VersionId: t2, SecretString: 'two', VersionStages: ['AWSCURRENT'] });
    expect(plain.CreatedDate).toBeInstanceOf(Date);
  });

  // API_PutSecretValue: "If this operation creates the first version for the secret, then Secrets
  // Manager automatically attaches the staging label AWSCURRENT to it."
  it('PutSecretValue creating the first version attaches AWSCURRENT to it, even with VersionStages [AWSPENDING]', async () => {
    const name = await newSecret();
    const [t1, t2] = [token(), token()];
    const first = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'never-accepted', VersionStages: ['AWSPENDING'] }),
    );
    expect(first.VersionStages?.slice().sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect((await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('never-accepted');
    // Only the first: a second version gets exactly the labels asked for.
    const second = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'two', VersionStages: ['AWSPENDING'] }),
    );
    expect(second.VersionStages).toEqual(['AWSPENDING']);
    expect(await stages(name)).toEqual({ [t1]: ['AWSCURRENT'], [t2]: ['AWSPENDING'] });
  });

  // API_PutSecretValue: "If this operation moves the staging label AWSCURRENT from another version to
  // this version, then Secrets Manager also automatically moves the staging label AWSPREVIOUS to the
  // version that AWSCURRENT was removed from."
  it('PutSecretValue with VersionStages [AWSCURRENT] moves it, and AWSPREVIOUS follows', async () => {
    const name = await newSecret();
    const [t1, t2] = [token(), token()];
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'one', VersionStages: ['AWSCURRENT'] }));
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'two', VersionStages: ['AWSCURRENT'] }));
    expect(await stages(name)).toEqual({ [t1]: ['AWSPREVIOUS'], [t2]: ['AWSCURRENT'] });
  });

  // API_PutSecretValue, VersionStages: "If you specify a staging label that's already associated with
  // a different version of the same secret, then Secrets Manager removes the label from the other
  // version and attaches it to this version." And "If another version of this secret already exists,
  // then this operation does not automatically move any staging labels other than those that you
  // explicitly specify in the VersionStages parameter." Its answer's VersionStages: "The list of
  // staging labels that are currently attached to this version of the secret." (rotator stores a
  // password with AWSPENDING and an unconfirmed slot label in this one write: src/rotation/labels.ts.)
  it('PutSecretValue with several VersionStages moves each off the version holding it, leaves the others, and answers the labels attached', async () => {
    const name = await newSecret();
    const [t0, t1, t2] = [token(), token(), token()];
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t0, SecretString: 'zero' }));
    const one = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'one', VersionStages: ['AWSPENDING', 'SLOT_1'] }),
    );
    expect(one.VersionStages?.slice().sort()).toEqual(['AWSPENDING', 'SLOT_1']);
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: t1, RemoveFromVersionId: t0 }));
    const two = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'two', VersionStages: ['AWSPENDING', 'SLOT_2'] }),
    );
    expect(two.VersionStages?.slice().sort()).toEqual(['AWSPENDING', 'SLOT_2']);
    const after = await stages(name);
    expect(after[t0]).toEqual(['AWSPREVIOUS']);
    expect(after[t1]?.slice().sort()).toEqual(['AWSCURRENT', 'SLOT_1']);
    expect(after[t2]?.slice().sort()).toEqual(['AWSPENDING', 'SLOT_2']);
    // A replay changes nothing and answers the labels the version holds now.
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'SLOT_2', RemoveFromVersionId: t2 }));
    const replay = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'two', VersionStages: ['AWSPENDING', 'SLOT_2'] }),
    );
    expect(replay.VersionStages).toEqual(['AWSPENDING']);
    expect((await stages(name))[t2]).toEqual(['AWSPENDING']);
  });

  // API_PutSecretValue: "This operation is idempotent. If you call this operation with a
  // ClientRequestToken that matches an existing version's VersionId, and you specify the same secret
  // data, the operation succeeds but does nothing. However, if the secret data is different, then the
  // operation fails [...]"
  it('same token with the same value is a no-op; with another value ResourceExistsException, also while AWSPENDING', async () => {
    const name = await newSecret();
    const t0 = token();
    const t1 = token();
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t0, SecretString: 'current' }));
    const put = (value: string): Promise<unknown> =>
      client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: value, VersionStages: ['AWSPENDING'] }));
    await put('secret-one');
    await put('secret-one');
    expect(await stages(name)).toEqual({ [t0]: ['AWSCURRENT'], [t1]: ['AWSPENDING'] });
    const reuse = await failure(put('secret-two'));
    expect(reuse.name).toBe('ResourceExistsException');
    expect(reuse.message).not.toContain('secret-one');
    expect(reuse.message).not.toContain('secret-two');
    expect((await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: t1 }))).SecretString).toBe('secret-one');
  });

  it('refuses a ClientRequestToken shorter than 32 characters', async () => {
    const name = await newSecret();
    const error = await failure(client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: 'short', SecretString: 'x' })));
    expect(error.name).toBe('InvalidParameterException');
  });

  // API_UpdateSecretVersionStage, RemoveFromVersionId: "If the staging label you are trying to attach
  // to one version is already attached to a different version, then you must include this parameter
  // and specify the version that the label is to be removed from. If the label is attached and you
  // either do not specify this parameter, or the version ID does not match, then the operation fails."
  // And: "Whenever you move AWSCURRENT, Secrets Manager automatically moves the label AWSPREVIOUS to
  // the version that AWSCURRENT was removed from."
  it('moves a label only when RemoveFromVersionId names the version holding it (compare-and-swap)', async () => {
    const name = await newSecret();
    const [t1, t2, t3] = [token(), token(), token()];
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'a' }));
    for (const t of [t2, t3]) {
      await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t, SecretString: t, VersionStages: [`HOLD_${t.slice(4, 12)}`] }));
    }
    const move = (removeFrom: string | undefined): Promise<unknown> =>
      client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: t2, RemoveFromVersionId: removeFrom }));
    expect(await failure(move(undefined))).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(await failure(move(t3))).toMatchObject({ name: 'InvalidParameterException' });
    // The same rule for a custom label: attached elsewhere, it moves only with the right RemoveFromVersionId.
    const hold2 = `HOLD_${t2.slice(4, 12)}`;
    const moveHold = (removeFrom: string | undefined): Promise<unknown> =>
      client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: hold2, MoveToVersionId: t3, RemoveFromVersionId: removeFrom }));
    expect(await failure(moveHold(undefined))).toMatchObject({ name: 'InvalidParameterException' });
    expect(await failure(moveHold(t1))).toMatchObject({ name: 'InvalidParameterException' });
    expect((await stages(name))[t2]).toEqual([hold2]);
    await move(t1);
    let map = await stages(name);
    expect(map[t2]).toContain('AWSCURRENT');
    expect(map[t1]).toEqual(['AWSPREVIOUS']);
    // Moving AWSCURRENT on again: AWSPREVIOUS follows to the version it left.
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: t3, RemoveFromVersionId: t2 }));
    map = await stages(name);
    expect(map[t3]).toContain('AWSCURRENT');
    expect(map[t2]).toContain('AWSPREVIOUS');
    expect(map[t1]).toBeUndefined();
    // A move to a version that already holds the label changes nothing.
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: t3, RemoveFromVersionId: t3 }));
    expect(await stages(name)).toEqual(map);
  });

  it('removes a label only from the version holding it, and never removes AWSCURRENT', async () => {
    const name = await newSecret();
    const [t1, t2] = [token(), token()];
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'a' }));
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t2, SecretString: 'b', VersionStages: ['AWSPENDING'] }));
    expect(await failure(client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: t1 })))).toMatchObject({
      name: 'InvalidParameterException',
    });
    expect(await failure(client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', RemoveFromVersionId: t1 })))).toMatchObject({
      name: 'InvalidParameterException',
    });
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: t2 }));
    expect(await stages(name)).toEqual({ [t1]: ['AWSCURRENT'] });
    // The unlabelled version is deprecated: still readable by id, listed only with IncludeDeprecated.
    expect((await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: t2 }))).VersionStages).toEqual([]);
    const listed = await client.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(listed.Versions?.map((v) => v.VersionId)).toEqual([t1]);
    const all = await client.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(all.Versions?.map((v) => v.VersionId).sort()).toEqual([t1, t2].sort());
  });

  it('GetSecretValue with both VersionId and VersionStage needs them to agree', async () => {
    const name = await newSecret();
    const t1 = token();
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: token(), SecretString: 'current' }));
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'a', VersionStages: ['AWSPENDING'] }));
    expect(await failure(client.send(new GetSecretValueCommand({ SecretId: name, VersionId: t1, VersionStage: 'AWSCURRENT' })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect((await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: t1, VersionStage: 'AWSPENDING' }))).SecretString).toBe('a');
  });

  it('keeps deprecated versions until a secret has more than 100, then drops the oldest unlabelled ones', async () => {
    const name = await newSecret();
    const tokens = Array.from({ length: 103 }, () => token());
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: tokens[0], SecretString: 'first', VersionStages: ['KEEP'] }));
    for (const t of tokens.slice(1)) {
      await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t, SecretString: t, VersionStages: ['AWSPENDING'] }));
    }
    const versions: string[] = [];
    let next: string | undefined;
    do {
      const page = await client.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, MaxResults: 30, NextToken: next }));
      versions.push(...(page.Versions ?? []).map((v) => v.VersionId as string));
      next = page.NextToken;
    } while (next);
    expect(versions).toHaveLength(100);
    expect(versions).toContain(tokens[0]); // labelled: kept although oldest
    expect(versions).not.toContain(tokens[1]);
    expect(versions).not.toContain(tokens[3]);
    expect(versions).toContain(tokens[4]);
    expect(versions).toContain(tokens[102]);
  });

  it('ListSecrets filters by name prefix and tags (negation too) and pages', async () => {
    const base = `list-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 5; i += 1) {
      await client.send(new CreateSecretCommand({ Name: `${base}/s${i}`, Tags: [{ Key: 'owner', Value: i < 3 ? 'team-a' : 'team-b' }] }));
    }
    const names = async (filters: { Key: 'name' | 'tag-key' | 'tag-value'; Values: string[] }[]): Promise<string[]> => {
      const out: string[] = [];
      let next: string | undefined;
      do {
        const page = await client.send(new ListSecretsCommand({ Filters: filters, MaxResults: 2, NextToken: next }));
        out.push(...(page.SecretList ?? []).map((s) => s.Name as string));
        next = page.NextToken;
      } while (next);
      return out.sort();
    };
    expect(await names([{ Key: 'name', Values: [base] }])).toHaveLength(5);
    expect(await names([{ Key: 'name', Values: [base.toUpperCase()] }])).toEqual([]); // case-sensitive
    expect(await names([{ Key: 'name', Values: [base] }, { Key: 'tag-value', Values: ['team-a'] }])).toEqual([`${base}/s0`, `${base}/s1`, `${base}/s2`]);
    expect(await names([{ Key: 'name', Values: [base] }, { Key: 'tag-value', Values: ['!team-a'] }])).toEqual([`${base}/s3`, `${base}/s4`]);
    const page = await client.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [`${base}/s1`] }] }));
    expect(page.SecretList?.[0]?.LastChangedDate).toBeInstanceOf(Date);
  });

  it('a secret scheduled for deletion refuses reads and re-creation; a forced delete removes it', async () => {
    const name = await newSecret();
    await client.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: token(), SecretString: 'x' }));
    const deleted = await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect(deleted.DeletionDate).toBeInstanceOf(Date);
    expect(await failure(client.send(new GetSecretValueCommand({ SecretId: name })))).toMatchObject({ name: 'InvalidRequestException' });
    expect(await failure(client.send(new CreateSecretCommand({ Name: name })))).toMatchObject({ name: 'InvalidRequestException' });
    expect((await client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect(await failure(client.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({ name: 'ResourceNotFoundException' });
    await client.send(new CreateSecretCommand({ Name: name }));
  });

  describe('faults', () => {
    it('throttles with HTTP 400 ThrottlingException, which the SDK retries', async () => {
      const name = await newSecret();
      emulator.setFaults([{ kind: 'throttle', operation: 'DescribeSecret', times: 1 }]);
      expect(await failure(once.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({ name: 'ThrottlingException', status: 400 });
      emulator.setFaults([{ kind: 'throttle', operation: 'DescribeSecret', times: 2 }]);
      const before = emulator.requests().length;
      await client.send(new DescribeSecretCommand({ SecretId: name }));
      const attempts = emulator.requests().slice(before).filter((r) => r.operation === 'DescribeSecret');
      expect(attempts.map((r) => r.error)).toEqual(['ThrottlingException', 'ThrottlingException', undefined]);
    });

    it('answers 500 InternalServiceError and AccessDeniedException on demand', async () => {
      const name = await newSecret();
      emulator.setFaults([{ kind: 'internal-error', times: 1 }]);
      expect(await failure(once.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({ name: 'InternalServiceError', status: 500 });
      emulator.setFaults([{ kind: 'access-denied', operation: 'DescribeSecret' }]);
      expect(await failure(once.send(new DescribeSecretCommand({ SecretId: name })))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
      emulator.setFaults([]);
      await once.send(new DescribeSecretCommand({ SecretId: name }));
    });

    it('adds latency, and drops connections before or after the operation runs', async () => {
      const name = await newSecret();
      emulator.setFaults([{ kind: 'latency', latencyMs: 50, times: 1 }]);
      await once.send(new DescribeSecretCommand({ SecretId: name }));
      expect(emulator.requests().at(-1)).toMatchObject({ operation: 'DescribeSecret', status: 200 });

      emulator.setFaults([{ kind: 'drop-before', operation: 'PutSecretValue', times: 1 }]);
      const t1 = token();
      const dropped = await failure(once.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'v' })));
      expect(dropped.name).not.toBe('ResourceExistsException');
      expect(await stages(name)).toEqual({});

      emulator.setFaults([{ kind: 'drop-after', operation: 'PutSecretValue', times: 1 }]);
      await failure(once.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: t1, SecretString: 'v' })));
      // It ran although the caller got no answer.
      expect(await stages(name)).toEqual({ [t1]: ['AWSCURRENT'] });
    });
  });
});

describe('secrets manager emulator: write quotas', () => {
  it('throttles PutSecretValue, UpdateSecret and UpdateSecretVersionStage together past the quota, and leaves reads alone', async () => {
    // AWS's quotas page: "PutSecretValue, … UpdateSecret, UpdateSecretVersionStage …: 50 requests per
    // second combined"; reads (GetSecretValue, DescribeSecret) have their own, far larger quota.
    // One write every 2 s: the calls below, sent back to back, find the bucket empty after the first.
    const limited = await startSecretsManagerEmulator({ writesPerSecond: 0.5 });
    const one = new SecretsManagerClient({ region: 'eu-west-1', endpoint: limited.url, credentials, maxAttempts: 1 });
    try {
      const name = `quota/${randomUUID()}`;
      await one.send(new CreateSecretCommand({ Name: name })); // CreateSecret has a quota of its own
      await one.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v', ClientRequestToken: token() }));
      const put = await failure(one.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'w', ClientRequestToken: token() })));
      expect(put).toMatchObject({ name: 'ThrottlingException', status: 400 });
      const stage = await failure(one.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'X' })));
      expect(stage.name).toBe('ThrottlingException');
      // Reads are not in the write quota.
      for (let i = 0; i < 10; i++) await one.send(new DescribeSecretCommand({ SecretId: name }));
    } finally {
      one.destroy();
      await limited.close();
    }
  });
});
