import type { OsType } from '../domain/server.js';

/**
 * The vault port: where "never lose a password" is kept. Modelled on AWS Secrets Manager's
 * staging labels so that the rotation steps are written once for every implementation
 * (AWS Secrets Manager adapter, encrypted file vault).
 *
 * One secret per server. A secret has versions; a version has an immutable value and zero or more
 * labels; a label is on at most one version of a secret at a time.
 */

/** The version in effect as far as the vault knows: the password of the last accepted reset. */
export const LABEL_CURRENT = 'AWSCURRENT';
/** A version stored before the reset call, whose outcome is not settled yet. */
export const LABEL_PENDING = 'AWSPENDING';
/** The version AWSCURRENT left when it last moved (maintained by `promote`). */
export const LABEL_PREVIOUS = 'AWSPREVIOUS';
/**
 * Custom label: the last password known to be in effect on the server itself. With restart policy
 * `none` an accepted password only takes effect at the next restart, so the one that logs in now
 * must stay labelled even after further rotations move AWSCURRENT and AWSPREVIOUS on.
 */
export const LABEL_ACTIVE = 'ROTATOR_ACTIVE';

/** Identifies a server's secret; the implementation derives the secret name from it (a template). */
export interface SecretKey {
  region: string;
  projectId: string;
  serverId: string;
}

/** The JSON value of one version. `password` is the only secret field. */
export interface SecretPayload {
  username: 'root' | 'Administrator';
  password: string;
  serverId: string;
  serverName: string;
  osType: OsType;
  region: string;
  projectId: string;
  /** The run that generated it. */
  runId: string;
  /** ISO-8601. */
  createdAt: string;
  /** When the server starts using it: right after the reset's reboot, or at its next restart. */
  activation: 'after-reboot' | 'next-restart';
}

export interface SecretVersionInfo {
  versionId: string;
  labels: string[];
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export interface SecretVersion extends SecretVersionInfo {
  value: SecretPayload;
}

export interface SecretDescription {
  /** The secret's name in the vault (from the name template). */
  name: string;
  key: SecretKey;
  /** Versions that carry at least one label (unlabelled ones may be pruned, as AWS deprecates them). */
  versions: SecretVersionInfo[];
  /** Milliseconds since the epoch of the last write to the secret, when known. */
  lastChangedAt: number | undefined;
}

export type VersionSelector = { label: string } | { versionId: string };

/** What `putPending` acknowledged: the labels the stored version holds once the write is durable. */
export interface StoredPending {
  labels: string[];
}

/**
 * One write of a {@link Vault.writeMany} call: the arguments of the single-secret method of the
 * same name, which says what it does and how it fails.
 */
export type VaultWrite =
  | { kind: 'ensureSecret'; key: SecretKey }
  | { kind: 'putPending'; key: SecretKey; token: string; value: SecretPayload; alsoLabels?: readonly string[] | undefined }
  | { kind: 'promote'; key: SecretKey; versionId: string; expectedCurrent: string | undefined }
  | { kind: 'removeLabel'; key: SecretKey; label: string; versionId: string }
  | { kind: 'moveLabel'; key: SecretKey; label: string; versionId: string };

/**
 * The result of one write of a {@link Vault.writeMany} call. `error` is what the single method would
 * have thrown; `labels` (putPending only) what `putPending` answers: the labels the version holds.
 */
export type VaultWriteResult = { ok: true; labels?: string[] } | { ok: false; error: unknown };

/**
 * Every operation either completes durably before it resolves or rejects with a `RotatorError`
 * (`retryable` true for throttling, timeouts and 5xx-like failures). Operations are safe to repeat:
 * each is written so that a replay after a crash is harmless.
 *
 * Stable error codes (besides the per-method ones below): `VAULT_INVALID_REQUEST` (a bad token,
 * label or key; not retryable), `VAULT_SECRET_NOT_FOUND` (a write to a secret that does not exist;
 * not retryable), `VAULT_THROTTLED` / `VAULT_UNAVAILABLE` (retryable), `VAULT_ACCESS_DENIED` (not
 * retryable). No message, cause or JSON of any error carries a password.
 *
 * Labels change only through these methods: `putPending` touches AWSPENDING and the custom labels
 * it is given only, `promote` AWSCURRENT and AWSPREVIOUS only; otherwise custom labels
 * (ROTATOR_ACTIVE) move only by `moveLabel`/`removeLabel`. A version that still holds any label is
 * never dropped.
 * The shared contract suite (test/contract/vault-contract.ts) is the executable form of this.
 */
export interface Vault {
  /**
   * Creates the secret (no versions yet) if it does not exist. Idempotent; two callers racing to
   * create the same secret both succeed.
   */
  ensureSecret(key: SecretKey): Promise<void>;

  /**
   * Stores `value` as a new version with id `token` (32 to 64 printable ASCII characters without
   * spaces, as AWS's ClientRequestToken; deterministic for the batch: run id + batch + generation)
   * and the labels AWSPENDING and `alsoLabels` (custom labels, e.g. an unconfirmed slot), each moved
   * off any other version, in one write (AWS: PutSecretValue's VersionStages). Resolves only when the
   * write is acknowledged (durable), with the labels the version holds then.
   * - same token, same value (compared field by field, not by key order): no-op (a replay), even
   *   when AWSPENDING has since moved on; resolves with the labels the version holds now;
   * - same token, different value: `RotatorError` code `VAULT_TOKEN_REUSED`, not retryable (a bug);
   * - `alsoLabels` naming AWSCURRENT, AWSPREVIOUS or AWSPENDING: `VAULT_INVALID_REQUEST`;
   * - the secret does not exist: `RotatorError` code `VAULT_SECRET_NOT_FOUND`.
   * A custom label moves off another version unconditionally (as on AWS): callers pass only labels
   * that were free in their last read, under the server's lock.
   */
  putPending(key: SecretKey, token: string, value: SecretPayload, alsoLabels?: readonly string[]): Promise<StoredPending>;

  /**
   * The version holding `label`, or with id `versionId`; undefined when there is none (also when
   * the secret does not exist). An unlabelled version may or may not still be found by id.
   */
  getVersion(key: SecretKey, selector: VersionSelector): Promise<SecretVersion | undefined>;

  /** Metadata and labelled versions, without values; undefined when the secret does not exist. */
  describe(key: SecretKey): Promise<SecretDescription | undefined>;

  /**
   * Compare-and-swap of AWSCURRENT: moves it to `versionId` only if it is now on
   * `expectedCurrent` (undefined: no version holds it yet). AWSPREVIOUS moves to the version
   * AWSCURRENT left. No other label changes: AWSPENDING stays on `versionId` if it holds it (the
   * rotation reads AWSPENDING on AWSCURRENT's version as settled, src/rotation/labels.ts).
   * - `versionId` already holds AWSCURRENT: a no-op (a replay);
   * - AWSCURRENT is elsewhere: `RotatorError` code `VAULT_CURRENT_CHANGED`, not retryable;
   * - `versionId` does not exist: `RotatorError` code `VAULT_VERSION_NOT_FOUND` (checked first);
   * - the secret does not exist: `VAULT_SECRET_NOT_FOUND` or `VAULT_VERSION_NOT_FOUND`.
   * A promotion that loses keeps AWSPENDING on `versionId`: its password may be on the server.
   */
  promote(key: SecretKey, versionId: string, expectedCurrent: string | undefined): Promise<void>;

  /**
   * Removes `label` from `versionId`; a no-op when that version does not hold it. AWSCURRENT
   * cannot be removed (`VAULT_INVALID_REQUEST`): it only moves, by `promote`.
   */
  removeLabel(key: SecretKey, label: string, versionId: string): Promise<void>;

  /**
   * Attaches a custom `label` (not AWSCURRENT: use `promote`) to `versionId`, removing it from the
   * version that held it. A no-op when `versionId` already holds it.
   * - `versionId` does not exist: `RotatorError` code `VAULT_VERSION_NOT_FOUND`;
   * - `label` is AWSCURRENT: `RotatorError` code `VAULT_INVALID_REQUEST`.
   */
  moveLabel(key: SecretKey, label: string, versionId: string): Promise<void>;

  /**
   * Many writes at once, for a whole batch of servers: the batch-level form of the methods above.
   * Each write does exactly what its single method does and succeeds or fails on its own; the
   * answer holds one result per write, in the order given (the call itself rejects only when it
   * could not be attempted at all, e.g. a closed vault). Writes to the same secret apply in the
   * order given, and once one of them fails the later ones to that secret are not attempted: they
   * fail with the same error (so "store, then label" never labels what was not stored). Writes to
   * different secrets are independent. A write is acknowledged (durable) when its result is ok.
   * File vault: one group commit for the call (one lock, one journal record, one fsync). AWS: the
   * secrets concurrently, under the adapter's write limiter, each secret's writes in order.
   */
  writeMany(writes: readonly VaultWrite[]): Promise<VaultWriteResult[]>;

  /** `describe` for many secrets: one answer per key, in the order given (undefined for a missing secret). */
  describeMany(keys: readonly SecretKey[]): Promise<(SecretDescription | undefined)[]>;

  /** Every secret this vault manages (optionally in one region/project), without values. */
  list(filter?: { region?: string; projectId?: string }): AsyncIterable<SecretDescription>;

  /** Releases connections, timers and file handles. */
  close(): Promise<void>;
}
