/**
 * The decrypted content of the vault file and the pure operations on it, with the label semantics
 * of AWS Secrets Manager (see src/ports/vault.ts). No I/O here: file-vault.ts reads the document
 * under the lock, applies one or more of these operations and writes it back.
 *
 * Every operation validates everything it needs BEFORE its first mutation, so that a rejected
 * operation leaves the document untouched; file-vault.ts relies on this to apply several queued
 * operations to one document and commit them in a single write.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  LABEL_CURRENT,
  LABEL_PENDING,
  LABEL_PREVIOUS,
  type SecretDescription,
  type SecretKey,
  type SecretPayload,
  type SecretVersion,
  type VersionSelector,
} from '../../ports/vault.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { vaultError } from './vault-errors.js';
import {
  draftOf,
  residentKey,
  residentCreatedAt,
  residentLabels,
  residentLastChangedAt,
  residentName,
  residentSecret,
  residentValue,
  residentValueIsCopy,
  residentVersionCount,
  residentVersionCreatedAt,
  residentVersionId,
  StringPool,
  type ResidentSecret,
  type StoredSecret,
  type StoredVersion,
} from './stored-secret.js';

export type { ResidentSecret, StoredSecret } from './stored-secret.js';

export const DOCUMENT_FORMAT = 1;

/**
 * The vault in memory. The file holds `{"format": 1, "secrets": {<name>: StoredSecret}}`; in memory
 * the secrets are a Map (100k names as object keys would each be internalised, a second copy) of
 * resident secrets (stored-secret.ts): operations run on drafts ({@link DraftDocument}) and
 * {@link installSecret} puts the result back.
 */
export interface VaultDocument {
  format: typeof DOCUMENT_FORMAT;
  secrets: Map<string, ResidentSecret>;
  /** Shares the strings that repeat across secrets (stored-secret.ts). */
  readonly pool: StringPool;
}

/** Private, mutable copies of some secrets of a {@link VaultDocument}, for operations to change. */
export interface DraftDocument {
  secrets: Map<string, StoredSecret>;
  /**
   * The version objects copied from the document, with their index in its secret: a version is
   * never changed but for its labels, so a journal record names these rather than repeating them
   * ({@link journalChangePieces}), and {@link installDraft} reuses their resident form. A version an
   * operation adds is a new object, even under the id of one pruned meanwhile.
   */
  readonly copied: Map<StoredVersion, number>;
}

/**
 * Unlabelled versions kept per secret (newest first) before older ones are dropped, as AWS
 * deprecates them. A version without a label can no longer be in effect anywhere (invariant 1:
 * the rotation keeps ROTATOR_ACTIVE on the one a server may still use), so this bound only limits
 * the file's growth and how far back token replays are recognised.
 */
export const UNLABELLED_VERSIONS_KEPT = 5;

/** AWS accepts ClientRequestTokens of 32 to 64 characters; we accept the same (printable ASCII). */
const TOKEN_PATTERN = /^[\x21-\x7e]{32,64}$/;
const LABEL_PATTERN = /^[A-Za-z0-9_.\-]{1,256}$/;

export function emptyDocument(): VaultDocument {
  return { format: DOCUMENT_FORMAT, secrets: new Map(), pool: new StringPool() };
}

/** A document holding private copies of `names` (those of them that exist in `doc`), for operations to change. */
export function draftDocument(doc: VaultDocument, names: Iterable<string>): DraftDocument {
  const draft: DraftDocument = { secrets: new Map(), copied: new Map() };
  for (const name of names) {
    const secret = doc.secrets.get(name);
    if (secret === undefined || draft.secrets.has(name)) continue;
    const copy = draftOf(secret);
    draft.secrets.set(name, copy);
    copy.versions.forEach((version, index) => draft.copied.set(version, index));
  }
  return draft;
}

/** Puts `secret` (a secret read from the file or a journal) into `doc` in its resident form. */
export function installSecret(doc: VaultDocument, secret: StoredSecret): void {
  doc.secrets.set(secret.name, residentSecret(secret, doc.pool));
}

/**
 * Puts `secret`, a changed secret of `draft` (made from `doc`, which has not changed since), into
 * `doc`: the versions the draft copied keep their resident form but for their labels.
 */
export function installDraft(doc: VaultDocument, draft: DraftDocument, secret: StoredSecret): void {
  const before = doc.secrets.get(secret.name);
  doc.secrets.set(secret.name, residentSecret(secret, doc.pool, before === undefined ? undefined : { before, copied: draft.copied }));
}

export function secretName(key: SecretKey): string {
  return `ecs/${key.region}/${key.projectId}/${key.serverId}`;
}

/**
 * The name of a key already validated, by key object: a batch hands the same key objects to every
 * vault call of a server (about eight lookups per server and run), and building, flattening and
 * hashing the name each time was a visible share of a commit. The fields are compared on every
 * use, so a key object changed since is validated and named afresh.
 */
const validatedNames = new WeakMap<SecretKey, { region: string; projectId: string; serverId: string; name: string }>();

/** The key's secret name; throws `VAULT_INVALID_REQUEST` on a malformed key. */
export function validName(key: SecretKey): string {
  const known = validatedNames.get(key);
  if (known !== undefined && known.region === key.region && known.projectId === key.projectId && known.serverId === key.serverId) return known.name;
  validateKey(key);
  const name = secretName(key);
  validatedNames.set(key, { region: key.region, projectId: key.projectId, serverId: key.serverId, name });
  return name;
}

function validateKey(key: SecretKey): void {
  for (const field of ['region', 'projectId', 'serverId'] as const) {
    const value = key[field];
    if (typeof value !== 'string' || value.length === 0 || value.includes('/')) {
      throw vaultError(
        VaultErrorCode.invalidRequest,
        `file vault: secret key field "${field}" must be a non-empty string without "/"`,
      );
    }
  }
}

function validateLabel(label: string): void {
  if (typeof label !== 'string' || !LABEL_PATTERN.test(label)) {
    throw vaultError(
      VaultErrorCode.invalidRequest,
      `file vault: label must be 1-256 characters of letters, digits, "_", "." or "-", found ${JSON.stringify(String(label)).slice(0, 80)}`,
    );
  }
}

function findSecret(doc: DraftDocument, key: SecretKey): StoredSecret | undefined {
  return doc.secrets.get(validName(key));
}

function findResident(doc: VaultDocument, key: SecretKey): ResidentSecret | undefined {
  return doc.secrets.get(validName(key));
}

function requireSecret(doc: DraftDocument, key: SecretKey): StoredSecret {
  const secret = findSecret(doc, key);
  if (secret === undefined) {
    throw vaultError(VaultErrorCode.secretNotFound, `file vault: secret ${secretName(key)} does not exist`);
  }
  return secret;
}

function holderOf(secret: StoredSecret, label: string): StoredVersion | undefined {
  return secret.versions.find((v) => v.labels.includes(label));
}

function detach(version: StoredVersion | undefined, label: string): void {
  if (version !== undefined) version.labels = version.labels.filter((l) => l !== label);
}

/** Moves `label` onto `target`, off whichever version held it (a label is on at most one version). */
function attach(secret: StoredSecret, label: string, target: StoredVersion): void {
  const holder = holderOf(secret, label);
  if (holder === target) return;
  detach(holder, label);
  target.labels.push(label);
}

function prune(secret: StoredSecret): void {
  let unlabelledSeen = 0;
  const keep = new Set<StoredVersion>();
  for (let i = secret.versions.length - 1; i >= 0; i -= 1) {
    const version = secret.versions[i]!;
    if (version.labels.length > 0) keep.add(version);
    else if (unlabelledSeen++ < UNLABELLED_VERSIONS_KEPT) keep.add(version);
  }
  secret.versions = secret.versions.filter((v) => keep.has(v));
}

/** Returns true when the document changed. */
export function ensureSecret(doc: DraftDocument, key: SecretKey, now: number): boolean {
  if (findSecret(doc, key) !== undefined) return false;
  const name = validName(key);
  doc.secrets.set(name, {
    name,
    key: { region: key.region, projectId: key.projectId, serverId: key.serverId },
    createdAt: now,
    lastChangedAt: now,
    versions: [],
  });
  return true;
}

/**
 * Stores a new version with AWSPENDING and `alsoLabels` (custom labels, each moved off any other
 * version, as AWS's PutSecretValue VersionStages). `stored` receives the labels the version holds
 * afterwards (also on a replay, which changes nothing).
 */
export function putPending(
  doc: DraftDocument,
  key: SecretKey,
  token: string,
  value: SecretPayload,
  now: number,
  alsoLabels: readonly string[] = [],
  stored?: (labels: string[]) => void,
): boolean {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw vaultError(
      VaultErrorCode.invalidRequest,
      'file vault: the version token must be 32 to 64 printable ASCII characters without spaces',
    );
  }
  for (const label of alsoLabels) {
    validateLabel(label);
    if (label === LABEL_CURRENT || label === LABEL_PREVIOUS || label === LABEL_PENDING) {
      throw vaultError(VaultErrorCode.invalidRequest, `file vault: putPending takes custom labels only, not ${label}`);
    }
  }
  const secret = requireSecret(doc, key);
  const existing = secret.versions.find((v) => v.versionId === token);
  if (existing !== undefined) {
    // A replay after a crash sends the same token with the same value: harmless. Another value
    // under the same token means two different passwords were generated for one batch: a bug
    // that must stop the batch rather than silently overwrite a password that may be in effect.
    if (isDeepStrictEqual(normalise(existing.value), normalise(value))) {
      stored?.([...existing.labels]);
      return false;
    }
    throw vaultError(
      VaultErrorCode.tokenReused,
      `file vault: version ${token} of ${secret.name} already exists with another value`,
    );
  }
  const version: StoredVersion = { versionId: token, value: normalise(value), labels: [], createdAt: now };
  secret.versions.push(version);
  attach(secret, LABEL_PENDING, version);
  for (const label of alsoLabels) attach(secret, label, version);
  secret.lastChangedAt = now;
  prune(secret);
  stored?.([...version.labels]);
  return true;
}

export function promote(
  doc: DraftDocument,
  key: SecretKey,
  versionId: string,
  expectedCurrent: string | undefined,
  now: number,
): boolean {
  const secret = requireSecret(doc, key);
  const target = secret.versions.find((v) => v.versionId === versionId);
  if (target === undefined) {
    throw vaultError(VaultErrorCode.versionNotFound, `file vault: version ${versionId} of ${secret.name} does not exist`);
  }
  const current = holderOf(secret, LABEL_CURRENT);
  if (current !== target) {
    if (current?.versionId !== expectedCurrent) {
      throw vaultError(
        VaultErrorCode.currentChanged,
        `file vault: ${LABEL_CURRENT} of ${secret.name} is on ${current?.versionId ?? 'no version'}, expected ${expectedCurrent ?? 'no version'}`,
      );
    }
    attach(secret, LABEL_CURRENT, target);
    if (current !== undefined) attach(secret, LABEL_PREVIOUS, current);
  }
  // AWSPENDING stays: on AWSCURRENT's version it reads as settled (src/rotation/labels.ts).
  if (current === target) return false;
  secret.lastChangedAt = now;
  prune(secret);
  return true;
}

export function removeLabel(doc: DraftDocument, key: SecretKey, label: string, versionId: string, now: number): boolean {
  validateLabel(label);
  if (label === LABEL_CURRENT) {
    // As in AWS: AWSCURRENT can only move (promote), never vanish, or the password in effect
    // would lose its last label.
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: ${LABEL_CURRENT} cannot be removed, only moved by promote`);
  }
  const secret = requireSecret(doc, key);
  const version = secret.versions.find((v) => v.versionId === versionId);
  if (version === undefined || !version.labels.includes(label)) return false;
  detach(version, label);
  secret.lastChangedAt = now;
  prune(secret);
  return true;
}

export function moveLabel(doc: DraftDocument, key: SecretKey, label: string, versionId: string, now: number): boolean {
  validateLabel(label);
  if (label === LABEL_CURRENT) {
    throw vaultError(VaultErrorCode.invalidRequest, `file vault: ${LABEL_CURRENT} moves only through promote (compare-and-swap)`);
  }
  const secret = requireSecret(doc, key);
  const version = secret.versions.find((v) => v.versionId === versionId);
  if (version === undefined) {
    throw vaultError(VaultErrorCode.versionNotFound, `file vault: version ${versionId} of ${secret.name} does not exist`);
  }
  if (version.labels.includes(label)) return false;
  attach(secret, label, version);
  secret.lastChangedAt = now;
  prune(secret);
  return true;
}

export function getVersion(doc: VaultDocument, key: SecretKey, selector: VersionSelector): SecretVersion | undefined {
  const secret = findResident(doc, key);
  if (secret === undefined) return undefined;
  const count = residentVersionCount(secret);
  let index = 0;
  if ('label' in selector) {
    while (index < count && !residentLabels(secret, index).includes(selector.label)) index += 1;
  } else {
    while (index < count && residentVersionId(secret, index) !== selector.versionId) index += 1;
  }
  if (index === count) return undefined;
  return {
    versionId: residentVersionId(secret, index),
    labels: [...residentLabels(secret, index)],
    createdAt: residentVersionCreatedAt(secret, index),
    // The caller's own copy: a rotation payload is decoded into a new object, any other one is cloned.
    value: residentValueIsCopy(secret, index) ? residentValue(secret, index) : structuredClone(residentValue(secret, index)),
  };
}

export function describeSecret(secret: ResidentSecret): SecretDescription {
  const versions: SecretDescription['versions'] = [];
  const count = residentVersionCount(secret);
  for (let i = 0; i < count; i += 1) {
    const labels = residentLabels(secret, i);
    if (labels.length > 0) versions.push({ versionId: residentVersionId(secret, i), labels: [...labels], createdAt: residentVersionCreatedAt(secret, i) });
  }
  return { name: residentName(secret), key: residentKey(secret), versions, lastChangedAt: residentLastChangedAt(secret) };
}

export function hasSecret(doc: VaultDocument, key: SecretKey): boolean {
  return findResident(doc, key) !== undefined;
}

export function describe(doc: VaultDocument, key: SecretKey): SecretDescription | undefined {
  const secret = findResident(doc, key);
  return secret === undefined ? undefined : describeSecret(secret);
}

/** A resident secret in its file form (a new, plain object). */
export function plainSecret(secret: ResidentSecret): StoredSecret {
  return draftOf(secret);
}

/**
 * A plain JSON copy: what will be read back from the file is exactly what is compared and stored.
 * A plain object of strings (the payload the rotation writes) is copied field by field, which is
 * what the JSON round trip gives for it; anything else takes the round trip.
 */
function normalise(value: SecretPayload): SecretPayload {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    const source = value as unknown as Record<string, unknown>;
    const copy: Record<string, string> = {};
    let strings = true;
    for (const key of Object.keys(source)) {
      const field = source[key];
      // `__proto__` would set the copy's prototype rather than a field.
      if (typeof field !== 'string' || key === '__proto__') {
        strings = false;
        break;
      }
      copy[key] = field;
    }
    if (strings) return copy as unknown as SecretPayload;
  }
  return JSON.parse(JSON.stringify(value)) as SecretPayload;
}

/**
 * A journal record of format 1 (earlier releases): the whole new state of each secret a group
 * commit changed, as `JSON.stringify({ secrets })` gives. Read, never written, by this release; the
 * tests write it to stand for an earlier release's journal.
 */
export function* journalRecordPieces(secrets: readonly StoredSecret[], perPiece = 32): Generator<string> {
  let piece = '{"secrets":[';
  for (let i = 0; i < secrets.length; i += 1) {
    piece += `${i === 0 ? '' : ','}${JSON.stringify(secrets[i])}`;
    if ((i + 1) % perPiece === 0) {
      yield piece;
      piece = '';
    }
  }
  yield `${piece}]}`;
}

/**
 * A journal record of format 2: what a group commit changed, `{"changes":[change, …]}`, one change per
 * secret, in pieces of `perPiece` changes (a batch's record as one string of a megabyte or more would
 * go straight into V8's old generation; pieces die young). A change states the secret's new state:
 * `{"n": name, "l": lastChangedAt, "v": [version, …]}`, its versions in order, each either
 * `[versionId, labels]` (a version `doc` holds for that secret, which keeps its payload and creation
 * time: only labels ever change on a version) or the whole new version; a secret `doc` does not hold
 * also carries its key (`"k"`) and creation time (`"c"`). A promotion is then a few labels, not the
 * secret's passwords again: the state of a secret with a few versions was several KB per write.
 *
 * `doc` is the document before the commit and `draft` the commit's draft of it (`secrets` are its
 * changed secrets): only the versions the draft copied from `doc` are named by reference.
 */
export function* journalChangePieces(doc: VaultDocument, draft: DraftDocument, secrets: readonly StoredSecret[], perPiece = 64): Generator<string> {
  // One JSON.stringify per piece, of plain objects: a third faster than building the text change by
  // change. A draft's versions and keys are exactly {versionId, value, labels, createdAt} and
  // {region, projectId, serverId} (putPending, ensureSecret and draftOf make them so).
  let first = true;
  for (let start = 0; start < secrets.length; start += perPiece) {
    const changes: object[] = [];
    for (let i = start; i < Math.min(secrets.length, start + perPiece); i += 1) {
      const secret = secrets[i]!;
      const known = doc.secrets.has(secret.name);
      const versions = secret.versions.map((version) => (known && draft.copied.has(version) ? [version.versionId, version.labels] : version));
      changes.push(
        known
          ? { n: secret.name, l: secret.lastChangedAt, v: versions }
          : { n: secret.name, k: secret.key, c: secret.createdAt, l: secret.lastChangedAt, v: versions },
      );
    }
    yield first ? '{"changes":[' : ',';
    // A slice of the text, not a concatenation with it: the cipher reads a slice in place, where a
    // concatenation would first be copied whole.
    yield JSON.stringify(changes).slice(1, -1);
    first = false;
  }
  yield first ? '{"changes":[]}' : ']}';
}

const malformedRecord = (source: string, what: string) =>
  vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: a record of journal ${source} ${what}`);

/**
 * Replays a decrypted journal record of format `version` onto `doc`. Each record states the new
 * state of the secrets it changed, so a replay is harmless; a change naming a secret or version the
 * document does not hold is corruption (records are applied in order, none skipped).
 */
export function applyJournalRecord(doc: VaultDocument, json: string, source: string, version: number): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw malformedRecord(source, 'decrypted but does not hold JSON');
  }
  if (version === 1) {
    const secrets = (parsed as { secrets?: unknown } | null)?.secrets;
    if (!Array.isArray(secrets)) throw malformedRecord(source, 'is malformed');
    for (const secret of secrets as StoredSecret[]) {
      if (secret === null || typeof secret !== 'object' || typeof secret.name !== 'string' || !Array.isArray(secret.versions)) {
        throw malformedRecord(source, 'holds a malformed secret');
      }
    }
    for (const secret of secrets as StoredSecret[]) installSecret(doc, secret);
    return;
  }
  const changes = (parsed as { changes?: unknown } | null)?.changes;
  if (!Array.isArray(changes)) throw malformedRecord(source, 'is malformed');
  // Every change is checked and built before the first is installed: a bad record changes nothing.
  const built = changes.map((change) => changedSecret(doc, change, source));
  for (const { secret, from } of built) doc.secrets.set(secret.name, residentSecret(secret, doc.pool, from));
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * The new state a format 2 change gives its secret (see {@link journalChangePieces}), and where the
 * versions it names by id sit in the secret as the vault holds it: they keep their resident form
 * (only their labels change), as a commit installs its draft, rather than being decoded and
 * encoded again. Replay at start-up is mostly such versions (a promote names the versions it
 * relabels), so this is most of its cost.
 */
function changedSecret(
  doc: VaultDocument,
  change: unknown,
  source: string,
): { secret: StoredSecret; from: { before: ResidentSecret; copied: Map<StoredVersion, number> } | undefined } {
  const c = change as { n?: unknown; k?: unknown; c?: unknown; l?: unknown; v?: unknown } | null;
  if (c === null || typeof c !== 'object' || typeof c.n !== 'string' || typeof c.l !== 'number' || !Array.isArray(c.v)) {
    throw malformedRecord(source, 'holds a malformed change');
  }
  const before = doc.secrets.get(c.n);
  let key: SecretKey;
  let createdAt: number;
  if (before !== undefined) {
    key = residentKey(before);
    createdAt = residentCreatedAt(before);
  } else {
    const k = c.k as Partial<SecretKey> | null | undefined;
    if (k === null || typeof k !== 'object' || typeof k.region !== 'string' || typeof k.projectId !== 'string' || typeof k.serverId !== 'string' || typeof c.c !== 'number') {
      throw malformedRecord(source, `changes secret ${c.n}, which the vault does not hold`);
    }
    key = { region: k.region, projectId: k.projectId, serverId: k.serverId };
    createdAt = c.c;
  }
  const versions: StoredVersion[] = [];
  const copied = new Map<StoredVersion, number>();
  for (const item of c.v as unknown[]) {
    if (Array.isArray(item)) {
      const [versionId, labels] = item as unknown[];
      if (typeof versionId !== 'string' || !isStringArray(labels) || before === undefined) throw malformedRecord(source, `holds a malformed version of ${c.n}`);
      const count = residentVersionCount(before);
      let index = 0;
      while (index < count && residentVersionId(before, index) !== versionId) index += 1;
      if (index === count) throw malformedRecord(source, `names version ${versionId} of ${c.n}, which the vault does not hold`);
      // Its value is not decoded: `residentSecret` takes the version's slots from `before` (`copied`).
      const version: StoredVersion = { versionId, value: COPIED_VALUE, labels, createdAt: residentVersionCreatedAt(before, index) };
      copied.set(version, index);
      versions.push(version);
    } else {
      const v = item as Partial<StoredVersion> | null;
      if (v === null || typeof v !== 'object' || typeof v.versionId !== 'string' || !isStringArray(v.labels) || typeof v.createdAt !== 'number' || v.value === null || typeof v.value !== 'object') {
        throw malformedRecord(source, `holds a malformed version of ${c.n}`);
      }
      versions.push({ versionId: v.versionId, value: v.value, labels: v.labels, createdAt: v.createdAt });
    }
  }
  return { secret: { name: c.n, key, createdAt, lastChangedAt: c.l, versions }, from: before === undefined ? undefined : { before, copied } };
}

/**
 * The value of a replayed version named by id, which is never read: its resident slots are copied.
 * Frozen and empty, so a mistaken read shows as a payload without fields rather than a wrong password.
 */
const COPIED_VALUE = Object.freeze({}) as unknown as SecretPayload;

/**
 * Checks the shape of a decrypted document. Decryption already proved the bytes are ours; this
 * catches a document written by an incompatible future format.
 */
export function parseDocument(json: string, source: string): VaultDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${source} decrypted but does not hold JSON`);
  }
  const file = parsed as { format?: unknown; secrets?: unknown } | null;
  if (file === null || typeof file !== 'object' || file.format !== DOCUMENT_FORMAT || typeof file.secrets !== 'object' || file.secrets === null) {
    throw vaultError(
      VaultErrorCode.wrongKeyOrCorrupt,
      `file vault: ${source} holds document format ${JSON.stringify(file?.format)}, expected ${DOCUMENT_FORMAT}`,
    );
  }
  const secrets = file.secrets as Record<string, StoredSecret | null>;
  for (const name of Object.keys(secrets)) {
    const secret = secrets[name];
    if (secret === null || typeof secret !== 'object' || !Array.isArray(secret.versions) || secret.name !== name) {
      throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${source}: secret ${name} is malformed`);
    }
  }
  const doc = emptyDocument();
  for (const name of Object.keys(secrets)) {
    installSecret(doc, secrets[name]!);
    secrets[name] = null; // the parsed copy can go as soon as its resident form exists
  }
  return doc;
}

const notJson = (source: string) => vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${source} decrypted but does not hold JSON`);

/** Validates one secret of a snapshot and installs it; throws `VAULT_WRONG_KEY_OR_CORRUPT` on a malformed one. */
function installParsed(doc: VaultDocument, name: string, secret: StoredSecret | null, source: string): void {
  if (secret === null || typeof secret !== 'object' || !Array.isArray(secret.versions) || secret.name !== name) {
    throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${source}: secret ${name} is malformed`);
  }
  installSecret(doc, secret);
}

const SNAPSHOT_PREFIX = Buffer.from(`{"format":${DOCUMENT_FORMAT},"secrets":{`, 'utf8');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * Reads a snapshot's text in pieces and builds the document one secret at a time: reading a
 * 100k-server vault whole (its text, then every secret as parsed JSON objects, then their resident
 * form) took 575 MB at start-up. The file as this service writes it (`{"format":1,"secrets":{…}}`,
 * no white space: JSON.stringify or {@link serializeDocument}) is split between secrets by a scan
 * that tracks strings and nesting, and each secret is parsed alone; any other text is read whole by
 * {@link parseDocument}, with the same checks either way.
 */
export class SnapshotReader {
  readonly #source: string;
  readonly #doc = emptyDocument();
  /** Bytes not consumed yet: the start of an unfinished secret (or of the text). */
  #carry: Buffer = Buffer.alloc(0);
  /** prefix: before `{"format":1,"secrets":{`; secrets: between secrets; closing: after the secrets' `}`; done: after the document's `}`; whole: another form. */
  #state: 'prefix' | 'secrets' | 'closing' | 'done' | 'whole' = 'prefix';
  /** Whether a secret was read: the next one is preceded by a comma. */
  #afterSecret = false;
  /** The whole text, when it is not in the form this reader splits. */
  #whole: Buffer[] = [];

  constructor(source: string) {
    this.#source = source;
  }

  push(piece: Buffer): void {
    if (this.#state === 'whole') {
      this.#whole.push(piece);
      return;
    }
    let data = this.#carry.length > 0 ? Buffer.concat([this.#carry, piece]) : piece;
    if (this.#state === 'prefix') {
      if (data.length < SNAPSHOT_PREFIX.length) {
        this.#carry = Buffer.from(data);
        return;
      }
      if (!data.subarray(0, SNAPSHOT_PREFIX.length).equals(SNAPSHOT_PREFIX)) {
        this.#state = 'whole';
        this.#whole.push(data);
        this.#carry = Buffer.alloc(0);
        return;
      }
      data = data.subarray(SNAPSHOT_PREFIX.length);
      this.#state = 'secrets';
    }
    const consumed = this.#scan(data);
    // A copy: the piece itself (a MB or so) must not stay referenced by a small unfinished tail.
    this.#carry = Buffer.from(data.subarray(consumed));
  }

  /** Parses every complete secret in `data` (which starts between two secrets); returns how many bytes it consumed. */
  #scan(data: Buffer): number {
    let at = 0;
    while (at < data.length) {
      if (this.#state !== 'secrets') {
        // After the secrets' closing brace, only the document's own closing brace, and nothing after it.
        if (this.#state !== 'closing' || data[at] !== 0x7d) throw notJson(this.#source);
        this.#state = 'done';
        at += 1;
        continue;
      }
      let start = at;
      if (data[start] === 0x7d) {
        this.#state = 'closing';
        at = start + 1;
        continue;
      }
      if (this.#afterSecret) {
        if (data[start] !== COMMA) throw notJson(this.#source);
        start += 1;
        if (start >= data.length) return at;
      }
      if (data[start] !== QUOTE) throw notJson(this.#source);
      const end = secretEnd(data, start);
      if (end === undefined) return at; // unfinished: wait for the next piece
      let entry: Record<string, StoredSecret | null>;
      try {
        entry = JSON.parse(`{${data.toString('utf8', start, end)}}`) as Record<string, StoredSecret | null>;
      } catch {
        throw notJson(this.#source);
      }
      const names = Object.keys(entry);
      if (names.length !== 1) throw notJson(this.#source);
      installParsed(this.#doc, names[0]!, entry[names[0]!]!, this.#source);
      this.#afterSecret = true;
      at = end;
    }
    return at;
  }

  /** The document, once every piece was pushed (and authenticated). */
  end(): VaultDocument {
    if (this.#state === 'whole') return parseDocument(Buffer.concat(this.#whole).toString('utf8'), this.#source);
    if (this.#state === 'prefix') return parseDocument(this.#carry.toString('utf8'), this.#source);
    if (this.#state !== 'done' || this.#carry.length > 0) throw notJson(this.#source);
    return this.#doc;
  }
}

/**
 * Where the entry `"name":{…}` starting at `start` (its opening quote) ends (exclusive), or
 * undefined when `data` ends first. Tracks strings (with escapes) and nesting; the bytes of a
 * multi-byte UTF-8 character never equal a quote, backslash or bracket, so bytes suffice.
 */
function secretEnd(data: Buffer, start: number): number | undefined {
  let depth = 0;
  let at = start;
  while (at < data.length) {
    const byte = data[at]!;
    if (byte === QUOTE) {
      // Skip the string: find its closing quote, one not escaped by an odd run of backslashes.
      let close = at + 1;
      for (;;) {
        close = data.indexOf(QUOTE, close);
        if (close === -1) return undefined;
        let backslashes = 0;
        while (data[close - 1 - backslashes] === BACKSLASH) backslashes += 1;
        if (backslashes % 2 === 0) break;
        close += 1;
      }
      at = close + 1;
      continue;
    }
    if (byte === 0x7b || byte === 0x5b) depth += 1;
    else if (byte === 0x7d || byte === 0x5d) {
      depth -= 1;
      if (depth === 0) return at + 1;
      if (depth < 0) return at; // malformed: the caller's parse reports it
    }
    at += 1;
  }
  return undefined;
}

/**
 * The document as the file holds it (`{"format":1,"secrets":{…}}`), in pieces of `perPiece` secrets:
 * sealed and written piece by piece, a compaction never holds the whole text of a large vault. A
 * piece stays well under 128 KB (a secret with two versions is about 1.1 KB of text): a larger string
 * goes straight into V8's old generation and stays there until a full collection (pieces of 500
 * secrets made each compaction of a 100k vault about 100 MB of old-generation garbage).
 */
export function* serializeDocument(doc: VaultDocument, perPiece = 48): Generator<string> {
  let piece = `{"format":${DOCUMENT_FORMAT},"secrets":{`;
  let inPiece = 0;
  let first = true;
  for (const [name, secret] of doc.secrets) {
    piece += `${first ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(draftOf(secret))}`;
    first = false;
    if (++inPiece >= perPiece) {
      yield piece;
      piece = '';
      inPiece = 0;
    }
  }
  yield `${piece}}}`;
}
