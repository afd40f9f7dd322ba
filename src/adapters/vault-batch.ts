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

/** Secrets described at once by a {@link describeQueue} unless told otherwise: two requests each. */
const DEFAULT_DESCRIBES_AT_ONCE = 32;

/**
 * `Vault.describeMany` for a vault whose reads are requests of their own (AWS Secrets Manager), shared
 * by the batches of one process: the keys of every call join one queue and are described in the order
 * the calls came, at most `atOnce` at a time.
 *
 * Why one queue rather than each call on its own: a worker's batches reach their plan step together,
 * and their reads, all sent at once, interleave in the HTTP pool, so that every batch finishes its
 * reads near the end of all of them. In order, the first batch has its answers first and starts its
 * writes, which the write quota paces, while the later batches still read (the rate-bound bench: the
 * first batch's reads took 680 ms of the 1,617 ms all five took). A call that fails (the first error
 * of its keys) skips its keys not yet started.
 */
export function describeQueue(
  describe: (key: SecretKey) => Promise<SecretDescription | undefined>,
  atOnce = DEFAULT_DESCRIBES_AT_ONCE,
): (keys: readonly SecretKey[]) => Promise<(SecretDescription | undefined)[]> {
  const waiting: (() => void)[] = [];
  let next = 0; // index of the first task in `waiting` not yet started
  let running = 0;
  const pump = (): void => {
    while (running < atOnce && next < waiting.length) {
      const task = waiting[next]!;
      waiting[next] = NOTHING;
      next += 1;
      running += 1;
      task();
    }
    // Drop the started prefix once it is most of the array (amortised O(1) per task).
    if (next > 1024 && next * 2 > waiting.length) {
      waiting.splice(0, next);
      next = 0;
    }
  };
  return (keys) =>
    new Promise((resolve, reject) => {
      const results = new Array<SecretDescription | undefined>(keys.length);
      let remaining = keys.length;
      let failed = false;
      if (remaining === 0) {
        resolve(results);
        return;
      }
      const done = (): void => {
        running -= 1;
        remaining -= 1;
        if (remaining === 0 && !failed) resolve(results);
        pump();
      };
      keys.forEach((key, i) => {
        waiting.push(() => {
          if (failed) {
            done();
            return;
          }
          describe(key).then(
            (description) => {
              results[i] = description;
              done();
            },
            (error: unknown) => {
              if (!failed) {
                failed = true;
                reject(error);
              }
              done();
            },
          );
        });
      });
      pump();
    });
}

const NOTHING = (): void => {};
