/**
 * How the file vault holds its secrets in memory. The whole vault lives in the process (a 100k-server
 * fleet is 100k secrets), so the resident form is kept compact; the file form (JSON, see
 * vault-document.ts) is unchanged.
 *
 * - A committed secret is *canonical*: built once when it enters the document (a commit, a journal
 *   record, a snapshot read) and never mutated afterwards. Operations mutate a {@link draftOf} copy,
 *   and the commit installs the result as a new canonical secret.
 * - Canonical payloads are frozen objects with one fixed shape (all properties in the object, none in
 *   a side array), shared between a secret and its drafts instead of deep-copied at every commit.
 * - Strings that repeat across secrets (region, project, username, OS type, run id, the batch's
 *   token and shared password, the payload's timestamp, labels) are pooled, so one batch of 1000
 *   servers holds each once, not 1000 times (JSON.parse and structuredClone make a new string for
 *   every occurrence).
 * - Arrays are exact-sized and label sets shared: an array grown by `push` reserves 17 slots.
 *
 * Measured on the 100k bench (issue 12): the live heap after a run went from about 1.9 KB to about
 * 0.6 KB per secret.
 */
import type { SecretKey, SecretPayload } from '../../ports/vault.js';

export interface StoredVersion {
  versionId: string;
  value: SecretPayload;
  labels: string[];
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export interface StoredSecret {
  name: string;
  key: SecretKey;
  createdAt: number;
  lastChangedAt: number;
  /** Oldest first. */
  versions: StoredVersion[];
}

/**
 * One shared instance per distinct string among the recent ones. Bounded: once `limit` strings are
 * held it starts afresh, so unique values (passwords in unique mode, ids) cost nothing lasting,
 * while a batch's repeated values, which arrive together, are still shared.
 */
export class StringPool {
  readonly #strings = new Map<string, string>();
  readonly #labelSets = new Map<string, readonly string[]>();
  readonly #limit: number;

  constructor(limit = 4096) {
    this.#limit = limit;
  }

  intern(value: string): string {
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    if (this.#strings.size >= this.#limit) this.#strings.clear();
    this.#strings.set(value, value);
    return value;
  }

  /** A frozen array equal to `labels`, shared by every version with the same labels in the same order. */
  labels(labels: readonly string[]): string[] {
    const id = labels.join('\n');
    let shared = this.#labelSets.get(id);
    if (shared === undefined) {
      if (this.#labelSets.size >= this.#limit) this.#labelSets.clear();
      shared = Object.freeze(labels.map((l) => this.intern(l)));
      this.#labelSets.set(id, shared);
    }
    // Frozen: a mutation of a canonical version instead of a draft throws rather than corrupting
    // every version that shares the array.
    return shared as string[];
  }
}

const PAYLOAD_FIELDS = ['username', 'password', 'serverId', 'serverName', 'osType', 'region', 'projectId', 'runId', 'createdAt', 'activation'] as const;

function canonicalPayload(value: SecretPayload, key: SecretKey, pool: StringPool): SecretPayload {
  if (Object.isFrozen(value)) return value; // canonical already (shared with the secret it was drafted from)
  const v = value as unknown as Record<string, unknown>;
  const exact = Object.keys(v).length === PAYLOAD_FIELDS.length && PAYLOAD_FIELDS.every((f) => typeof v[f] === 'string');
  // Anything other than the payload the rotation writes is kept as it came (a plain JSON copy).
  if (!exact) return deepFreeze(value);
  return Object.freeze({
    username: pool.intern(value.username) as SecretPayload['username'],
    password: pool.intern(value.password),
    serverId: value.serverId === key.serverId ? key.serverId : value.serverId,
    serverName: value.serverName,
    osType: pool.intern(value.osType) as SecretPayload['osType'],
    region: pool.intern(value.region),
    projectId: pool.intern(value.projectId),
    runId: pool.intern(value.runId),
    createdAt: pool.intern(value.createdAt),
    activation: pool.intern(value.activation) as SecretPayload['activation'],
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The resident form of `secret` (a draft, or one just parsed from the file); `secret` is not used afterwards. */
export function canonicalSecret(secret: StoredSecret, pool: StringPool): StoredSecret {
  const key: SecretKey = Object.isFrozen(secret.key)
    ? secret.key
    : Object.freeze({ region: pool.intern(secret.key.region), projectId: pool.intern(secret.key.projectId), serverId: secret.key.serverId });
  return {
    name: secret.name,
    key,
    createdAt: secret.createdAt,
    lastChangedAt: secret.lastChangedAt,
    versions: secret.versions.map((v) => ({
      versionId: pool.intern(v.versionId),
      value: canonicalPayload(v.value, key, pool),
      labels: pool.labels(v.labels),
      createdAt: v.createdAt,
    })),
  };
}

/**
 * A private, mutable copy of a canonical secret for operations to change: its own secret, version
 * objects and label arrays; the frozen key and payloads are shared (operations never change them).
 */
export function draftOf(secret: StoredSecret): StoredSecret {
  return {
    name: secret.name,
    key: secret.key,
    createdAt: secret.createdAt,
    lastChangedAt: secret.lastChangedAt,
    versions: secret.versions.map((v) => ({ versionId: v.versionId, value: v.value, labels: [...v.labels], createdAt: v.createdAt })),
  };
}
