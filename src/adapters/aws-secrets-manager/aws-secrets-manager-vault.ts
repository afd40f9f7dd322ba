/**
 * The Vault port on AWS Secrets Manager. One secret per server, named from a template; versions
 * are AWS versions (version id = our ClientRequestToken), labels are AWS staging labels, so the
 * port's semantics are AWS's own and this file mostly adds the compare-and-swap reading of
 * `UpdateSecretVersionStage` and the error translation.
 *
 * AWS calls made: CreateSecret (with the "no password known yet" version below; only after
 * DescribeSecret found no such secret, see `existing`), PutSecretValue (always with our token and
 * VersionStages AWSPENDING plus the caller's custom labels), UpdateSecretVersionStage (always with
 * RemoveFromVersionId when another version holds the label; `promote` sends it without reading
 * first and reads only to explain a refusal), GetSecretValue (always naming VersionStage or
 * VersionId), DescribeSecret, ListSecretVersionIds, ListSecrets. Writes wait for the write limiter
 * (CreateSecret for its own), per attempt.
 *
 * The first version of a secret. AWS's PutSecretValue reference: "If this operation creates the
 * first version for the secret, then Secrets Manager automatically attaches the staging label
 * AWSCURRENT to it." Were the first version our first pending password, AWSCURRENT (what every AWS
 * reader gets by default) would name a password no server has accepted, and would stay on it if that
 * reset were rejected, unanswered or never sent. So every secret is created WITH a first version,
 * id `NO_PASSWORD_YET_VERSION_ID`, whose value says that no password is known yet and holds none:
 * AWSCURRENT starts there, and the first `promote` moves it (compare-and-swap, RemoveFromVersionId
 * naming that version) onto the first accepted password. Through the port that version does not
 * exist: `describe` leaves it out and `getVersion` answers undefined for it, so "no version holds
 * AWSCURRENT" means the same as on the file vault (src/rotation/labels.ts).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type DescribeSecretResponse,
  type Filter,
  type SecretsManagerClientConfig,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
// Type-only: @smithy/types ships with the SDK (its middleware signatures).
import type { FinalizeHandler, HandlerExecutionContext, MetadataBearer } from '@smithy/types';
import type { Logger } from 'pino';
import { AWS_REGION_PATTERN, awsEndpointProblem, awsTagProblem } from '../../config/aws-secrets-manager-rules.js';
import { RotatorError } from '../../domain/rotator-error.js';
import type { Clock } from '../../ports/clock.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';
import {
  LABEL_CURRENT,
  LABEL_PENDING,
  LABEL_PREVIOUS,
  type SecretDescription,
  type SecretKey,
  type SecretPayload,
  type SecretVersion,
  type SecretVersionInfo,
  type Vault,
  type VersionSelector,
} from '../../ports/vault.js';
import { QueuedRateLimiter } from '../queued-rate-limiter.js';
import { TokenBucketRateLimiter } from '../token-bucket-rate-limiter.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { awsErrorName, toVaultError, vaultError, type ErrorContext } from './aws-error-mapping.js';
import { compileSecretNameTemplate, DEFAULT_SECRET_NAME_TEMPLATE } from './secret-name-template.js';
import { ReadGate } from './read-gate.js';
import { decodeSecretPayload, encodeSecretPayload } from './secret-payload-codec.js';
import { describeQueue, writeManyBySecret } from '../vault-batch.js';

// These four are AWS_RESERVED_TAG_KEYS (src/config/aws-secrets-manager-rules.ts); a test keeps them in step.
/** Tag that marks a secret as ours; `list` only yields secrets that carry it. */
export const MANAGED_BY_TAG = { key: 'managed-by', value: 'rotator' } as const;
const TAG_SERVER_ID = 'server-id';
const TAG_REGION = 'region';
const TAG_PROJECT_ID = 'project-id';

/**
 * The calls that share AWS's per-account write quota ("Combined rate of PutSecretValue, …,
 * UpdateSecret, and UpdateSecretVersionStage API requests: 50 per second", Secrets Manager quotas)
 * and wait for the write limiter. CreateSecret and TagResource have quotas of their own, and wait
 * for the create limiter.
 */
const WRITE_COMMANDS = new Set(['PutSecretValueCommand', 'UpdateSecretVersionStageCommand', 'UpdateSecretCommand']);
const CREATE_COMMANDS = new Set(['CreateSecretCommand', 'TagResourceCommand']);

/**
 * Read attempts in flight at once (src/adapters/aws-secrets-manager/read-gate.ts): as many as the
 * SDK's default HTTP pool has sockets, so the gate orders reads without slowing them.
 */
const READS_IN_FLIGHT = 50;

/** ClientRequestToken as AWS takes it; also our version id. */
const TOKEN_PATTERN = /^[\x21-\x7e]{32,64}$/;

/**
 * Version id of each secret's first version, which holds AWSCURRENT until a password is accepted
 * (see the file comment). Never a batch token: those start `run` (src/rotation/batch-token.ts).
 */
export const NO_PASSWORD_YET_VERSION_ID = 'rotator-no-password-known-yet-000000000000';

/** Its value: JSON without a password field, so that no reader can mistake it for one. */
const NO_PASSWORD_YET_VALUE = JSON.stringify({
  rotator: 'no-password-known-yet',
  note: 'rotator stores a password here only once Huawei has accepted it; until then the server keeps the password it had before rotator managed it',
});

export interface AwsSecretsManagerVaultOptions {
  /** AWS region of the secrets. @defaultValue the SDK's provider chain (`AWS_REGION`, profile) */
  region?: string | undefined;
  /**
   * Endpoint override (LocalStack, the emulator, a VPC endpoint). When omitted the SDK's own
   * resolution applies, including `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
   * @defaultValue the SDK's resolution
   */
  endpoint?: string | undefined;
  /** Explicit credentials. @defaultValue the SDK's default provider chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** Secret name; placeholders {region}, {projectId}, {serverId} (required). @defaultValue `ecs/{region}/{projectId}/{serverId}` */
  nameTemplate?: string | undefined;
  /** KMS key for new secrets. @defaultValue the account's `aws/secretsmanager` key */
  kmsKeyId?: string | undefined;
  /** Description of new secrets. @defaultValue a sentence naming rotator */
  description?: string | undefined;
  /** Extra tags on new secrets (managed-by, server-id, region and project-id are always set). @defaultValue none */
  tags?: Record<string, string> | undefined;
  /**
   * Client-side limit on writes (PutSecretValue, UpdateSecretVersionStage, UpdateSecret together;
   * CreateSecret apart, at the same rate), per attempt including SDK retries. AWS allows 50/s per
   * region and account for each; keep headroom for other writers. Ignored where `deps.writeLimiter`
   * / `deps.createLimiter` is given.
   * @defaultValue 40
   */
  writesPerSecond?: number | undefined;
  /** SDK retry mode. @defaultValue 'standard' */
  retryMode?: 'standard' | 'adaptive' | undefined;
  /** SDK attempts per call, first included (1 disables SDK retries). @defaultValue 3 */
  maxAttempts?: number | undefined;
  /** Per-attempt socket timeout, ms. @defaultValue 10000 */
  requestTimeoutMs?: number | undefined;
  /** Connection timeout, ms. @defaultValue 3000 */
  connectionTimeoutMs?: number | undefined;
}

export interface AwsSecretsManagerVaultDeps {
  /** Time source of the default write limiter. */
  clock: Clock;
  /**
   * Limiter of the shared write quota (PutSecretValue, UpdateSecretVersionStage, UpdateSecret), e.g.
   * the Redis-backed one shared by every worker; this process's callers queue for it in call order.
   * @defaultValue a token bucket at `writesPerSecond`
   */
  writeLimiter?: RateLimiter | undefined;
  /** Limiter of CreateSecret (and TagResource), which AWS counts apart. @defaultValue a token bucket at `writesPerSecond` */
  createLimiter?: RateLimiter | undefined;
  /** Log lines name operations, secrets and version ids; never values. @defaultValue silent */
  logger?: Pick<Logger, 'debug' | 'warn'> | undefined;
}

function configError(message: string): RotatorError {
  return new RotatorError({ code: VaultErrorCode.configInvalid, message, retryable: false });
}

function positiveNumber(value: number | undefined, field: string, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw configError(`${field}: expected a positive ${integer ? 'integer' : 'number'}, found ${String(value)}`);
  }
  return value;
}

// The rules `rotator config check` also reports (one source for both: src/config/aws-secrets-manager-rules.ts).
function validateOptions(options: AwsSecretsManagerVaultOptions): void {
  if (options.region !== undefined && !AWS_REGION_PATTERN.test(options.region)) {
    throw configError(`region: expected an AWS region such as eu-west-1, found ${JSON.stringify(options.region)}`);
  }
  if (options.endpoint !== undefined) {
    const problem = awsEndpointProblem(options.endpoint);
    if (problem !== undefined) throw configError(`endpoint: expected ${problem}, found ${JSON.stringify(options.endpoint)}`);
  }
  if (options.retryMode !== undefined && options.retryMode !== 'standard' && options.retryMode !== 'adaptive') {
    throw configError(`retryMode: expected "standard" or "adaptive", found ${JSON.stringify(options.retryMode)}`);
  }
  if (options.credentials !== undefined && (!options.credentials.accessKeyId || !options.credentials.secretAccessKey)) {
    throw configError('credentials: expected accessKeyId and secretAccessKey (or omit credentials for the default chain)');
  }
  for (const [key, value] of Object.entries(options.tags ?? {})) {
    const problem = awsTagProblem(key, value);
    if (problem !== undefined) throw configError(`tags.${key}: expected ${problem}`);
  }
}

export function validateVersionToken(token: string, context: ErrorContext): void {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw vaultError(
      VaultErrorCode.invalidRequest,
      { ...context, versionId: undefined },
      `version token: expected 32 to 64 printable ASCII characters without spaces, found ${typeof token === 'string' ? `${token.length} characters` : typeof token}`,
    );
  }
}

type StageMap = Map<string, string[]>;

function stageMapOf(response: DescribeSecretResponse): StageMap {
  return new Map(Object.entries(response.VersionIdsToStages ?? {}));
}

function holderOf(stages: StageMap, label: string): string | undefined {
  for (const [versionId, labels] of stages) if (labels.includes(label)) return versionId;
  return undefined;
}

/** The port's view of a version id: the "no password yet" version is no version. */
function portVersion(versionId: string | undefined): string | undefined {
  return versionId === NO_PASSWORD_YET_VERSION_ID ? undefined : versionId;
}

function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/**
 * Whether AWSCURRENT names no unaccepted password: some version holds it, and it is not the shape an
 * older release left (one labelled version only, holding exactly AWSCURRENT and AWSPENDING: its
 * first pending password, which AWS made current, never promoted). Since AWSPENDING stays on an
 * accepted version, such a version also holds an unconfirmed slot, and the "no password yet"
 * version keeps AWSPREVIOUS after the first promotion: neither matches this shape.
 */
function currentIsSafe(response: DescribeSecretResponse): boolean {
  const stages = stageMapOf(response);
  const holder = holderOf(stages, LABEL_CURRENT);
  if (holder === undefined) return false;
  const labelled = [...stages].filter(([, labels]) => labels.length > 0);
  const holderLabels = [...(stages.get(holder) ?? [])].sort();
  const unsettledFirstVersion = labelled.length === 1 && holderLabels.length === 2 && holderLabels[0] === LABEL_CURRENT && holderLabels[1] === LABEL_PENDING;
  return !unsettledFirstVersion;
}

/** Builds the AWS-backed vault. Throws `VAULT_CONFIG_INVALID` for bad options (nothing is sent). */
export function createAwsSecretsManagerVault(
  options: AwsSecretsManagerVaultOptions,
  deps: AwsSecretsManagerVaultDeps,
): Vault {
  validateOptions(options);
  const template = compileSecretNameTemplate(options.nameTemplate ?? DEFAULT_SECRET_NAME_TEMPLATE);
  const writesPerSecond = positiveNumber(options.writesPerSecond, 'writesPerSecond', 40);
  const maxAttempts = positiveNumber(options.maxAttempts, 'maxAttempts', 3, true);
  const requestTimeout = positiveNumber(options.requestTimeoutMs, 'requestTimeoutMs', 10_000, true);
  const connectionTimeout = positiveNumber(options.connectionTimeoutMs, 'connectionTimeoutMs', 3_000, true);
  const limiter = deps.writeLimiter ? new QueuedRateLimiter(deps.writeLimiter) : new TokenBucketRateLimiter({ requestsPerSecond: writesPerSecond, clock: deps.clock });
  const readGate = new ReadGate(READS_IN_FLIGHT);
  const createLimiter = deps.createLimiter ? new QueuedRateLimiter(deps.createLimiter) : new TokenBucketRateLimiter({ requestsPerSecond: writesPerSecond, clock: deps.clock });
  const logger = deps.logger;
  const description = options.description ?? 'Root/Administrator password of a Huawei Cloud ECS server, rotated by rotator';

  // Keys are set only when given: an `endpoint: undefined` would hide AWS_ENDPOINT_URL_SECRETS_MANAGER.
  const config: SecretsManagerClientConfig = {
    retryMode: options.retryMode ?? 'standard',
    maxAttempts,
    requestHandler: { requestTimeout, connectionTimeout },
  };
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.credentials !== undefined) config.credentials = { ...options.credentials };
  // No SDK logger: the SDK's own logging may print request inputs.
  const client = new SecretsManagerClient(config);

  // Each attempt (SDK retries included) of a write waits for the limiter: AWS's quota counts attempts.
  // Reads take a place at the read gate instead, in call order.
  client.middlewareStack.addRelativeTo(
    (next: FinalizeHandler<object, MetadataBearer>, context: HandlerExecutionContext): FinalizeHandler<object, MetadataBearer> =>
      async (args) => {
        const command = context.commandName ?? '';
        if (WRITE_COMMANDS.has(command)) await limiter.acquire();
        else if (CREATE_COMMANDS.has(command)) await createLimiter.acquire();
        else return readGate.run(() => next(args));
        return next(args);
      },
    { relation: 'after', toMiddleware: 'retryMiddleware', name: 'rotatorWriteLimiter', override: true },
  );

  const tagsFor = (key: SecretKey): Tag[] => [
    ...Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    { Key: MANAGED_BY_TAG.key, Value: MANAGED_BY_TAG.value },
    { Key: TAG_SERVER_ID, Value: key.serverId },
    { Key: TAG_REGION, Value: key.region },
    { Key: TAG_PROJECT_ID, Value: key.projectId },
  ];

  /** DescribeSecret; undefined when the secret does not exist. */
  async function describeRaw(name: string): Promise<DescribeSecretResponse | undefined> {
    try {
      return await client.send(new DescribeSecretCommand({ SecretId: name }));
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
      throw toVaultError(error, { operation: 'DescribeSecret', secretName: name });
    }
  }

  /** The staging labels of a live secret; VAULT_SECRET_NOT_FOUND when it does not exist. */
  async function stagesOf(name: string, operation: string): Promise<StageMap> {
    const response = await describeRaw(name);
    if (!response) throw vaultError(VaultErrorCode.secretNotFound, { operation, secretName: name }, 'the secret does not exist');
    if (response.DeletedDate !== undefined) {
      throw vaultError(VaultErrorCode.secretDeleted, { operation, secretName: name }, 'the secret is scheduled for deletion (RestoreSecret it first)');
    }
    return stageMapOf(response);
  }

  async function listVersions(name: string, includeDeprecated: boolean): Promise<SecretVersionInfo[]> {
    const out: SecretVersionInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client
        .send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: includeDeprecated, MaxResults: 100, NextToken: nextToken }))
        .catch((error: unknown) => {
          throw toVaultError(error, { operation: 'ListSecretVersionIds', secretName: name });
        });
      for (const v of page.Versions ?? []) {
        if (v.VersionId === undefined) continue;
        out.push({ versionId: v.VersionId, labels: v.VersionStages ?? [], createdAt: v.CreatedDate?.getTime() ?? 0 });
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return out;
  }

  /** Whether `versionId` exists at all (labelled or deprecated). */
  async function versionExists(name: string, stages: StageMap, versionId: string): Promise<boolean> {
    if (versionId === NO_PASSWORD_YET_VERSION_ID) return false; // not a version of the port
    if (stages.has(versionId)) return true;
    return (await listVersions(name, true)).some((v) => v.versionId === versionId);
  }

  async function updateStage(
    name: string,
    input: { VersionStage: string; MoveToVersionId?: string | undefined; RemoveFromVersionId?: string | undefined },
  ): Promise<void> {
    const command = new UpdateSecretVersionStageCommand({ SecretId: name, ...input });
    await client.send(command);
    logger?.debug(
      { op: 'UpdateSecretVersionStage', secret: name, label: input.VersionStage, moveTo: input.MoveToVersionId, removeFrom: input.RemoveFromVersionId },
      'vault label changed',
    );
  }

  const isStageConflict = (error: unknown): boolean => {
    const name = awsErrorName(error);
    return name === 'InvalidParameterException' || name === 'InvalidRequestException';
  };

  /** Removes `label` from `versionId` if it holds it; a concurrent removal is not an error. */
  async function removeIfHeld(name: string, label: string, versionId: string, stages: StageMap, operation: string): Promise<void> {
    if (!(stages.get(versionId) ?? []).includes(label)) return;
    try {
      await updateStage(name, { VersionStage: label, RemoveFromVersionId: versionId });
    } catch (error) {
      if (isStageConflict(error)) {
        const fresh = await stagesOf(name, operation);
        if (!(fresh.get(versionId) ?? []).includes(label)) return; // someone else moved or removed it
      }
      throw toVaultError(error, { operation: 'UpdateSecretVersionStage', secretName: name, versionId });
    }
  }

  /**
   * Names of secrets known to exist. CreateSecret is a write (50/s per account, shared with every
   * other writer) while DescribeSecret is a read (10,000/s): a secret that exists costs one read the
   * first time this process sees it and nothing after; only a NotFound leads to CreateSecret. A
   * name leaves the set when a write finds the secret gone (deleted out of band).
   */
  const existing = new Set<string>();

  /**
   * Names of secrets a DescribeSecret found missing, so that `ensureSecret` right after a `describe`
   * (a plan, then createSecret) goes straight to CreateSecret. Only a hint: CreateSecret answers
   * ResourceExistsException for a secret created meanwhile, handled as before.
   */
  const missing = new Set<string>();

  /**
   * Makes AWSCURRENT name no unaccepted password on a secret that already existed, as an older
   * release left it: with no version at all (the next PutSecretValue would get AWSCURRENT), or with
   * one labelled version only, holding exactly AWSCURRENT and AWSPENDING (its first pending
   * password, which AWS made current, never promoted). Either way AWSCURRENT moves to the
   * "no password yet" version; the pending password keeps AWSPENDING, so it is resent as before.
   *
   * Any other state is left alone (one DescribeSecret), in particular a promotion cut short between
   * its two writes: AWSCURRENT and AWSPENDING on an ACCEPTED version, with AWSPREVIOUS (or the
   * "no password yet" version) elsewhere. Only the exact single-version shape above is touched.
   */
  async function ensureCurrentIsSafe(name: string, described?: DescribeSecretResponse): Promise<void> {
    const response = described ?? (await describeRaw(name));
    if (!response || response.DeletedDate !== undefined) return; // the next write reports it
    if (currentIsSafe(response)) return;
    const stages = stageMapOf(response);
    const holder = holderOf(stages, LABEL_CURRENT);
    const context: ErrorContext = { operation: 'PutSecretValue', secretName: name, versionId: NO_PASSWORD_YET_VERSION_ID };
    try {
      const exists = stages.has(NO_PASSWORD_YET_VERSION_ID) || (await listVersions(name, true)).some((v) => v.versionId === NO_PASSWORD_YET_VERSION_ID);
      if (exists) {
        await updateStage(name, { VersionStage: LABEL_CURRENT, MoveToVersionId: NO_PASSWORD_YET_VERSION_ID, RemoveFromVersionId: holder });
      } else {
        // Moves AWSCURRENT off `holder` if there is one; the first version of an empty secret gets it anyway.
        await client.send(
          new PutSecretValueCommand({
            SecretId: name,
            ClientRequestToken: NO_PASSWORD_YET_VERSION_ID,
            SecretString: NO_PASSWORD_YET_VALUE,
            VersionStages: [LABEL_CURRENT],
          }),
        );
      }
      // AWSPREVIOUS followed onto the unaccepted version AWSCURRENT left: it never was a previous password.
      if (holder !== undefined) await updateStage(name, { VersionStage: LABEL_PREVIOUS, RemoveFromVersionId: holder });
      logger?.warn({ op: 'ensureSecret', secret: name, movedFrom: holder }, 'vault: AWSCURRENT moved to the "no password known yet" version');
    } catch (error) {
      // A racing worker did the same: fine if AWSCURRENT is now safe.
      const fresh = await describeRaw(name);
      const now = fresh ? holderOf(stageMapOf(fresh), LABEL_CURRENT) : undefined;
      if (now === NO_PASSWORD_YET_VERSION_ID) return;
      throw toVaultError(error, context);
    }
  }

  const describeInOrder = describeQueue((key) => vault.describe(key));

  const vault: Vault = {
    async ensureSecret(key) {
      const name = template.render(key);
      if (existing.has(name)) return;
      const described = missing.has(name) ? undefined : await describeRaw(name);
      if (described !== undefined) {
        if (described.DeletedDate !== undefined) {
          throw vaultError(VaultErrorCode.secretDeleted, { operation: 'CreateSecret', secretName: name }, 'a secret with this name is scheduled for deletion (RestoreSecret it, or delete it for good)');
        }
        // Perhaps left by an older release without a first version: once safe, it stays so.
        await ensureCurrentIsSafe(name, described);
        existing.add(name);
        return;
      }
      try {
        await client.send(
          new CreateSecretCommand({
            Name: name,
            Description: description,
            ...(options.kmsKeyId !== undefined ? { KmsKeyId: options.kmsKeyId } : {}),
            Tags: tagsFor(key),
            // The first version carries AWSCURRENT (AWS attaches it): make it the "no password yet" one.
            SecretString: NO_PASSWORD_YET_VALUE,
            ClientRequestToken: NO_PASSWORD_YET_VERSION_ID,
          }),
        );
        logger?.debug({ op: 'CreateSecret', secret: name }, 'vault secret created');
        missing.delete(name);
        existing.add(name);
      } catch (error) {
        const errorName = awsErrorName(error);
        if (errorName === 'ResourceExistsException') {
          // Created before, or by a racing worker; perhaps by an older release, without a first version.
          missing.delete(name);
          await ensureCurrentIsSafe(name);
          existing.add(name);
          return;
        }
        const context = { operation: 'CreateSecret', secretName: name };
        if (errorName === 'InvalidRequestException') {
          const existing = await describeRaw(name);
          if (existing?.DeletedDate !== undefined) {
            throw vaultError(VaultErrorCode.secretDeleted, context, 'a secret with this name is scheduled for deletion (RestoreSecret it, or delete it for good)', false, error);
          }
        }
        throw toVaultError(error, context);
      }
    },

    async putPending(key, token, value, alsoLabels = []) {
      const name = template.render(key);
      const secrets = [value.password];
      const context: ErrorContext = { operation: 'PutSecretValue', secretName: name, versionId: token, secrets };
      validateVersionToken(token, context);
      for (const label of alsoLabels) {
        if (label === LABEL_CURRENT || label === LABEL_PREVIOUS || label === LABEL_PENDING || typeof label !== 'string' || label.length < 1 || label.length > 256) {
          throw vaultError(VaultErrorCode.invalidRequest, context, `alsoLabels: expected custom labels of 1 to 256 characters, found ${JSON.stringify(String(label)).slice(0, 80)}`);
        }
      }
      const secretString = encodeSecretPayload(value);
      context.secrets = [value.password, secretString];
      let response;
      try {
        response = await client.send(
          new PutSecretValueCommand({
            SecretId: name,
            ClientRequestToken: token,
            SecretString: secretString,
            // Explicit: without VersionStages AWS would move AWSCURRENT to an unconfirmed password.
            // AWS moves each of these labels off the version holding it ("If you specify a staging
            // label that's already associated with a different version of the same secret, then
            // Secrets Manager removes the label from the other version and attaches it to this version.").
            VersionStages: [LABEL_PENDING, ...alsoLabels],
          }),
        );
      } catch (error) {
        const errorName = awsErrorName(error);
        if (errorName === 'ResourceExistsException') {
          throw vaultError(VaultErrorCode.tokenReused, context, 'this version token already holds a different value (a caller bug: tokens are per batch and generation)', false, error);
        }
        if (errorName === 'ResourceNotFoundException') {
          existing.delete(name);
          throw vaultError(VaultErrorCode.secretNotFound, context, 'the secret does not exist (ensureSecret first)', false, error);
        }
        throw toVaultError(error, context);
      }
      existing.add(name);
      logger?.debug({ op: 'PutSecretValue', secret: name, versionId: token, labels: response.VersionStages }, 'vault pending version stored');
      // "The list of staging labels that are currently attached to this version of the secret" (also
      // on a replay, which changes nothing): what the caller would otherwise read back.
      return { labels: response.VersionStages ?? [] };
    },

    async getVersion(key, selector: VersionSelector): Promise<SecretVersion | undefined> {
      const name = template.render(key);
      const byId = 'versionId' in selector;
      const context: ErrorContext = { operation: 'GetSecretValue', secretName: name, versionId: byId ? selector.versionId : undefined };
      if (byId && (!TOKEN_PATTERN.test(selector.versionId) || selector.versionId === NO_PASSWORD_YET_VERSION_ID)) return undefined;
      let response;
      try {
        response = await client.send(
          new GetSecretValueCommand(byId ? { SecretId: name, VersionId: selector.versionId } : { SecretId: name, VersionStage: selector.label }),
        );
      } catch (error) {
        if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
        throw toVaultError(error, context);
      }
      const versionId = response.VersionId ?? '';
      if (versionId === NO_PASSWORD_YET_VERSION_ID) return undefined; // holds no password
      const where = `${name} version ${versionId}`;
      const value: SecretPayload = decodeSecretPayload(response.SecretString, where);
      return {
        versionId,
        labels: response.VersionStages ?? [],
        createdAt: response.CreatedDate?.getTime() ?? 0,
        value,
      };
    },

    async describe(key) {
      const name = template.render(key);
      return describeByName(name, key);
    },

    async promote(key, versionId, expectedCurrent) {
      const name = template.render(key);
      const context: ErrorContext = { operation: 'promote', secretName: name, versionId };
      validateVersionToken(versionId, context);
      if (versionId === NO_PASSWORD_YET_VERSION_ID) throw vaultError(VaultErrorCode.versionNotFound, context, 'no such version');
      if (expectedCurrent === versionId) {
        // The caller read it current already (a replay): confirm with a read, write nothing.
        const stages = await stagesOf(name, 'promote');
        const holder = portVersion(holderOf(stages, LABEL_CURRENT));
        if (holder === versionId) return;
        if (!(await versionExists(name, stages, versionId))) throw vaultError(VaultErrorCode.versionNotFound, context, 'no such version');
        throw vaultError(VaultErrorCode.currentChanged, context, `AWSCURRENT is on ${holder ?? 'no version'}, expected ${versionId}`);
      }
      // The compare-and-swap in one write, without reading first: AWS refuses the move unless
      // RemoveFromVersionId names the version holding AWSCURRENT. Through the port "no version" is
      // the "no password yet" version. AWSPREVIOUS follows by itself ("Whenever you move AWSCURRENT,
      // Secrets Manager automatically moves the label AWSPREVIOUS to the version that AWSCURRENT was
      // removed from.", API_UpdateSecretVersionStage); AWSPENDING stays (see the port).
      const expectedHolder = expectedCurrent ?? NO_PASSWORD_YET_VERSION_ID;
      try {
        await updateStage(name, { VersionStage: LABEL_CURRENT, MoveToVersionId: versionId, RemoveFromVersionId: expectedHolder });
        return;
      } catch (error) {
        if (!isStageConflict(error) && awsErrorName(error) !== 'ResourceNotFoundException') {
          throw toVaultError(error, { ...context, operation: 'UpdateSecretVersionStage' });
        }
        // Refused: find out why, in the port's order (an unknown version first).
        const stages = await stagesOf(name, 'promote');
        if (!(await versionExists(name, stages, versionId))) throw vaultError(VaultErrorCode.versionNotFound, context, 'no such version', false, error);
        const holder = holderOf(stages, LABEL_CURRENT);
        const current = portVersion(holder);
        // A concurrent replay of this same promotion won: that is success.
        if (current === versionId) return;
        if (current !== expectedCurrent) {
          throw vaultError(VaultErrorCode.currentChanged, context, `AWSCURRENT is on ${current ?? 'no version'}, expected ${expectedCurrent ?? 'no version'}`, false, error);
        }
        // As expected through the port, but not as sent: only a secret left by an older release
        // with no version holding AWSCURRENT at all (then the move needs no RemoveFromVersionId).
        if (holder !== undefined) throw toVaultError(error, { ...context, operation: 'UpdateSecretVersionStage' });
      }
      try {
        await updateStage(name, { VersionStage: LABEL_CURRENT, MoveToVersionId: versionId });
      } catch (error) {
        if (!isStageConflict(error)) throw toVaultError(error, { ...context, operation: 'UpdateSecretVersionStage' });
        const now = portVersion(holderOf(await stagesOf(name, 'promote'), LABEL_CURRENT));
        if (now !== versionId) {
          throw vaultError(VaultErrorCode.currentChanged, context, `AWSCURRENT moved to ${now ?? 'no version'} meanwhile, expected ${expectedCurrent ?? 'no version'}`, false, error);
        }
      }
    },

    async removeLabel(key, label, versionId) {
      const name = template.render(key);
      const context: ErrorContext = { operation: 'removeLabel', secretName: name, versionId };
      if (label === LABEL_CURRENT) {
        throw vaultError(VaultErrorCode.invalidRequest, context, 'AWSCURRENT cannot be removed, only moved by promote');
      }
      const stages = await stagesOf(name, 'removeLabel');
      await removeIfHeld(name, label, versionId, stages, 'removeLabel');
    },

    async moveLabel(key, label, versionId) {
      const name = template.render(key);
      const context: ErrorContext = { operation: 'moveLabel', secretName: name, versionId };
      if (label === LABEL_CURRENT) {
        throw vaultError(VaultErrorCode.invalidRequest, context, 'AWSCURRENT moves only by promote (compare-and-swap)');
      }
      if (typeof label !== 'string' || label.length < 1 || label.length > 256) {
        throw vaultError(VaultErrorCode.invalidRequest, context, 'label: expected 1 to 256 characters');
      }
      // A racing move of the same label makes RemoveFromVersionId stale; re-read and try again.
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const stages = await stagesOf(name, 'moveLabel');
        const holder = holderOf(stages, label);
        if (holder === versionId) return;
        if (!(await versionExists(name, stages, versionId))) {
          throw vaultError(VaultErrorCode.versionNotFound, context, 'no such version');
        }
        try {
          await updateStage(name, { VersionStage: label, MoveToVersionId: versionId, RemoveFromVersionId: holder });
          return;
        } catch (error) {
          if (awsErrorName(error) === 'ResourceNotFoundException') {
            throw vaultError(VaultErrorCode.versionNotFound, context, 'no such version (or secret)', false, error);
          }
          if (!isStageConflict(error)) throw toVaultError(error, { ...context, operation: 'UpdateSecretVersionStage' });
        }
      }
      throw vaultError(VaultErrorCode.labelConflict, context, `label ${label} kept moving under concurrent updates`, true);
    },

    async *list(filter = {}) {
      const filters: Filter[] = [
        { Key: 'tag-key', Values: [MANAGED_BY_TAG.key] },
        { Key: 'tag-value', Values: [MANAGED_BY_TAG.value] },
      ];
      const prefix = template.prefixFor(filter);
      if (prefix.length > 0) filters.push({ Key: 'name', Values: [prefix] });
      let nextToken: string | undefined;
      do {
        const page = await client
          .send(new ListSecretsCommand({ Filters: filters, MaxResults: 100, NextToken: nextToken }))
          .catch((error: unknown) => {
            throw toVaultError(error, { operation: 'ListSecrets', secretName: prefix || '*' });
          });
        for (const entry of page.SecretList ?? []) {
          const name = entry.Name;
          if (name === undefined || entry.DeletedDate !== undefined) continue;
          // tag-key and tag-value filters match independently: check the pair here.
          if (tagValue(entry.Tags, MANAGED_BY_TAG.key) !== MANAGED_BY_TAG.value) continue;
          const serverId = tagValue(entry.Tags, TAG_SERVER_ID);
          const region = tagValue(entry.Tags, TAG_REGION);
          const projectId = tagValue(entry.Tags, TAG_PROJECT_ID);
          const key = serverId && region && projectId ? { region, projectId, serverId } : template.parse(name);
          if (!key) continue;
          if (filter.region !== undefined && key.region !== filter.region) continue;
          if (filter.projectId !== undefined && key.projectId !== filter.projectId) continue;
          const description = await describeByName(name, key);
          if (description) yield description;
        }
        nextToken = page.NextToken;
      } while (nextToken);
    },

    // Secrets Manager has no batch write: the batch's secrets concurrently, under the write limiter.
    writeMany(writes) {
      return writeManyBySecret(vault, writes);
    },

    // One queue for the process's batches: the first batch's reads are answered first (vault-batch.ts).
    describeMany(keys) {
      return describeInOrder(keys);
    },

    async close() {
      client.destroy();
    },
  };

  async function describeByName(name: string, key: SecretKey): Promise<SecretDescription | undefined> {
    // Both reads at once: one round trip, and a batch's reads queue for the HTTP pool together
    // rather than each second read behind every other batch's first. The versions of a secret that
    // does not exist (or is being deleted) are not asked for again.
    const [response, listed] = await Promise.all([
      describeRaw(name),
      listVersions(name, false).catch((error: unknown) => error as Error),
    ]);
    // What this read tells `ensureSecret`, which then needs no read of its own.
    if (response === undefined) missing.add(name);
    else missing.delete(name);
    if (response !== undefined && response.DeletedDate === undefined && currentIsSafe(response)) existing.add(name);
    if (!response || response.DeletedDate !== undefined) return undefined;
    // A first pending password an older release let AWS make current is shown as ensureSecret will
    // leave it (AWSCURRENT on no version): its reset is unsettled, and it is resent, not taken as accepted.
    const unaccepted = currentIsSafe(response) ? undefined : holderOf(stageMapOf(response), LABEL_CURRENT);
    if (listed instanceof Error) throw listed;
    const versions = listed
      .filter((v) => v.labels.length > 0 && v.versionId !== NO_PASSWORD_YET_VERSION_ID)
      .map((v) => (v.versionId === unaccepted ? { ...v, labels: v.labels.filter((l) => l !== LABEL_CURRENT) } : v));
    return {
      name,
      key: { region: key.region, projectId: key.projectId, serverId: key.serverId },
      versions,
      lastChangedAt: response.LastChangedDate?.getTime(),
    };
  }

  return vault;
}
