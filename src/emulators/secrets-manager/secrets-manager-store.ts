/**
 * The in-memory model behind the Secrets Manager emulator: secrets, versions and staging labels,
 * with AWS's rules (https://docs.aws.amazon.com/secretsmanager/latest/apireference/):
 * - a staging label is on at most one version of a secret;
 * - moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left;
 * - moving a label that another version holds needs RemoveFromVersionId naming that version;
 * - PutSecretValue with an existing token: same value is a no-op, another value is
 *   ResourceExistsException (whatever labels that version holds);
 * - PutSecretValue without VersionStages attaches AWSCURRENT;
 * - PutSecretValue that creates the first version of a secret attaches AWSCURRENT to it, whatever
 *   VersionStages says (API_PutSecretValue: "If this operation creates the first version for the
 *   secret, then Secrets Manager automatically attaches the staging label AWSCURRENT to it.");
 * - versions without labels are deprecated, kept until a secret has more than 100 versions.
 *
 * Every method runs synchronously, so each request is atomic, as AWS's per-secret operations are.
 * Values are held as given and never appear in an error message.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export const STAGE_CURRENT = 'AWSCURRENT';
export const STAGE_PREVIOUS = 'AWSPREVIOUS';
/** AWS keeps at most about 100 versions; deprecated (unlabelled) ones beyond that are dropped. */
export const MAX_VERSIONS = 100;
/** AWS: a version can hold at most 20 staging labels. */
export const MAX_STAGES_PER_VERSION = 20;

/** An AWS error as the JSON 1.1 protocol returns it (`__type`, `message`, HTTP status). */
export class SecretsManagerServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

const notFound = (what: string): SecretsManagerServiceError =>
  new SecretsManagerServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified ${what}.`);
const invalidParameter = (message: string): SecretsManagerServiceError =>
  new SecretsManagerServiceError('InvalidParameterException', message);
const invalidRequest = (message: string): SecretsManagerServiceError =>
  new SecretsManagerServiceError('InvalidRequestException', message);

export interface Tag {
  Key: string;
  Value: string;
}

interface StoredVersion {
  versionId: string;
  secretString: string | undefined;
  /** Base64, as the JSON protocol carries blobs. */
  secretBinary: string | undefined;
  createdAt: number;
}

interface StoredSecret {
  arn: string;
  name: string;
  description: string | undefined;
  kmsKeyId: string | undefined;
  tags: Tag[];
  /** Insertion-ordered: oldest first. */
  versions: Map<string, StoredVersion>;
  /** Staging label → version id. */
  stages: Map<string, string>;
  createdAt: number;
  lastChangedAt: number;
  deletedAt: number | undefined;
}

/** JSON 1.1 timestamps are epoch seconds. */
const seconds = (ms: number): number => ms / 1000;

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

export interface StoreOptions {
  region: string;
  accountId: string;
  now: () => number;
}

type Json = Record<string, unknown>;

function stringField(input: Json, field: string, required: true): string;
function stringField(input: Json, field: string, required?: false): string | undefined;
function stringField(input: Json, field: string, required = false): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) {
    if (required) throw invalidParameter(`${field} is required.`);
    return undefined;
  }
  if (typeof value !== 'string') throw new SecretsManagerServiceError('SerializationException', `${field} must be a string.`);
  return value;
}

function tagsField(input: Json, field: string): Tag[] {
  const value = input[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SecretsManagerServiceError('SerializationException', `${field} must be a list.`);
  return value.map((tag: unknown) => {
    const t = tag as Json;
    return { Key: stringField(t, 'Key', true), Value: stringField(t, 'Value') ?? '' };
  });
}

function validateToken(token: string): void {
  if (token.length < 32 || token.length > 64) {
    throw invalidParameter('ClientRequestToken must be between 32 and 64 characters long.');
  }
}

export class SecretsManagerStore {
  private readonly secrets = new Map<string, StoredSecret>();

  constructor(private readonly options: StoreOptions) {}

  /** Dispatches one operation; throws `SecretsManagerServiceError` as AWS would answer. */
  handle(operation: string, input: Json): Json {
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'UpdateSecret':
        return this.updateSecret(input);
      case 'UpdateSecretVersionStage':
        return this.updateSecretVersionStage(input);
      case 'ListSecretVersionIds':
        return this.listSecretVersionIds(input);
      case 'ListSecrets':
        return this.listSecrets(input);
      case 'DeleteSecret':
        return this.deleteSecret(input);
      case 'RestoreSecret':
        return this.restoreSecret(input);
      case 'TagResource':
        return this.tagResource(input);
      case 'UntagResource':
        return this.untagResource(input);
      default:
        throw new SecretsManagerServiceError('UnknownOperationException', `Unknown operation ${operation}.`);
    }
  }

  /** The secret names currently stored (for tests and the dev CLI); never values. */
  secretNames(): string[] {
    return [...this.secrets.values()].map((s) => s.name);
  }

  private find(secretId: string): StoredSecret {
    const byName = this.secrets.get(secretId);
    if (byName) return byName;
    for (const secret of this.secrets.values()) if (secret.arn === secretId) return secret;
    throw notFound('secret');
  }

  /** A secret usable for reads and writes of values (not scheduled for deletion). */
  private findLive(secretId: string): StoredSecret {
    const secret = this.find(secretId);
    if (secret.deletedAt !== undefined) {
      throw invalidRequest("You can't perform this operation on the secret because it was marked for deletion.");
    }
    return secret;
  }

  private stagesOf(secret: StoredSecret, versionId: string): string[] {
    const stages: string[] = [];
    for (const [stage, holder] of secret.stages) if (holder === versionId) stages.push(stage);
    return stages;
  }

  private versionIdsToStages(secret: StoredSecret): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [stage, holder] of secret.stages) (out[holder] ??= []).push(stage);
    return out;
  }

  /** Attaches `stage` to `versionId`, AWSPREVIOUS following AWSCURRENT (no RemoveFrom check). */
  private attachStage(secret: StoredSecret, stage: string, versionId: string): void {
    const holder = secret.stages.get(stage);
    if (holder === versionId) return;
    if (this.stagesOf(secret, versionId).length >= MAX_STAGES_PER_VERSION) {
      throw new SecretsManagerServiceError('LimitExceededException', 'A version can have at most 20 staging labels.');
    }
    secret.stages.set(stage, versionId);
    if (stage === STAGE_CURRENT && holder !== undefined) secret.stages.set(STAGE_PREVIOUS, holder);
  }

  /** AWS drops deprecated versions once a secret holds more than about 100 versions. */
  private pruneDeprecated(secret: StoredSecret): void {
    if (secret.versions.size <= MAX_VERSIONS) return;
    const labelled = new Set(secret.stages.values());
    for (const versionId of secret.versions.keys()) {
      if (secret.versions.size <= MAX_VERSIONS) break;
      if (!labelled.has(versionId)) secret.versions.delete(versionId);
    }
  }

  private readValue(input: Json): { secretString: string | undefined; secretBinary: string | undefined } {
    const secretString = stringField(input, 'SecretString');
    const secretBinary = stringField(input, 'SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined) {
      throw invalidParameter('You must provide either SecretString or SecretBinary, but not both.');
    }
    return { secretString, secretBinary };
  }

  /** Adds a version with `stages`; the idempotency rule of ClientRequestToken first. */
  private addVersion(
    secret: StoredSecret,
    token: string,
    value: { secretString: string | undefined; secretBinary: string | undefined },
    stages: string[],
  ): { versionId: string; stages: string[] } {
    validateToken(token);
    const existing = secret.versions.get(token);
    if (existing) {
      if (existing.secretString === value.secretString && existing.secretBinary === value.secretBinary) {
        return { versionId: token, stages: this.stagesOf(secret, token) }; // a replay: nothing changes
      }
      // Never echo either value: only the version id.
      throw new SecretsManagerServiceError(
        'ResourceExistsException',
        `A resource with the ID you requested already exists: version ${token} has a different value.`,
      );
    }
    const now = this.options.now();
    secret.versions.set(token, { versionId: token, ...value, createdAt: now });
    for (const stage of stages) this.attachStage(secret, stage, token);
    secret.lastChangedAt = now;
    this.pruneDeprecated(secret);
    return { versionId: token, stages: this.stagesOf(secret, token) };
  }

  private createSecret(input: Json): Json {
    const name = stringField(input, 'Name', true);
    if (!NAME_PATTERN.test(name)) {
      throw new SecretsManagerServiceError('ValidationException', 'Name must be 1-512 characters of A-Z a-z 0-9 /_+=.@-');
    }
    const existing = this.secrets.get(name);
    if (existing) {
      if (existing.deletedAt !== undefined) {
        throw invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      throw new SecretsManagerServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const value = this.readValue(input);
    const now = this.options.now();
    const suffix = randomBytes(4).toString('base64url').slice(0, 6);
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:${this.options.region}:${this.options.accountId}:secret:${name}-${suffix}`,
      name,
      description: stringField(input, 'Description'),
      kmsKeyId: stringField(input, 'KmsKeyId'),
      tags: tagsField(input, 'Tags'),
      versions: new Map(),
      stages: new Map(),
      createdAt: now,
      lastChangedAt: now,
      deletedAt: undefined,
    };
    let versionId: string | undefined;
    if (value.secretString !== undefined || value.secretBinary !== undefined) {
      const token = stringField(input, 'ClientRequestToken') ?? randomUUID();
      versionId = this.addVersion(secret, token, value, [STAGE_CURRENT]).versionId;
    }
    this.secrets.set(name, secret);
    return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private describeSecret(input: Json): Json {
    const secret = this.find(stringField(input, 'SecretId', true));
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      Tags: secret.tags,
      VersionIdsToStages: this.versionIdsToStages(secret),
      CreatedDate: seconds(secret.createdAt),
      LastChangedDate: seconds(secret.lastChangedAt),
      ...(secret.deletedAt !== undefined ? { DeletedDate: seconds(secret.deletedAt) } : {}),
    };
  }

  private getSecretValue(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const versionId = stringField(input, 'VersionId');
    const stage = stringField(input, 'VersionStage') ?? (versionId === undefined ? STAGE_CURRENT : undefined);
    let resolved = versionId;
    if (stage !== undefined) {
      const holder = secret.stages.get(stage);
      if (holder === undefined || (versionId !== undefined && holder !== versionId)) {
        throw notFound(`secret value for staging label: ${stage}`);
      }
      resolved = holder;
    }
    const version = resolved === undefined ? undefined : secret.versions.get(resolved);
    if (!version) throw notFound('secret value for VersionId');
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: this.stagesOf(secret, version.versionId),
      CreatedDate: seconds(version.createdAt),
    };
  }

  private putSecretValue(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const value = this.readValue(input);
    if (value.secretString === undefined && value.secretBinary === undefined) {
      throw invalidParameter('You must provide either SecretString or SecretBinary.');
    }
    const rawStages = input['VersionStages'];
    let stages = [STAGE_CURRENT];
    if (rawStages !== undefined && rawStages !== null) {
      if (!Array.isArray(rawStages) || rawStages.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 256)) {
        throw invalidParameter('VersionStages must be a list of 1-256 character labels.');
      }
      stages = rawStages as string[];
    }
    const token = stringField(input, 'ClientRequestToken') ?? randomUUID();
    // AWS: "If this operation creates the first version for the secret, then Secrets Manager
    // automatically attaches the staging label AWSCURRENT to it." (VersionStages or not.)
    if (secret.versions.size === 0 && !stages.includes(STAGE_CURRENT)) stages = [...stages, STAGE_CURRENT];
    const result = this.addVersion(secret, token, value, stages);
    return { ARN: secret.arn, Name: secret.name, VersionId: result.versionId, VersionStages: result.stages };
  }

  private updateSecret(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const description = stringField(input, 'Description');
    const kmsKeyId = stringField(input, 'KmsKeyId');
    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    const value = this.readValue(input);
    let versionId: string | undefined;
    if (value.secretString !== undefined || value.secretBinary !== undefined) {
      const token = stringField(input, 'ClientRequestToken') ?? randomUUID();
      versionId = this.addVersion(secret, token, value, [STAGE_CURRENT]).versionId;
    }
    secret.lastChangedAt = this.options.now();
    return { ARN: secret.arn, Name: secret.name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  private updateSecretVersionStage(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const stage = stringField(input, 'VersionStage', true);
    if (stage.length === 0 || stage.length > 256) throw invalidParameter('VersionStage must be 1-256 characters.');
    const moveTo = stringField(input, 'MoveToVersionId');
    const removeFrom = stringField(input, 'RemoveFromVersionId');
    const holder = secret.stages.get(stage);

    const mismatch = (): SecretsManagerServiceError =>
      invalidParameter(`The parameter RemoveFromVersionId doesn't match the current version with the staging label ${stage}.`);
    if (moveTo === undefined) {
      if (removeFrom === undefined) throw invalidParameter('You must specify MoveToVersionId or RemoveFromVersionId.');
      if (holder !== removeFrom) throw mismatch();
      if (stage === STAGE_CURRENT) {
        throw invalidParameter(`You can't remove the staging label ${STAGE_CURRENT} without moving it to another version.`);
      }
      secret.stages.delete(stage);
    } else {
      if (!secret.versions.has(moveTo)) throw notFound('secret version for MoveToVersionId');
      if (holder === moveTo) return { ARN: secret.arn, Name: secret.name }; // already there
      // The compare-and-swap: a label another version holds moves only when the caller names it.
      if (removeFrom !== holder) throw mismatch();
      this.attachStage(secret, stage, moveTo);
    }
    secret.lastChangedAt = this.options.now();
    this.pruneDeprecated(secret);
    return { ARN: secret.arn, Name: secret.name };
  }

  private page<T>(items: T[], input: Json): { items: T[]; nextToken: string | undefined } {
    const max = input['MaxResults'];
    const limit = typeof max === 'number' && max >= 1 ? Math.min(max, 100) : 100;
    const token = stringField(input, 'NextToken');
    const start = token === undefined ? 0 : Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(start) || start < 0) throw invalidParameter('NextToken is not valid.');
    const slice = items.slice(start, start + limit);
    const next = start + limit < items.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
    return { items: slice, nextToken: next };
  }

  private listSecretVersionIds(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const includeDeprecated = input['IncludeDeprecated'] === true;
    const all = [...secret.versions.values()]
      .map((v) => ({ version: v, stages: this.stagesOf(secret, v.versionId) }))
      .filter((v) => includeDeprecated || v.stages.length > 0);
    const { items, nextToken } = this.page(all, input);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: items.map(({ version, stages }) => ({
        VersionId: version.versionId,
        VersionStages: stages,
        CreatedDate: seconds(version.createdAt),
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  private matchesFilters(secret: StoredSecret, filters: { Key: string; Values: string[] }[]): boolean {
    // Filters are ANDed; the values of one filter are ORed; a leading "!" negates a value.
    return filters.every(({ Key, Values }) => {
      const positives = Values.filter((v) => !v.startsWith('!'));
      const negatives = Values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
      const candidates = ((): string[] => {
        switch (Key) {
          case 'name':
            return [secret.name];
          case 'description':
            return [secret.description ?? ''].map((d) => d.toLowerCase());
          case 'tag-key':
            return secret.tags.map((t) => t.Key);
          case 'tag-value':
            return secret.tags.map((t) => t.Value);
          case 'all':
            return [secret.name, secret.description ?? '', ...secret.tags.flatMap((t) => [t.Key, t.Value])].map((s) =>
              s.toLowerCase(),
            );
          default:
            return [];
        }
      })();
      const norm = (v: string): string => (Key === 'description' || Key === 'all' ? v.toLowerCase() : v);
      const has = (v: string): boolean => candidates.some((c) => (Key === 'all' ? c.includes(norm(v)) : c.startsWith(norm(v))));
      if (negatives.some(has)) return false;
      return positives.length === 0 || positives.some(has);
    });
  }

  private listSecrets(input: Json): Json {
    const rawFilters = input['Filters'];
    const filters: { Key: string; Values: string[] }[] = [];
    if (rawFilters !== undefined && rawFilters !== null) {
      if (!Array.isArray(rawFilters)) throw new SecretsManagerServiceError('SerializationException', 'Filters must be a list.');
      for (const raw of rawFilters as Json[]) {
        const key = stringField(raw, 'Key', true);
        if (!['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'].includes(key)) {
          throw invalidParameter(`Unknown filter key ${key}.`);
        }
        const values = raw['Values'];
        if (!Array.isArray(values) || values.length < 1 || values.length > 10 || values.some((v) => typeof v !== 'string')) {
          throw invalidParameter('A filter needs 1 to 10 string values.');
        }
        filters.push({ Key: key, Values: values as string[] });
      }
    }
    const includeDeleted = input['IncludePlannedDeletion'] === true;
    const matching = [...this.secrets.values()].filter(
      (s) => (includeDeleted || s.deletedAt === undefined) && this.matchesFilters(s, filters),
    );
    const { items, nextToken } = this.page(matching, input);
    return {
      SecretList: items.map((secret) => ({
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.description !== undefined ? { Description: secret.description } : {}),
        Tags: secret.tags,
        SecretVersionsToStages: this.versionIdsToStages(secret),
        CreatedDate: seconds(secret.createdAt),
        LastChangedDate: seconds(secret.lastChangedAt),
        ...(secret.deletedAt !== undefined ? { DeletedDate: seconds(secret.deletedAt) } : {}),
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  private deleteSecret(input: Json): Json {
    const secret = this.find(stringField(input, 'SecretId', true));
    const now = this.options.now();
    if (input['ForceDeleteWithoutRecovery'] === true) {
      this.secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    const days = typeof input['RecoveryWindowInDays'] === 'number' ? input['RecoveryWindowInDays'] : 30;
    if (days < 7 || days > 30) throw invalidParameter('RecoveryWindowInDays must be between 7 and 30.');
    secret.deletedAt ??= now;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletedAt + days * 86_400_000) };
  }

  private restoreSecret(input: Json): Json {
    const secret = this.find(stringField(input, 'SecretId', true));
    secret.deletedAt = undefined;
    return { ARN: secret.arn, Name: secret.name };
  }

  private tagResource(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    for (const tag of tagsField(input, 'Tags')) {
      const existing = secret.tags.find((t) => t.Key === tag.Key);
      if (existing) existing.Value = tag.Value;
      else secret.tags.push(tag);
    }
    return {};
  }

  private untagResource(input: Json): Json {
    const secret = this.findLive(stringField(input, 'SecretId', true));
    const keys = input['TagKeys'];
    if (!Array.isArray(keys)) throw invalidParameter('TagKeys must be a list.');
    secret.tags = secret.tags.filter((t) => !keys.includes(t.Key));
    return {};
  }
}
