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

export const DOCUMENT_FORMAT = 1;

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

export interface VaultDocument {
  format: typeof DOCUMENT_FORMAT;
  secrets: Record<string, StoredSecret>;
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
  return { format: DOCUMENT_FORMAT, secrets: {} };
}

export function secretName(key: SecretKey): string {
  return `ecs/${key.region}/${key.projectId}/${key.serverId}`;
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

function findSecret(doc: VaultDocument, key: SecretKey): StoredSecret | undefined {
  validateKey(key);
  return Object.hasOwn(doc.secrets, secretName(key)) ? doc.secrets[secretName(key)] : undefined;
}

function requireSecret(doc: VaultDocument, key: SecretKey): StoredSecret {
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
export function ensureSecret(doc: VaultDocument, key: SecretKey, now: number): boolean {
  if (findSecret(doc, key) !== undefined) return false;
  const name = secretName(key);
  doc.secrets[name] = {
    name,
    key: { region: key.region, projectId: key.projectId, serverId: key.serverId },
    createdAt: now,
    lastChangedAt: now,
    versions: [],
  };
  return true;
}

/**
 * Stores a new version with AWSPENDING and `alsoLabels` (custom labels, each moved off any other
 * version, as AWS's PutSecretValue VersionStages). `stored` receives the labels the version holds
 * afterwards (also on a replay, which changes nothing).
 */
export function putPending(
  doc: VaultDocument,
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
  doc: VaultDocument,
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

export function removeLabel(doc: VaultDocument, key: SecretKey, label: string, versionId: string, now: number): boolean {
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

export function moveLabel(doc: VaultDocument, key: SecretKey, label: string, versionId: string, now: number): boolean {
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
  const secret = findSecret(doc, key);
  if (secret === undefined) return undefined;
  const version =
    'label' in selector
      ? holderOf(secret, selector.label)
      : secret.versions.find((v) => v.versionId === selector.versionId);
  if (version === undefined) return undefined;
  return {
    versionId: version.versionId,
    labels: [...version.labels],
    createdAt: version.createdAt,
    value: structuredClone(version.value),
  };
}

export function describeSecret(secret: StoredSecret): SecretDescription {
  return {
    name: secret.name,
    key: { ...secret.key },
    versions: secret.versions
      .filter((v) => v.labels.length > 0)
      .map((v) => ({ versionId: v.versionId, labels: [...v.labels], createdAt: v.createdAt })),
    lastChangedAt: secret.lastChangedAt,
  };
}

export function describe(doc: VaultDocument, key: SecretKey): SecretDescription | undefined {
  const secret = findSecret(doc, key);
  return secret === undefined ? undefined : describeSecret(secret);
}

/** A plain JSON copy: what will be read back from the file is exactly what is compared and stored. */
function normalise(value: SecretPayload): SecretPayload {
  return JSON.parse(JSON.stringify(value)) as SecretPayload;
}

/** A journal record: the whole new state of each secret a group commit changed. */
export function journalRecord(secrets: readonly StoredSecret[]): string {
  return JSON.stringify({ secrets });
}

/** Replays a decrypted journal record onto `doc` (each secret overwritten whole: a replay is harmless). */
export function applyJournalRecord(doc: VaultDocument, json: string, source: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: a record of journal ${source} decrypted but does not hold JSON`);
  }
  const secrets = (parsed as { secrets?: unknown } | null)?.secrets;
  if (!Array.isArray(secrets)) throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: a record of journal ${source} is malformed`);
  for (const secret of secrets as StoredSecret[]) {
    if (secret === null || typeof secret !== 'object' || typeof secret.name !== 'string' || !Array.isArray(secret.versions)) {
      throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: a record of journal ${source} holds a malformed secret`);
    }
  }
  for (const secret of secrets as StoredSecret[]) doc.secrets[secret.name] = secret;
}

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
  const doc = parsed as Partial<VaultDocument> | null;
  if (doc === null || typeof doc !== 'object' || doc.format !== DOCUMENT_FORMAT || typeof doc.secrets !== 'object' || doc.secrets === null) {
    throw vaultError(
      VaultErrorCode.wrongKeyOrCorrupt,
      `file vault: ${source} holds document format ${JSON.stringify((doc as { format?: unknown } | null)?.format)}, expected ${DOCUMENT_FORMAT}`,
    );
  }
  for (const [name, secret] of Object.entries(doc.secrets)) {
    if (secret === null || typeof secret !== 'object' || !Array.isArray(secret.versions) || secret.name !== name) {
      throw vaultError(VaultErrorCode.wrongKeyOrCorrupt, `file vault: ${source}: secret ${name} is malformed`);
    }
  }
  return doc as VaultDocument;
}
