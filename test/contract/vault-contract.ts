/**
 * The Vault port's contract, as one vitest suite that runs against every implementation
 * (AWS Secrets Manager adapter against the emulator or a real endpoint, encrypted file vault).
 *
 * Every test works on its own random keys so that the suite can run against a shared backend
 * (LocalStack, a real account) and in parallel with other runs.
 *
 * The rules come from AWS Secrets Manager's API reference
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/): where a test encodes one of
 * AWS's documented rules, or the port's answer to it, it quotes the sentence. Both vaults must keep
 * the same semantics, the file vault included, so that code written against one works on the other.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRotatorError } from '../../src/domain/rotator-error.js';
import {
  LABEL_ACTIVE,
  LABEL_CURRENT,
  LABEL_PENDING,
  LABEL_PREVIOUS,
  type SecretDescription,
  type SecretKey,
  type SecretPayload,
  type Vault,
} from '../../src/ports/vault.js';

export interface VaultContractSubject {
  vault: Vault;
  /**
   * The password a reader outside rotator gets by default for `key` (AWS: GetSecretValue without a
   * stage, i.e. AWSCURRENT; the file vault: `rotator vault get`, i.e. AWSCURRENT through the port),
   * or undefined when that read yields no password.
   */
  defaultRead(key: SecretKey): Promise<string | undefined>;
  /** Releases what setup made (the vault itself is closed by the suite before this runs). */
  cleanup(): Promise<void>;
}

/** Every printable ASCII character, Huawei's specials included, plus quotes and a backslash. */
export const EVERY_PRINTABLE_ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** A random key in its own region and project so `list` filters can be checked exactly. */
export function randomSecretKey(overrides: Partial<SecretKey> = {}): SecretKey {
  return {
    region: `ct-${hex(4)}`,
    projectId: hex(16),
    serverId: randomUUID(),
    ...overrides,
  };
}

/** A deterministic-looking version token (run id + batch + generation), 32–64 characters. */
export function randomToken(): string {
  return `run-${hex(12)}-b0-g0`;
}

export function samplePayload(key: SecretKey, overrides: Partial<SecretPayload> = {}): SecretPayload {
  return {
    username: 'root',
    password: `Pw-${hex(8)}!Aa1`,
    serverId: key.serverId,
    serverName: `srv-${key.serverId.slice(0, 8)}`,
    osType: 'Linux',
    region: key.region,
    projectId: key.projectId,
    runId: `run-${hex(4)}`,
    createdAt: '2025-01-02T03:04:05.000Z',
    activation: 'after-reboot',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to reject, but it resolved');
}

/** Asserts a RotatorError with `code` whose message and JSON carry none of `secrets`. */
function expectVaultError(error: unknown, code: string, retryable: boolean, secrets: string[] = []): void {
  expect(isRotatorError(error), `expected a RotatorError, got ${String(error)}`).toBe(true);
  if (!isRotatorError(error)) return;
  expect(error.code).toBe(code);
  expect(error.retryable).toBe(retryable);
  const visible = `${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error)}\n${String(error.cause ?? '')}`;
  for (const secret of secrets) expect(visible.includes(secret)).toBe(false);
}

function labelsOf(description: SecretDescription | undefined, versionId: string): string[] | undefined {
  return description?.versions.find((v) => v.versionId === versionId)?.labels.slice().sort();
}

/** A label is on at most one version of a secret. */
function expectLabelsUnique(description: SecretDescription | undefined): void {
  const seen = new Map<string, string>();
  for (const version of description?.versions ?? []) {
    for (const label of version.labels) {
      expect(seen.has(label), `label ${label} on ${seen.get(label)} and ${version.versionId}`).toBe(false);
      seen.set(label, version.versionId);
    }
  }
}

export function describeVaultContract(name: string, setup: () => Promise<VaultContractSubject>): void {
  describe(`Vault contract: ${name}`, () => {
    let subject: VaultContractSubject;
    let vault: Vault;

    beforeAll(async () => {
      subject = await setup();
      vault = subject.vault;
    });

    afterAll(async () => {
      await vault?.close();
      await subject?.cleanup();
    });

    /** A fresh secret, ensured. */
    async function freshSecret(overrides: Partial<SecretKey> = {}): Promise<SecretKey> {
      const key = randomSecretKey(overrides);
      await vault.ensureSecret(key);
      return key;
    }

    async function describeState(key: SecretKey): Promise<SecretDescription> {
      const description = await vault.describe(key);
      expect(description).toBeDefined();
      expectLabelsUnique(description);
      return description as SecretDescription;
    }

    describe('ensureSecret', () => {
      it('creates a secret without versions, and is idempotent', async () => {
        const key = randomSecretKey();
        expect(await vault.describe(key)).toBeUndefined();
        await vault.ensureSecret(key);
        await vault.ensureSecret(key);
        const description = await describeState(key);
        expect(description.key).toEqual(key);
        expect(description.name).toContain(key.serverId);
        expect(description.versions).toEqual([]);
        expect(await vault.getVersion(key, { label: LABEL_CURRENT })).toBeUndefined();
      });

      it('lets two callers racing to create the same secret both succeed', async () => {
        const key = randomSecretKey();
        const results = await Promise.allSettled([vault.ensureSecret(key), vault.ensureSecret(key), vault.ensureSecret(key)]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
        expect((await describeState(key)).versions).toEqual([]);
      });

      it('keeps existing versions when called again', async () => {
        const key = await freshSecret();
        const token = randomToken();
        await vault.putPending(key, token, samplePayload(key));
        await vault.ensureSecret(key);
        expect(labelsOf(await describeState(key), token)).toEqual([LABEL_PENDING]);
      });
    });

    describe('reads of what does not exist', () => {
      it('describe and getVersion answer undefined for a missing secret', async () => {
        const key = randomSecretKey();
        expect(await vault.describe(key)).toBeUndefined();
        expect(await vault.getVersion(key, { label: LABEL_CURRENT })).toBeUndefined();
        expect(await vault.getVersion(key, { versionId: randomToken() })).toBeUndefined();
      });

      it('getVersion answers undefined for an unknown label or version id', async () => {
        const key = await freshSecret();
        await vault.putPending(key, randomToken(), samplePayload(key));
        expect(await vault.getVersion(key, { label: LABEL_CURRENT })).toBeUndefined();
        expect(await vault.getVersion(key, { label: 'NO_SUCH_LABEL' })).toBeUndefined();
        expect(await vault.getVersion(key, { versionId: randomToken() })).toBeUndefined();
      });
    });

    describe('putPending', () => {
      it('stores a version readable by label and by version id', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const value = samplePayload(key);
        await vault.putPending(key, token, value);

        const byLabel = await vault.getVersion(key, { label: LABEL_PENDING });
        expect(byLabel?.versionId).toBe(token);
        expect(byLabel?.labels).toEqual([LABEL_PENDING]);
        expect(byLabel?.value).toEqual(value);
        expect(typeof byLabel?.createdAt).toBe('number');
        expect(Number.isFinite(byLabel?.createdAt)).toBe(true);

        const byId = await vault.getVersion(key, { versionId: token });
        expect(byId?.versionId).toBe(token);
        expect(byId?.value).toEqual(value);
        expect(byId?.labels).toEqual([LABEL_PENDING]);
      });

      it('treats the same token with the same value as a no-op replay', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const value = samplePayload(key);
        await vault.putPending(key, token, value);
        await vault.putPending(key, token, { ...value });
        const description = await describeState(key);
        expect(description.versions.map((v) => v.versionId)).toEqual([token]);
        expect((await vault.getVersion(key, { versionId: token }))?.value).toEqual(value);
      });

      it('accepts a replay whose payload object lists its fields in another order', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const value = samplePayload(key);
        await vault.putPending(key, token, value);
        const reordered = Object.fromEntries(Object.entries(value).reverse()) as unknown as SecretPayload;
        await vault.putPending(key, token, reordered);
        expect((await describeState(key)).versions).toHaveLength(1);
      });

      // API_PutSecretValue: "If you call this operation with a ClientRequestToken that matches an
      // existing version's VersionId, and you specify the same secret data, the operation succeeds but
      // does nothing. However, if the secret data is different, then the operation fails [...]"
      it('rejects the same token with another value (VAULT_TOKEN_REUSED) while it is pending', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const first = samplePayload(key);
        await vault.putPending(key, token, first);
        const second = samplePayload(key);
        const error = await rejection(vault.putPending(key, token, second));
        expectVaultError(error, 'VAULT_TOKEN_REUSED', false, [first.password, second.password]);
        // The stored value is untouched.
        expect((await vault.getVersion(key, { versionId: token }))?.value).toEqual(first);
      });

      it('rejects the same token with another value (VAULT_TOKEN_REUSED) once it is current', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const first = samplePayload(key);
        await vault.putPending(key, token, first);
        await vault.promote(key, token, undefined);
        const second = samplePayload(key);
        const error = await rejection(vault.putPending(key, token, second));
        expectVaultError(error, 'VAULT_TOKEN_REUSED', false, [first.password, second.password]);
        expect((await vault.getVersion(key, { label: LABEL_CURRENT }))?.value).toEqual(first);
      });

      it('rejects a write to a secret that does not exist (VAULT_SECRET_NOT_FOUND)', async () => {
        const key = randomSecretKey();
        const value = samplePayload(key);
        const error = await rejection(vault.putPending(key, randomToken(), value));
        expectVaultError(error, 'VAULT_SECRET_NOT_FOUND', false, [value.password]);
      });

      it('rejects a token shorter than 32 characters (VAULT_INVALID_REQUEST)', async () => {
        const key = await freshSecret();
        const value = samplePayload(key);
        const error = await rejection(vault.putPending(key, 'too-short-token', value));
        expectVaultError(error, 'VAULT_INVALID_REQUEST', false, [value.password]);
        expect((await describeState(key)).versions).toEqual([]);
      });

      it('moves AWSPENDING off the older pending version', async () => {
        const key = await freshSecret();
        const older = randomToken();
        const newer = randomToken();
        await vault.putPending(key, older, samplePayload(key));
        await vault.putPending(key, newer, samplePayload(key));
        const description = await describeState(key);
        expect(labelsOf(description, newer)).toEqual([LABEL_PENDING]);
        // Unlabelled versions are not listed (they may be pruned).
        expect(labelsOf(description, older)).toBeUndefined();
        expect((await vault.getVersion(key, { label: LABEL_PENDING }))?.versionId).toBe(newer);
      });

      // API_PutSecretValue, VersionStages: "If you specify a staging label that's already associated
      // with a different version of the same secret, then Secrets Manager removes the label from the
      // other version and attaches it to this version." And its answer's VersionStages: "The list of
      // staging labels that are currently attached to this version of the secret."
      it('attaches the custom labels it is given in the same write, moving them off other versions, and answers the labels held', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        expect((await vault.putPending(key, t1, samplePayload(key), ['ROTATOR_UNCONFIRMED_1'])).labels.sort()).toEqual([LABEL_PENDING, 'ROTATOR_UNCONFIRMED_1'].sort());
        await vault.promote(key, t1, undefined);
        expect((await vault.putPending(key, t2, samplePayload(key), ['ROTATOR_UNCONFIRMED_2', 'CONTRACT_MOVED'])).labels.sort()).toEqual(
          [LABEL_PENDING, 'ROTATOR_UNCONFIRMED_2', 'CONTRACT_MOVED'].sort(),
        );
        await vault.moveLabel(key, 'CONTRACT_MOVED', t1);
        let description = await describeState(key);
        expect(labelsOf(description, t1)).toEqual([LABEL_CURRENT, 'CONTRACT_MOVED', 'ROTATOR_UNCONFIRMED_1'].sort());
        expect(labelsOf(description, t2)).toEqual([LABEL_PENDING, 'ROTATOR_UNCONFIRMED_2'].sort());

        // A third version takes CONTRACT_MOVED off t1 and AWSPENDING off t2; their other labels stay.
        const t3 = randomToken();
        await vault.putPending(key, t3, samplePayload(key), ['CONTRACT_MOVED']);
        description = await describeState(key);
        expect(labelsOf(description, t1)).toEqual([LABEL_CURRENT, 'ROTATOR_UNCONFIRMED_1'].sort());
        expect(labelsOf(description, t2)).toEqual(['ROTATOR_UNCONFIRMED_2']);
        expect(labelsOf(description, t3)).toEqual([LABEL_PENDING, 'CONTRACT_MOVED'].sort());
      });

      it('a replay re-attaches nothing and answers the labels the version holds now', async () => {
        const key = await freshSecret();
        const t1 = randomToken();
        const value = samplePayload(key);
        await vault.putPending(key, t1, value, ['ROTATOR_UNCONFIRMED_1']);
        await vault.removeLabel(key, 'ROTATOR_UNCONFIRMED_1', t1);
        await vault.putPending(key, randomToken(), samplePayload(key));
        const replay = await vault.putPending(key, t1, value, ['ROTATOR_UNCONFIRMED_1']);
        expect(replay.labels).toEqual([]);
        expect(labelsOf(await describeState(key), t1)).toBeUndefined();
      });

      it('refuses AWSCURRENT, AWSPREVIOUS or AWSPENDING among the extra labels (VAULT_INVALID_REQUEST) and stores nothing', async () => {
        const key = await freshSecret();
        for (const label of [LABEL_CURRENT, LABEL_PREVIOUS, LABEL_PENDING]) {
          const value = samplePayload(key);
          expectVaultError(await rejection(vault.putPending(key, randomToken(), value, [label])), 'VAULT_INVALID_REQUEST', false, [value.password]);
        }
        expect((await describeState(key)).versions).toEqual([]);
      });

      it('does not touch AWSCURRENT, AWSPREVIOUS or custom labels', async () => {
        const key = await freshSecret();
        const [t1, t2, t3] = [randomToken(), randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        await vault.promote(key, t2, t1);
        await vault.moveLabel(key, LABEL_ACTIVE, t1);
        await vault.putPending(key, t3, samplePayload(key));
        const description = await describeState(key);
        expect(labelsOf(description, t1)).toEqual([LABEL_PREVIOUS, LABEL_ACTIVE].sort());
        expect(labelsOf(description, t2)).toEqual([LABEL_CURRENT]);
        expect(labelsOf(description, t3)).toEqual([LABEL_PENDING]);
      });
    });

    // API_PutSecretValue: "If this operation creates the first version for the secret, then Secrets
    // Manager automatically attaches the staging label AWSCURRENT to it." The port's promise is
    // stronger and holds on both vaults: AWSCURRENT only ever names a password a server accepted, so a
    // first pending password must not become what readers get by default.
    describe('AWSCURRENT only on an accepted password, from the first version on', () => {
      it('a first pending version is not AWSCURRENT, for the port or for a default reader', async () => {
        const key = await freshSecret();
        const t1 = randomToken();
        const first = samplePayload(key);
        await vault.putPending(key, t1, first);
        expect(await vault.getVersion(key, { label: LABEL_CURRENT })).toBeUndefined();
        expect(labelsOf(await describeState(key), t1)).toEqual([LABEL_PENDING]);
        expect(await subject.defaultRead(key)).toBeUndefined();

        // The reset was rejected: the pending version is dropped; still nothing current.
        await vault.removeLabel(key, LABEL_PENDING, t1);
        expect(await vault.getVersion(key, { label: LABEL_CURRENT })).toBeUndefined();
        expect(await subject.defaultRead(key)).toBeUndefined();
        expect((await describeState(key)).versions).toEqual([]);

        // The next attempt is accepted: only then is it current, and what readers get.
        const t2 = randomToken();
        const second = samplePayload(key);
        await vault.putPending(key, t2, second);
        expect(await subject.defaultRead(key)).toBeUndefined();
        await vault.promote(key, t2, undefined);
        expect(await subject.defaultRead(key)).toBe(second.password);
        expect(await vault.getVersion(key, { label: LABEL_PREVIOUS })).toBeUndefined();

        // A later pending version leaves the accepted one current.
        await vault.putPending(key, randomToken(), samplePayload(key));
        expect(await subject.defaultRead(key)).toBe(second.password);
      });
    });

    describe('promote', () => {
      it('promotes the first version when no version is current (expectedCurrent undefined)', async () => {
        const key = await freshSecret();
        const token = randomToken();
        const value = samplePayload(key);
        await vault.putPending(key, token, value);
        await vault.promote(key, token, undefined);
        const description = await describeState(key);
        // AWSPENDING stays on the promoted version (settled: src/rotation/labels.ts).
        expect(labelsOf(description, token)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());
        expect(await vault.getVersion(key, { label: LABEL_PREVIOUS })).toBeUndefined();
        expect((await vault.getVersion(key, { label: LABEL_CURRENT }))?.value).toEqual(value);
      });

      // API_UpdateSecretVersionStage: "Whenever you move AWSCURRENT, Secrets Manager automatically
      // moves the label AWSPREVIOUS to the version that AWSCURRENT was removed from."
      it('moves AWSPREVIOUS to the version AWSCURRENT left and leaves AWSPENDING where it is', async () => {
        const key = await freshSecret();
        const [t1, t2, t3] = [randomToken(), randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        await vault.promote(key, t2, t1);
        let description = await describeState(key);
        expect(labelsOf(description, t1)).toEqual([LABEL_PREVIOUS]);
        expect(labelsOf(description, t2)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());

        await vault.putPending(key, t3, samplePayload(key));
        await vault.promote(key, t3, t2);
        description = await describeState(key);
        expect(labelsOf(description, t3)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());
        expect(labelsOf(description, t2)).toEqual([LABEL_PREVIOUS]);
        expect(labelsOf(description, t1)).toBeUndefined();
      });

      it('treats a replay of a completed promotion as a no-op', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        await vault.promote(key, t2, t1);
        const before = await describeState(key);
        await vault.promote(key, t2, t1);
        const after = await describeState(key);
        expect(labelsOf(after, t1)).toEqual([LABEL_PREVIOUS]);
        expect(labelsOf(after, t2)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());
        expect(after.versions.length).toBe(before.versions.length);
      });

      it('lets exactly one of two concurrent promotions from the same expectedCurrent win', async () => {
        const key = await freshSecret();
        const [t1, t2, t3] = [randomToken(), randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        // Keep t2 labelled so that the next putPending does not leave it prunable.
        await vault.moveLabel(key, 'CONTRACT_HOLD', t2);
        await vault.putPending(key, t3, samplePayload(key));

        const results = await Promise.allSettled([vault.promote(key, t2, t1), vault.promote(key, t3, t1)]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(1);
        expectVaultError(rejected[0]?.reason, 'VAULT_CURRENT_CHANGED', false);

        const winner = results[0]?.status === 'fulfilled' ? t2 : t3;
        const description = await describeState(key);
        expect(labelsOf(description, winner)).toContain(LABEL_CURRENT);
        expect(labelsOf(description, t1)).toEqual([LABEL_PREVIOUS]);
      });

      it('lets exactly one of two concurrent first promotions win', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.moveLabel(key, 'CONTRACT_HOLD', t1);
        await vault.putPending(key, t2, samplePayload(key));
        const results = await Promise.allSettled([vault.promote(key, t1, undefined), vault.promote(key, t2, undefined)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const loser = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expectVaultError(loser?.reason, 'VAULT_CURRENT_CHANGED', false);
        await describeState(key);
      });

      // API_UpdateSecretVersionStage, RemoveFromVersionId: "If the label is attached and you either do
      // not specify this parameter, or the version ID does not match, then the operation fails."
      // promote is that compare-and-swap: a stale or missing expectedCurrent fails, on both vaults.
      it('rejects a promotion whose expectedCurrent is stale (VAULT_CURRENT_CHANGED)', async () => {
        const key = await freshSecret();
        const [t1, t2, t3] = [randomToken(), randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        await vault.promote(key, t2, t1);
        await vault.putPending(key, t3, samplePayload(key));
        expectVaultError(await rejection(vault.promote(key, t3, t1)), 'VAULT_CURRENT_CHANGED', false);
        expectVaultError(await rejection(vault.promote(key, t3, undefined)), 'VAULT_CURRENT_CHANGED', false);
        const description = await describeState(key);
        expect(labelsOf(description, t2)).toEqual([LABEL_CURRENT]);
        // The loser keeps its pending label: its password may already be on the server.
        expect(labelsOf(description, t3)).toEqual([LABEL_PENDING]);
      });

      it('rejects a promotion of an unknown version (VAULT_VERSION_NOT_FOUND)', async () => {
        const key = await freshSecret();
        expectVaultError(await rejection(vault.promote(key, randomToken(), undefined)), 'VAULT_VERSION_NOT_FOUND', false);
        const t1 = randomToken();
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        expectVaultError(await rejection(vault.promote(key, randomToken(), t1)), 'VAULT_VERSION_NOT_FOUND', false);
        expect(labelsOf(await describeState(key), t1)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());
      });

      it('rejects a promotion on a secret that does not exist', async () => {
        const key = randomSecretKey();
        const error = await rejection(vault.promote(key, randomToken(), undefined));
        expect(isRotatorError(error)).toBe(true);
        expect(['VAULT_SECRET_NOT_FOUND', 'VAULT_VERSION_NOT_FOUND']).toContain((error as { code: string }).code);
      });
    });

    describe('removeLabel and moveLabel', () => {
      it('removeLabel drops a label and is a no-op when the version does not hold it', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        await vault.removeLabel(key, LABEL_PENDING, t1); // t1 does not hold it
        expect(labelsOf(await describeState(key), t2)).toEqual([LABEL_PENDING]);
        await vault.removeLabel(key, LABEL_PENDING, t2);
        await vault.removeLabel(key, LABEL_PENDING, t2);
        await vault.removeLabel(key, 'NEVER_SET', t1);
        const description = await describeState(key);
        expect(labelsOf(description, t2)).toBeUndefined();
        expect(labelsOf(description, t1)).toEqual([LABEL_CURRENT]);
        expect(await vault.getVersion(key, { label: LABEL_PENDING })).toBeUndefined();
      });

      // API_UpdateSecretVersionStage, RemoveFromVersionId: "If the staging label you are trying to
      // attach to one version is already attached to a different version, then you must include this
      // parameter and specify the version that the label is to be removed from." moveLabel names it
      // (the AWS adapter reads the holder first), so a move of a label held elsewhere succeeds.
      it('moveLabel attaches a custom label, moving it off the version that held it', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.moveLabel(key, LABEL_ACTIVE, t1);
        await vault.moveLabel(key, LABEL_ACTIVE, t1); // no-op
        expect(labelsOf(await describeState(key), t1)).toEqual([LABEL_CURRENT, LABEL_PENDING, LABEL_ACTIVE].sort());
        await vault.putPending(key, t2, samplePayload(key));
        await vault.moveLabel(key, LABEL_ACTIVE, t2);
        const description = await describeState(key);
        expect(labelsOf(description, t1)).toEqual([LABEL_CURRENT]);
        expect(labelsOf(description, t2)).toEqual([LABEL_PENDING, LABEL_ACTIVE].sort());
        expect((await vault.getVersion(key, { label: LABEL_ACTIVE }))?.versionId).toBe(t2);
      });

      it('moveLabel to an unknown version is VAULT_VERSION_NOT_FOUND and changes nothing', async () => {
        const key = await freshSecret();
        const t1 = randomToken();
        await vault.putPending(key, t1, samplePayload(key));
        await vault.moveLabel(key, LABEL_ACTIVE, t1);
        expectVaultError(await rejection(vault.moveLabel(key, LABEL_ACTIVE, randomToken())), 'VAULT_VERSION_NOT_FOUND', false);
        expect(labelsOf(await describeState(key), t1)).toEqual([LABEL_PENDING, LABEL_ACTIVE].sort());
      });

      it('moveLabel refuses AWSCURRENT (only promote moves it)', async () => {
        const key = await freshSecret();
        const t1 = randomToken();
        await vault.putPending(key, t1, samplePayload(key));
        expectVaultError(await rejection(vault.moveLabel(key, LABEL_CURRENT, t1)), 'VAULT_INVALID_REQUEST', false);
        expect(labelsOf(await describeState(key), t1)).toEqual([LABEL_PENDING]);
      });
    });

    describe('never lose a password', () => {
      it('keeps a version holding a custom label readable across later rotations', async () => {
        const key = await freshSecret();
        const tokens = [randomToken(), randomToken(), randomToken(), randomToken()];
        const values = tokens.map(() => samplePayload(key, { activation: 'next-restart' }));
        let current: string | undefined;
        for (const [i, token] of tokens.entries()) {
          await vault.putPending(key, token, values[i] as SecretPayload);
          await vault.promote(key, token, current);
          current = token;
          if (i === 0) await vault.moveLabel(key, LABEL_ACTIVE, token);
        }
        const description = await describeState(key);
        expect(labelsOf(description, tokens[0] as string)).toEqual([LABEL_ACTIVE]);
        expect(labelsOf(description, tokens[2] as string)).toEqual([LABEL_PREVIOUS]);
        expect(labelsOf(description, tokens[3] as string)).toEqual([LABEL_CURRENT, LABEL_PENDING].sort());
        expect((await vault.getVersion(key, { label: LABEL_ACTIVE }))?.value).toEqual(values[0]);
        expect((await vault.getVersion(key, { label: LABEL_PREVIOUS }))?.value).toEqual(values[2]);
      });

      it('keeps the pending version of a failed promotion labelled', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        const v2 = samplePayload(key);
        await vault.putPending(key, t1, samplePayload(key));
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, v2);
        await rejection(vault.promote(key, t2, randomToken()));
        expect((await vault.getVersion(key, { label: LABEL_PENDING }))?.value).toEqual(v2);
      });
    });

    describe('describe and list', () => {
      it('describe lists labelled versions without values, and lastChangedAt', async () => {
        const key = await freshSecret();
        const [t1, t2] = [randomToken(), randomToken()];
        const v1 = samplePayload(key);
        await vault.putPending(key, t1, v1);
        await vault.promote(key, t1, undefined);
        await vault.putPending(key, t2, samplePayload(key));
        const description = await describeState(key);
        expect(description.key).toEqual(key);
        expect(description.versions.map((v) => v.versionId).sort()).toEqual([t1, t2].sort());
        for (const version of description.versions) {
          expect(Object.keys(version).sort()).toEqual(['createdAt', 'labels', 'versionId']);
          expect(Number.isFinite(version.createdAt)).toBe(true);
        }
        expect(JSON.stringify(description)).not.toContain(v1.password);
        expect(typeof description.lastChangedAt === 'number' || description.lastChangedAt === undefined).toBe(true);
        if (description.lastChangedAt !== undefined) expect(Number.isFinite(description.lastChangedAt)).toBe(true);
      });

      it('list yields managed secrets, filtered by region and project, without values', async () => {
        const region = `ct-${hex(4)}`;
        const projectA = hex(16);
        const projectB = hex(16);
        const a1 = await freshSecret({ region, projectId: projectA });
        const a2 = await freshSecret({ region, projectId: projectA });
        const b1 = await freshSecret({ region, projectId: projectB });
        const value = samplePayload(a1);
        await vault.putPending(a1, randomToken(), value);

        const collect = async (filter?: { region?: string; projectId?: string }): Promise<SecretDescription[]> => {
          const out: SecretDescription[] = [];
          for await (const description of vault.list(filter)) out.push(description);
          return out;
        };
        const ids = (descriptions: SecretDescription[]): string[] => descriptions.map((d) => d.key.serverId).sort();

        const inA = await collect({ region, projectId: projectA });
        expect(ids(inA)).toEqual([a1.serverId, a2.serverId].sort());
        expect(inA.find((d) => d.key.serverId === a1.serverId)?.versions).toHaveLength(1);
        expect(JSON.stringify(inA)).not.toContain(value.password);

        expect(ids(await collect({ region }))).toEqual([a1.serverId, a2.serverId, b1.serverId].sort());
        const inB = await collect({ region, projectId: projectB });
        expect(inB.map((d) => d.key)).toEqual([b1]);

        const everything = ids(await collect());
        for (const key of [a1, a2, b1]) expect(everything).toContain(key.serverId);
      });
    });

    describe('writeMany and describeMany (the batch-level forms)', () => {
      it('does each write as its single method would, and answers one result per write, in order', async () => {
        const keys = [randomSecretKey(), randomSecretKey(), randomSecretKey()];
        const tokens = keys.map(() => randomToken());
        const payloads = keys.map((key) => samplePayload(key));
        const results = await vault.writeMany([
          ...keys.map((key) => ({ kind: 'ensureSecret' as const, key })),
          ...keys.map((key, i) => ({ kind: 'putPending' as const, key, token: tokens[i]!, value: payloads[i]! })),
          ...keys.map((key, i) => ({ kind: 'promote' as const, key, versionId: tokens[i]!, expectedCurrent: undefined })),
        ]);
        expect(results.map((r) => r.ok)).toEqual(Array.from({ length: 9 }, () => true));
        // A putPending's result says which labels its version holds, as putPending's answer does.
        for (const r of results.slice(3, 6)) expect(r).toEqual({ ok: true, labels: [LABEL_PENDING] });
        const described = await vault.describeMany(keys);
        expect(described.map((d) => d?.key.serverId)).toEqual(keys.map((k) => k.serverId));
        described.forEach((d, i) => {
          expectLabelsUnique(d);
          expect(d?.versions.find((v) => v.labels.includes(LABEL_CURRENT))?.versionId).toBe(tokens[i]);
          // AWSPENDING, if still there, is on the promoted version: settled (see promote).
          expect(d?.versions.filter((v) => v.labels.includes(LABEL_PENDING)).every((v) => v.labels.includes(LABEL_CURRENT))).toBe(true);
        });
        for (const [i, key] of keys.entries()) expect(await subject.defaultRead(key)).toBe(payloads[i]!.password);
      });

      it('fails a write on its own: the other secrets\' writes still happen', async () => {
        const good = await freshSecret();
        const missing = randomSecretKey(); // never ensured
        const token = randomToken();
        const results = await vault.writeMany([
          { kind: 'putPending', key: missing, token: randomToken(), value: samplePayload(missing) },
          { kind: 'putPending', key: good, token, value: samplePayload(good) },
        ]);
        expect(results[0]).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'VAULT_SECRET_NOT_FOUND' }) });
        expect(results[1]).toEqual({ ok: true, labels: [LABEL_PENDING] });
        expect((await vault.getVersion(good, { label: LABEL_PENDING }))?.versionId).toBe(token);
      });

      it('does not attempt a secret\'s later writes once one of its writes failed (never labels what was not stored)', async () => {
        const key = await freshSecret();
        const first = randomToken();
        await vault.putPending(key, first, samplePayload(key));
        const stale = randomToken(); // not the current version: the compare-and-swap fails
        const results = await vault.writeMany([
          { kind: 'promote', key, versionId: first, expectedCurrent: stale },
          { kind: 'moveLabel', key, label: LABEL_ACTIVE, versionId: first },
        ]);
        expect(results[0]).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'VAULT_CURRENT_CHANGED' }) });
        expect(results[1]).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'VAULT_CURRENT_CHANGED' }) });
        const state = await describeState(key);
        expect(state.versions.find((v) => v.versionId === first)?.labels).toEqual([LABEL_PENDING]);
      });

      it('applies a secret\'s writes in the order given', async () => {
        const key = await freshSecret();
        const [a, b] = [randomToken(), randomToken()];
        const results = await vault.writeMany([
          { kind: 'putPending', key, token: a, value: samplePayload(key) },
          { kind: 'moveLabel', key, label: LABEL_ACTIVE, versionId: a },
          { kind: 'putPending', key, token: b, value: { ...samplePayload(key), password: 'Other-Pa55word!' } },
        ]);
        expect(results.every((r) => r.ok)).toBe(true);
        const state = await describeState(key);
        expect(state.versions.find((v) => v.versionId === a)?.labels).toEqual([LABEL_ACTIVE]);
        expect(state.versions.find((v) => v.versionId === b)?.labels).toEqual([LABEL_PENDING]);
      });

      it('describeMany answers undefined for a secret that does not exist, in place', async () => {
        const key = await freshSecret();
        const missing = randomSecretKey();
        const described = await vault.describeMany([missing, key, missing]);
        expect(described[0]).toBeUndefined();
        expect(described[1]?.key.serverId).toBe(key.serverId);
        expect(described[2]).toBeUndefined();
        expect(await vault.describeMany([])).toEqual([]);
        expect(await vault.writeMany([])).toEqual([]);
      });
    });

    describe('values', () => {
      it('round-trip exactly: unicode server names and every special character in passwords', async () => {
        const key = await freshSecret();
        const cases: SecretPayload[] = [
          samplePayload(key, { password: EVERY_PRINTABLE_ASCII, serverName: 'сервер-日本-🚀-"quoted"\\back' }),
          samplePayload(key, {
            password: `!@$%^-_=+[{}]:,./?~#*\`'"\\<>|&;() `,
            serverName: 'Ünïcödé\u0000nul\nnewline\ttab\u2028',
            username: 'Administrator',
            osType: 'Windows',
            activation: 'next-restart',
          }),
        ];
        for (const value of cases) {
          const token = randomToken();
          await vault.putPending(key, token, value);
          const back = await vault.getVersion(key, { versionId: token });
          expect(back?.value).toEqual(value);
          expect(back?.value.password).toBe(value.password);
          // Keep the version labelled so that a pruning implementation keeps it.
          await vault.moveLabel(key, `CONTRACT_${token.slice(4, 12).toUpperCase()}`, token);
          // A replay of the same unusual value is still a no-op.
          await vault.putPending(key, token, { ...value });
        }
      });
    });
  });
}
