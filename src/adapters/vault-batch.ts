import type { SecretDescription, SecretKey, Vault, VaultWrite, VaultWriteResult } from '../ports/vault.js';

/** Secrets worked on at once by {@link writeManyBySecret} unless told otherwise. */
const DEFAULT_SECRETS_AT_ONCE = 256;

/** A stable identity of a secret key within one call (the parts cannot contain a newline in practice; a clash only serialises two secrets). */
const keyOf = (key: SecretKey): string => `${key.region}\n${key.projectId}\n${key.serverId}`;

/** Calls the single-secret method a write names. */
export async function applyWrite(vault: Pick<Vault, VaultWrite['kind']>, write: VaultWrite): Promise<string[] | undefined> {
  switch (write.kind) {
    case 'ensureSecret':
      await vault.ensureSecret(write.key);
      return undefined;
    case 'putPending':
      return (await vault.putPending(write.key, write.token, write.value, write.alsoLabels)).labels;
    case 'promote':
      await vault.promote(write.key, write.versionId, write.expectedCurrent);
      return undefined;
    case 'removeLabel':
      await vault.removeLabel(write.key, write.label, write.versionId);
      return undefined;
    case 'moveLabel':
      await vault.moveLabel(write.key, write.label, write.versionId);
      return undefined;
  }
}

/**
 * `Vault.writeMany` for a vault whose writes are one request each (AWS Secrets Manager has no batch
 * write): the secrets concurrently (at most `secretsAtOnce`; the adapter's own limiter paces the
 * requests), each secret's writes one after another, a secret's later writes failing with the first
 * failure's error. Also what test doubles that wrap the single methods use, so that faults they
 * inject into a single method reach batched writes too.
 */
export async function writeManyBySecret(
  vault: Pick<Vault, VaultWrite['kind']>,
  writes: readonly VaultWrite[],
  secretsAtOnce = DEFAULT_SECRETS_AT_ONCE,
): Promise<VaultWriteResult[]> {
  const results: VaultWriteResult[] = new Array<VaultWriteResult>(writes.length);
  const bySecret = new Map<string, number[]>();
  writes.forEach((write, i) => {
    const k = keyOf(write.key);
    const list = bySecret.get(k);
    if (list === undefined) bySecret.set(k, [i]);
    else list.push(i);
  });
  const queue = [...bySecret.values()];
  const worker = async (): Promise<void> => {
    for (let indexes = queue.shift(); indexes !== undefined; indexes = queue.shift()) {
      let failure: { error: unknown } | undefined;
      for (const i of indexes) {
        if (failure !== undefined) {
          results[i] = { ok: false, error: failure.error };
          continue;
        }
        try {
          const labels = await applyWrite(vault, writes[i]!);
          results[i] = labels === undefined ? { ok: true } : { ok: true, labels };
        } catch (error) {
          failure = { error };
          results[i] = { ok: false, error };
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(secretsAtOnce, queue.length) }, worker));
  return results;
}

/** `Vault.describeMany` by one `describe` per key, at most `atOnce` at a time. */
export async function describeManyByKey(
  vault: Pick<Vault, 'describe'>,
  keys: readonly SecretKey[],
  atOnce = DEFAULT_SECRETS_AT_ONCE,
): Promise<(SecretDescription | undefined)[]> {
  const results = new Array<SecretDescription | undefined>(keys.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++;
      results[i] = await vault.describe(keys[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, keys.length) }, worker));
  return results;
}
