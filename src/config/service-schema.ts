/**
 * The service configuration: `config/default.yaml` with an operator's file deep-merged over it.
 *
 * Every field is documented in config/default.yaml and README.md ("Configuration reference").
 * default.yaml is the single source of defaults for the service file, so the schema requires what it
 * provides; only list items (accounts) carry schema defaults, because a list in an override replaces
 * the default list whole. Objects are strict: an unknown key (a typo, or a credential pasted into YAML)
 * is an error.
 */
import { z } from 'zod';
import { AWS_REGION_PATTERN, awsEndpointProblem, awsTagProblem } from './aws-secrets-manager-rules.js';
import { booleanField, enumField, filePath, intRange, nonEmptyString, positiveNumber, resourceName } from './schema-helpers.js';

const WORKER_CONCURRENCY_EXPECTED = 'auto, or an integer from 1 to 256';
const HEAP_TARGET_EXPECTED = "a whole number of MiB from 0 (off: V8's own defaults) to 1048576";

/** The `endpoint` value that points an account at the ECS simulator (`simulator.host`/`port`). */
export const SIMULATOR_ENDPOINT = 'simulator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const ENDPOINT_EXPECTED = `"${SIMULATOR_ENDPOINT}" or an http(s) URL with no path, query or user info (e.g. https://ecs.cn-north-4.myhuaweicloud.com)`;

const endpoint = z.string({ error: ENDPOINT_EXPECTED }).refine(
  (value) => {
    if (value === SIMULATOR_ENDPOINT) return true;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.username === '' &&
      url.password === '' &&
      (url.pathname === '/' || url.pathname === '') &&
      url.search === '' &&
      url.hash === ''
    );
  },
  { error: ENDPOINT_EXPECTED },
);

const HOST_NAME_EXPECTED = 'a host name or IP address without port (e.g. rotator.example.com)';
const ORIGIN_EXPECTED = 'an origin: http(s)://host[:port] with no path (e.g. https://rotator.example.com)';

const REGION_EXPECTED = 'a region id of lowercase letters, digits and "-" (e.g. cn-north-4)';
const region = z.string({ error: REGION_EXPECTED }).regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: REGION_EXPECTED });
const PROJECT_ID_EXPECTED = 'a Huawei project id: 32 lowercase hexadecimal characters';

const accountSchema = z
  .strictObject({
    name: resourceName,
    region,
    projectId: z.string({ error: PROJECT_ID_EXPECTED }).regex(/^[0-9a-f]{32}$/, { error: PROJECT_ID_EXPECTED }),
    endpoint: endpoint.optional(),
    auth: enumField(['aksk', 'token'] as const).default('aksk'),
    requestTimeoutMs: intRange(100, 600_000).default(15_000),
    requestsPerSecond: positiveNumber(1000).default(20),
    maxAttempts: intRange(1, 20).default(5),
  })
  .transform((account) => ({
    ...account,
    // Huawei's public endpoint for the region when none is given; stored without a trailing slash.
    endpoint:
      account.endpoint === undefined
        ? `https://ecs.${account.region}.myhuaweicloud.com`
        : account.endpoint === SIMULATOR_ENDPOINT
          ? SIMULATOR_ENDPOINT
          : account.endpoint.replace(/\/+$/, ''),
  }));

const NAME_TEMPLATE_EXPECTED =
  'a secret name template containing {serverId}, using only {region}, {projectId}, {serverId} and the characters A-Z a-z 0-9 / _ + = . @ -';

const awsSecretsManagerSchema = z.strictObject({
  region: nonEmptyString('an AWS region such as eu-central-1').regex(AWS_REGION_PATTERN, { error: 'an AWS region such as eu-central-1 (lowercase letters, digits, dashes)' }),
  endpoint: z
    .url({ error: 'an http(s) URL' })
    .refine((u) => awsEndpointProblem(u) === undefined, { error: 'an http(s) URL' })
    .optional(),
  nameTemplate: z
    .string({ error: NAME_TEMPLATE_EXPECTED })
    // Without {serverId} every server would share one secret: a later write would bury the previous
    // server's password under a newer version (invariant 1), so it is a hard error.
    .refine((t) => t.includes('{serverId}') && /^(?:[A-Za-z0-9/_+=.@-]|\{(?:region|projectId|serverId)\})+$/.test(t), {
      error: NAME_TEMPLATE_EXPECTED,
    }),
  kmsKeyId: nonEmptyString('a KMS key id, ARN or alias').optional(),
  description: z.string({ error: 'a string' }).max(2048).optional(),
  tags: z
    .record(nonEmptyString('a tag key'), z.string({ error: 'a string (quote values such as "true")' }))
    .superRefine((tags, ctx) => {
      // The vault refuses these when it opens: report them here, naming the tag.
      for (const [key, value] of Object.entries(tags)) {
        const problem = awsTagProblem(key, value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: problem, input: value });
      }
    }),
  writesPerSecond: positiveNumber(1000),
  retryMode: enumField(['standard', 'adaptive'] as const),
  maxAttempts: intRange(1, 10),
});

const vaultSchema = z.strictObject({
  kind: enumField(['file', 'aws-secrets-manager'] as const),
  file: z.strictObject({
    path: filePath,
    keyFile: filePath.optional(),
  }),
  awsSecretsManager: z
    .strictObject({
      ...awsSecretsManagerSchema.shape,
      // default.yaml ships every field but the region; it becomes required when kind selects AWS.
      region: awsSecretsManagerSchema.shape.region.optional(),
    })
    .optional(),
}).superRefine((vault, ctx) => {
  if (vault.kind === 'aws-secrets-manager' && vault.awsSecretsManager?.region === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['awsSecretsManager', 'region'],
      message: 'an AWS region such as eu-central-1 (required when vault.kind is aws-secrets-manager)',
      input: undefined,
    });
  }
});

const keepJobsSchema = z.strictObject({
  count: intRange(0, 1_000_000),
  ageSeconds: intRange(0, 365 * 24 * 3600),
});

export const NOTIFICATION_EVENTS = ['run-failed', 'server-overdue', 'server-recovered'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

const channelSchema = z.strictObject({
  name: resourceName,
  kind: enumField(['webhook', 'slack'] as const),
  // Optional: the URL may come from ROTATOR_NOTIFY_URL__<NAME> instead (always, for Slack: its URL is a secret).
  url: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL' })
    .optional(),
  events: z.array(enumField(NOTIFICATION_EVENTS), { error: `a list of ${NOTIFICATION_EVENTS.join(', ')}` }).min(1).default([...NOTIFICATION_EVENTS]),
  targets: enumField(['all', 'listed'] as const).default('all'),
  maxAttempts: intRange(1, 20).default(5),
  timeoutMs: intRange(100, 120_000).default(10_000),
});

export const serviceConfigSchema = z.strictObject({
  redis: z.strictObject({
    url: z
      .string({ error: 'a redis:// or rediss:// URL' })
      .refine((u) => /^rediss?:\/\/[^\s]+$/.test(u) && URL.canParse(u), { error: 'a redis:// or rediss:// URL' }),
    keyPrefix: z
      .string({ error: 'a key prefix of letters, digits, "_", "-" (braces allowed for a Redis Cluster hash tag)' })
      .regex(/^[A-Za-z0-9_{}-]{1,64}$/, {
        error: 'a key prefix of letters, digits, "_", "-" (braces allowed for a Redis Cluster hash tag)',
      }),
  }),
  accounts: z
    .array(accountSchema, { error: 'a list of accounts' })
    .min(1, { error: 'at least one account' })
    .superRefine((accounts, ctx) => {
      const seen = new Set<string>();
      accounts.forEach((account, index) => {
        if (seen.has(account.name)) {
          ctx.addIssue({ code: 'custom', path: [index, 'name'], message: 'an account name not used by another account', input: account.name });
        }
        seen.add(account.name);
      });
    }),
  vault: vaultSchema,
  http: z.strictObject({
    host: nonEmptyString('a host name or IP address to listen on'),
    port: intRange(0, 65_535),
    auth: z.strictObject({ mode: enumField(['none', 'token'] as const) }),
    readOnly: booleanField,
    allowedHosts: z.array(
      z.string({ error: HOST_NAME_EXPECTED }).regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?\.?)+$|^\[?[0-9A-Fa-f:.]+\]?$/, { error: HOST_NAME_EXPECTED }),
      { error: `a list of ${HOST_NAME_EXPECTED}s` },
    ),
    allowedOrigins: z.array(
      z.string({ error: ORIGIN_EXPECTED }).regex(/^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/, { error: ORIGIN_EXPECTED }),
      { error: `a list of ${ORIGIN_EXPECTED}s` },
    ),
    allowUnauthenticatedNetwork: booleanField,
  }),
  limits: z.strictObject({
    workerConcurrency: z.union(
      [z.literal('auto'), z.int({ error: WORKER_CONCURRENCY_EXPECTED }).min(1, { error: WORKER_CONCURRENCY_EXPECTED }).max(256, { error: WORKER_CONCURRENCY_EXPECTED })],
      { error: WORKER_CONCURRENCY_EXPECTED },
    ),
    lockTtlMs: intRange(1_000, 3_600_000),
    keepCompletedJobs: keepJobsSchema,
    keepFailedJobs: keepJobsSchema,
    auditStreamMaxLen: intRange(100, 100_000_000),
    shutdownGraceMs: intRange(0, 600_000),
    maxStalledCount: intRange(1, 100),
    heapTargetMb: z.int({ error: HEAP_TARGET_EXPECTED }).min(0, { error: HEAP_TARGET_EXPECTED }).max(1_048_576, { error: HEAP_TARGET_EXPECTED }),
  }),
  scheduler: z.strictObject({ catchUp: booleanField }),
  simulator: z.strictObject({
    enabled: booleanField,
    host: nonEmptyString('a host name or IP address to listen on'),
    port: intRange(0, 65_535),
    servers: intRange(0, 100_000),
    seed: intRange(0, 2 ** 31 - 1),
    sshPort: intRange(0, 65_535),
  }),
  logging: z.strictObject({
    level: enumField(LOG_LEVELS),
    format: enumField(['auto', 'json', 'pretty'] as const),
  }),
  notifications: z.strictObject({
    checkIntervalSeconds: intRange(10, 86_400),
    channels: z
      .array(channelSchema, { error: 'a list of notification channels' })
      .superRefine((channels, ctx) => {
        const seen = new Set<string>();
        channels.forEach((channel, index) => {
          if (seen.has(channel.name)) {
            ctx.addIssue({ code: 'custom', path: [index, 'name'], message: 'a channel name not used by another channel', input: channel.name });
          }
          seen.add(channel.name);
          if (channel.kind === 'slack' && channel.url !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'url'],
              message: `no url for a slack channel (a Slack webhook URL is a secret: set ROTATOR_NOTIFY_URL__${channel.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')} or its _FILE form)`,
              input: 'a URL',
            });
          }
        });
      }),
  }),
});

/** One Huawei Cloud account/project the service may act in. Credentials never live here. */
export interface AccountConfig {
  /** Unique; `[a-z0-9-]`. Names the account-specific credential variables (`HUAWEI_AK__<NAME>`). */
  readonly name: string;
  /** Huawei region id, e.g. `cn-north-4`. */
  readonly region: string;
  /** The project id of that region (32 hex characters). */
  readonly projectId: string;
  /**
   * `"simulator"` (the built-in ECS simulator at `simulator.host:port`, with its demo credentials) or
   * an http(s) base URL without a trailing slash.
   * @defaultValue `https://ecs.{region}.myhuaweicloud.com`
   */
  readonly endpoint: string;
  /** `aksk` (SDK-HMAC-SHA256 signing) or `token` (X-Auth-Token). @defaultValue `aksk` */
  readonly auth: 'aksk' | 'token';
  /** Per HTTP request. @defaultValue 15000 */
  readonly requestTimeoutMs: number;
  /** Client-side limit shared by all workers (in Redis). @defaultValue 20 */
  readonly requestsPerSecond: number;
  /** Attempts per API call for transient failures (429, 5xx, network). @defaultValue 5 */
  readonly maxAttempts: number;
}

export interface AwsSecretsManagerConfig {
  readonly region: string;
  /** Custom endpoint (LocalStack, VPC endpoint). */
  readonly endpoint?: string | undefined;
  /** Secret name; placeholders `{region}`, `{projectId}`, `{serverId}`. @defaultValue `ecs/{region}/{projectId}/{serverId}` */
  readonly nameTemplate: string;
  readonly kmsKeyId?: string | undefined;
  readonly description?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /** Client-side limit on write calls (AWS allows 50/s per region and account). @defaultValue 40 */
  readonly writesPerSecond: number;
  /** AWS SDK retry mode. @defaultValue `standard` */
  readonly retryMode: 'standard' | 'adaptive';
  /** AWS SDK attempts per call. @defaultValue 3 */
  readonly maxAttempts: number;
}

export interface FileVaultConfig {
  /** Absolute path of the encrypted vault file (relative paths in YAML resolve against the working directory). */
  readonly path: string;
  /** Absolute path of the key file (base64 of 32 bytes, or 32 raw bytes); env ROTATOR_VAULT_KEY(_FILE) wins. */
  readonly keyFile?: string | undefined;
}

export type VaultConfig =
  | { readonly kind: 'file'; readonly file: FileVaultConfig; readonly awsSecretsManager?: Partial<AwsSecretsManagerConfig> | undefined }
  | { readonly kind: 'aws-secrets-manager'; readonly file: FileVaultConfig; readonly awsSecretsManager: AwsSecretsManagerConfig };

export interface KeepJobs {
  readonly count: number;
  readonly ageSeconds: number;
}

export interface ServiceConfig {
  readonly redis: { readonly url: string; readonly keyPrefix: string };
  readonly accounts: readonly AccountConfig[];
  readonly vault: VaultConfig;
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** `token`: every request needs `Authorization: Bearer <ROTATOR_HTTP_TOKEN>`. */
    readonly auth: { readonly mode: 'none' | 'token' };
    /** When true the HTTP API cannot enqueue runs or change anything. */
    readonly readOnly: boolean;
    /** Host names the server answers to besides `host` and the localhost names (DNS-rebinding guard). */
    readonly allowedHosts: readonly string[];
    /** Origins besides the server's own allowed to send writes (a TLS proxy's public origin). */
    readonly allowedOrigins: readonly string[];
    /** Lets a non-loopback `host` run with `auth.mode: none` (refused otherwise). */
    readonly allowUnauthenticatedNetwork: boolean;
  };
  readonly limits: {
    /** Batch jobs per worker process; `auto`: see `src/config/worker-concurrency.ts`. */
    readonly workerConcurrency: number | 'auto';
    readonly lockTtlMs: number;
    readonly keepCompletedJobs: KeepJobs;
    readonly keepFailedJobs: KeepJobs;
    readonly auditStreamMaxLen: number;
    readonly shutdownGraceMs: number;
    readonly maxStalledCount: number;
    /**
     * Soft heap target of a service process, in MiB (src/heap-policy.ts): V8 collects garbage more
     * eagerly as the heap nears it, but the process never stops because of it. 0: V8's defaults.
     */
    readonly heapTargetMb: number;
  };
  readonly scheduler: { readonly catchUp: boolean };
  readonly simulator: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly servers: number;
    readonly seed: number;
    /** SSH port of the simulated Linux servers (0: any free one); used when a simulator target verifies by ssh. */
    readonly sshPort: number;
  };
  readonly logging: { readonly level: LogLevel; readonly format: 'auto' | 'json' | 'pretty' };
  readonly notifications: {
    /** How often overdue/recovered transitions are checked (also after every run). */
    readonly checkIntervalSeconds: number;
    readonly channels: readonly NotificationChannelConfig[];
  };
}

/** Where notifications go. Secrets (the signing secret, a Slack URL) come from the environment. */
export interface NotificationChannelConfig {
  /** Unique; names its variables (`ROTATOR_NOTIFY_SECRET__<NAME>`, `ROTATOR_NOTIFY_URL__<NAME>`). */
  readonly name: string;
  /** `webhook`: JSON signed with HMAC-SHA256; `slack`: a Slack-compatible incoming webhook. */
  readonly kind: 'webhook' | 'slack';
  /** Webhook URL; else from `ROTATOR_NOTIFY_URL__<NAME>` (always so for Slack). */
  readonly url?: string | undefined;
  /** @defaultValue every event */
  readonly events: readonly NotificationEvent[];
  /** `all` targets, or only those whose job file lists the channel in `notify`. @defaultValue `all` */
  readonly targets: 'all' | 'listed';
  /** Delivery attempts, with exponential backoff. @defaultValue 5 */
  readonly maxAttempts: number;
  /** Per attempt. @defaultValue 10000 */
  readonly timeoutMs: number;
}

// Compile-time check that the schema's output fits the documented interface.
type ParsedService = z.output<typeof serviceConfigSchema>;
type _Fits = ParsedService extends Omit<ServiceConfig, 'vault'> ? true : never;
const fits: _Fits = true;
void fits;
