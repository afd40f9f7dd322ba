/**
 * How the file vault holds its secrets in memory. The whole vault lives in the process (a 100k-server
 * fleet is 100k secrets), so the resident form is kept compact; the file form (JSON, see
 * vault-document.ts) is unchanged.
 *
 * - A committed secret is *resident*: built once when it enters the document (a commit, a journal
 *   record, a snapshot read) and never mutated afterwards. Operations mutate a {@link draftOf} copy
 *   (a plain {@link StoredSecret}), and the commit installs the result as a new resident secret.
 * - A resident secret is one frozen array (see {@link ResidentSecret}), not an object per secret, key,
 *   version and payload: V8 spends a header and often a boxed number on every object, and a secret
 *   with two versions was nine objects (about 0.78 KB with its strings on the 100k bench).
 * - The payload the rotation writes is held as what it shares with its batch (user name, OS type,
 *   region, project, run id, timestamp, activation: one frozen object per batch) plus its password
 *   and server name; its server id is the key's. Any other payload is kept whole, as it came.
 * - Strings that repeat across secrets (region, project, username, OS type, run id, the batch's
 *   token and shared password, the payload's timestamp, labels) are pooled, so one batch of 1000
 *   servers holds each once, not 1000 times (JSON.parse and structuredClone make a new string for
 *   every occurrence); so are the commit times (a number in an array is a boxed double of its own
 *   unless the same box is stored again).
 *
 * Measured on the 100k bench (issue 12, two runs: two versions per secret): pooled canonical objects
 * took the live heap after a run from about 1.9 KB to about 0.8 KB per secret; this form took it from
 * 118 MB to 79 MB (the vault from about 0.78 to 0.39 KB per secret), at the same CPU time.
 */
import type { SecretKey, SecretPayload } from '../../ports/vault.js';

/** A secret as the file holds it, and as operations change it (a draft). */
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
 * A committed secret in memory: a frozen array of
 * `[name, scope, serverId, createdAt, lastChangedAt]` followed by {@link VERSION_SLOTS} slots per
 * version, oldest first: `versionId, labels, createdAt, shared, password, serverName`. `scope` is the
 * pooled `{region, projectId}` of the key. For the payload the rotation writes, `shared` is its pooled
 * batch part ({@link SharedPayload}) and `password`, `serverName` its own; for any other payload,
 * `shared` is the whole payload (deep-frozen) and `password` is undefined.
 */
export type ResidentSecret = readonly unknown[];

interface Scope {
  readonly region: string;
  readonly projectId: string;
}

/** The part of a rotation payload shared by a batch. */
interface SharedPayload {
  readonly username: string;
  readonly osType: string;
  readonly region: string;
  readonly projectId: string;
  readonly runId: string;
  readonly createdAt: string;
  readonly activation: string;
}

const NAME = 0;
const SCOPE = 1;
const SERVER_ID = 2;
const CREATED_AT = 3;
const LAST_CHANGED_AT = 4;
const HEAD_SLOTS = 5;
const VERSION_SLOTS = 6;
// Offsets within a version's slots.
const V_ID = 0;
const V_LABELS = 1;
const V_CREATED_AT = 2;
const V_SHARED = 3;
const V_PASSWORD = 4;
const V_SERVER_NAME = 5;

/** The fields of the payload the rotation writes, in the order they are written to the file. */
const PAYLOAD_FIELDS = ['username', 'password', 'serverId', 'serverName', 'osType', 'region', 'projectId', 'runId', 'createdAt', 'activation'] as const;
const SHARED_FIELDS = ['username', 'osType', 'region', 'projectId', 'runId', 'createdAt', 'activation'] as const;

/**
 * One shared instance per distinct string (number, label set, scope, batch payload part) among the
 * recent ones. Bounded: once `limit` values of a kind are held it starts afresh, so unique values
 * (passwords in unique mode, ids) cost nothing lasting, while a batch's repeated values, which arrive
 * together, are still shared.
 */
export class StringPool {
  readonly #strings = new Map<string, string>();
  readonly #numbers = new Map<number, number>();
  readonly #labelSets = new Map<string, readonly string[]>();
  readonly #scopes = new Map<string, Scope>();
  readonly #shared = new Map<string, SharedPayload>();
  /** The batch part last pooled: a commit's payloads come a batch at a time, so most lookups stop here. */
  #lastShared: SharedPayload | undefined;
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

  /** The same boxed number for the same value (commit times repeat across a commit's secrets). */
  number(value: number): number {
    const known = this.#numbers.get(value);
    if (known !== undefined) return known;
    if (this.#numbers.size >= this.#limit) this.#numbers.clear();
    this.#numbers.set(value, value);
    return value;
  }

  /** A frozen array equal to `labels`, shared by every version with the same labels in the same order. */
  labels(labels: readonly string[]): readonly string[] {
    const id = labels.join('\n');
    let shared = this.#labelSets.get(id);
    if (shared === undefined) {
      if (this.#labelSets.size >= this.#limit) this.#labelSets.clear();
      shared = Object.freeze(labels.map((l) => this.intern(l)));
      this.#labelSets.set(id, shared);
    }
    // Frozen: a mutation of a resident version's labels throws rather than corrupting every
    // version that shares the array.
    return shared;
  }

  scope(region: string, projectId: string): Scope {
    const id = `${region}\n${projectId}`;
    let scope = this.#scopes.get(id);
    if (scope === undefined) {
      if (this.#scopes.size >= this.#limit) this.#scopes.clear();
      scope = Object.freeze({ region: this.intern(region), projectId: this.intern(projectId) });
      this.#scopes.set(id, scope);
    }
    return scope;
  }

  /** The pooled batch part of `value` (a payload of exactly {@link PAYLOAD_FIELDS}, all strings). */
  shared(value: Readonly<Record<(typeof SHARED_FIELDS)[number], string>>): SharedPayload {
    const last = this.#lastShared;
    if (last !== undefined && SHARED_FIELDS.every((f) => last[f] === value[f])) return last;
    const id = SHARED_FIELDS.map((f) => value[f]).join('\n');
    let shared = this.#shared.get(id);
    if (shared === undefined) {
      if (this.#shared.size >= this.#limit) this.#shared.clear();
      shared = Object.freeze({
        username: this.intern(value.username),
        osType: this.intern(value.osType),
        region: this.intern(value.region),
        projectId: this.intern(value.projectId),
        runId: this.intern(value.runId),
        createdAt: this.intern(value.createdAt),
        activation: this.intern(value.activation),
      });
      this.#shared.set(id, shared);
    }
    this.#lastShared = shared;
    return shared;
  }
}

/** Whether `value` is the payload the rotation writes: exactly its fields, all strings. */
function isRotationPayload(value: unknown): value is Record<(typeof PAYLOAD_FIELDS)[number], string> {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return Object.keys(v).length === PAYLOAD_FIELDS.length && PAYLOAD_FIELDS.every((f) => typeof v[f] === 'string');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * The resident form of `secret` (a draft, or one just parsed from the file); `secret` is not used
 * afterwards. `from`: the resident secret a draft was copied from, and the index there of each
 * version it copied (only labels change on a version): those versions keep their resident slots.
 */
export function residentSecret(
  secret: StoredSecret,
  pool: StringPool,
  from?: { before: ResidentSecret; copied: ReadonlyMap<StoredVersion, number> },
): ResidentSecret {
  const key = secret.key;
  const serverId = key.serverId;
  const before = from?.before;
  const slots: unknown[] = new Array(HEAD_SLOTS + VERSION_SLOTS * secret.versions.length);
  slots[NAME] = secret.name;
  // The same name is the same key (vault-document.ts `secretName`).
  slots[SCOPE] = before !== undefined ? before[SCOPE] : pool.scope(key.region, key.projectId);
  slots[SERVER_ID] = serverId;
  slots[CREATED_AT] = pool.number(secret.createdAt);
  slots[LAST_CHANGED_AT] = pool.number(secret.lastChangedAt);
  let at = HEAD_SLOTS;
  let serverName: string | undefined;
  for (const version of secret.versions) {
    const index = before !== undefined ? from!.copied.get(version) : undefined;
    if (index !== undefined) {
      const src = versionAt(index);
      for (let slot = 0; slot < VERSION_SLOTS; slot += 1) slots[at + slot] = before![src + slot];
      const labels = before![src + V_LABELS] as readonly string[];
      if (!sameLabels(labels, version.labels)) slots[at + V_LABELS] = pool.labels(version.labels);
      // A new version below shares this name when it is the same (32 bytes a version at 100k: 3 MB a run).
      const copiedName = before![src + V_SERVER_NAME];
      if (typeof copiedName === 'string') serverName = copiedName;
      at += VERSION_SLOTS;
      continue;
    }
    slots[at + V_ID] = pool.intern(version.versionId);
    slots[at + V_LABELS] = pool.labels(version.labels);
    slots[at + V_CREATED_AT] = pool.number(version.createdAt);
    const value: unknown = version.value;
    if (isRotationPayload(value) && value.serverId === serverId) {
      slots[at + V_SHARED] = pool.shared(value);
      slots[at + V_PASSWORD] = pool.intern(value.password);
      // The versions of one server share its name (it rarely changes).
      serverName = value.serverName === serverName ? serverName : value.serverName;
      slots[at + V_SERVER_NAME] = serverName;
    } else {
      // Anything other than the payload the rotation writes is kept as it came (a plain JSON copy).
      slots[at + V_SHARED] = deepFreeze(value);
      slots[at + V_PASSWORD] = undefined;
      slots[at + V_SERVER_NAME] = undefined;
    }
    at += VERSION_SLOTS;
  }
  return Object.freeze(slots);
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

export function residentName(secret: ResidentSecret): string {
  return secret[NAME] as string;
}

/** The secret's key (a new object). */
export function residentKey(secret: ResidentSecret): SecretKey {
  const scope = secret[SCOPE] as Scope;
  return { region: scope.region, projectId: scope.projectId, serverId: secret[SERVER_ID] as string };
}

export function residentRegion(secret: ResidentSecret): string {
  return (secret[SCOPE] as Scope).region;
}

export function residentProjectId(secret: ResidentSecret): string {
  return (secret[SCOPE] as Scope).projectId;
}

export function residentCreatedAt(secret: ResidentSecret): number {
  return secret[CREATED_AT] as number;
}

export function residentLastChangedAt(secret: ResidentSecret): number {
  return secret[LAST_CHANGED_AT] as number;
}

export function residentVersionCount(secret: ResidentSecret): number {
  return (secret.length - HEAD_SLOTS) / VERSION_SLOTS;
}

const versionAt = (index: number): number => HEAD_SLOTS + index * VERSION_SLOTS;

export function residentVersionId(secret: ResidentSecret, index: number): string {
  return secret[versionAt(index) + V_ID] as string;
}

/** The version's labels: a frozen array shared with other versions (copy it before handing it out). */
export function residentLabels(secret: ResidentSecret, index: number): readonly string[] {
  return secret[versionAt(index) + V_LABELS] as readonly string[];
}

export function residentVersionCreatedAt(secret: ResidentSecret, index: number): number {
  return secret[versionAt(index) + V_CREATED_AT] as number;
}

/**
 * The version's payload. A rotation payload is a new plain object (fields in the file's order);
 * any other payload is the frozen one held, shared: copy it before handing it out.
 */
export function residentValue(secret: ResidentSecret, index: number): SecretPayload {
  const at = versionAt(index);
  const password = secret[at + V_PASSWORD];
  if (password === undefined) return secret[at + V_SHARED] as SecretPayload;
  const shared = secret[at + V_SHARED] as SharedPayload;
  return {
    username: shared.username,
    password,
    serverId: secret[SERVER_ID],
    serverName: secret[at + V_SERVER_NAME],
    osType: shared.osType,
    region: shared.region,
    projectId: shared.projectId,
    runId: shared.runId,
    createdAt: shared.createdAt,
    activation: shared.activation,
  } as SecretPayload;
}

/** Whether {@link residentValue} of this version is a new object (else the shared frozen payload). */
export function residentValueIsCopy(secret: ResidentSecret, index: number): boolean {
  return secret[versionAt(index) + V_PASSWORD] !== undefined;
}

/**
 * The secret in its file form: a private, mutable copy for operations to change (own secret, key,
 * version objects and label arrays). Payloads are frozen (operations never change them; putPending
 * stores a new one).
 */
export function draftOf(secret: ResidentSecret): StoredSecret {
  const versions: StoredVersion[] = [];
  const count = residentVersionCount(secret);
  for (let i = 0; i < count; i += 1) {
    versions.push({
      versionId: residentVersionId(secret, i),
      value: Object.freeze(residentValue(secret, i)),
      labels: [...residentLabels(secret, i)],
      createdAt: residentVersionCreatedAt(secret, i),
    });
  }
  return {
    name: residentName(secret),
    key: residentKey(secret),
    createdAt: residentCreatedAt(secret),
    lastChangedAt: residentLastChangedAt(secret),
    versions,
  };
}
