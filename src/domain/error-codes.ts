/**
 * The catalogue of error and outcome codes: every code rotator produces or compares is named here
 * once, and imported wherever it is produced or compared. A `RotatorError.code` is one of these, a
 * Huawei code passed through (`Ecs.0011`), or an AWS exception name the vault could not map.
 */

/** Huawei API codes rotator makes decisions on (Huawei's ECS API reference: error codes). */
export const HuaweiCode = {
  /** API gateway: request rate over the limit (429). */
  throttled: 'APIGW.0308',
  /** Service busy; Huawei asks to slow down. */
  serviceBusy: 'Common.1503',
  /** The password breaks Huawei's rules: such a password was never set anywhere. */
  passwordRules: 'Ecs.0011',
  /** Other commands are running on the server; retry about a minute later. */
  otherCommandsRunning: 'Ecs.0603',
  /** The one-click reset plug-in check failed (per server in a batch reset's answer). */
  pluginCheckFailed: 'Ecs.0612',
  /** The one-click reset plug-in is not installed (per server in a batch reset's answer). */
  pluginMissing: 'Ecs.0613',
} as const;

/** Codes that mean "slow down" rather than "this attempt failed": the batch stops and the queue pauses. */
export const THROTTLE_CODES: readonly string[] = Object.freeze([
  HuaweiCode.throttled,
  HuaweiCode.serviceBusy,
  // AWS exception names, for an SDK error that reaches the queue unmapped.
  'ThrottlingException',
  'TooManyRequestsException',
]);

export function isThrottleCode(code: string): boolean {
  return THROTTLE_CODES.includes(code);
}

/**
 * Codes of the vault port, shared by both vaults (file vault and AWS Secrets Manager). Messages
 * name secrets, versions, labels and paths only: never a value.
 */
export const VaultErrorCode = {
  /** The secret does not exist (call ensureSecret first). */
  secretNotFound: 'VAULT_SECRET_NOT_FOUND',
  /** The version id is unknown. */
  versionNotFound: 'VAULT_VERSION_NOT_FOUND',
  /** A token was reused with another value (a bug in the caller, or a replayed write). */
  tokenReused: 'VAULT_TOKEN_REUSED',
  /** promote's compare-and-swap lost (AWSCURRENT is not on the expected version). */
  currentChanged: 'VAULT_CURRENT_CHANGED',
  /** A request the vault refuses whatever its state (bad token, label, …). */
  invalidRequest: 'VAULT_INVALID_REQUEST',
  /** The vault was closed. */
  closed: 'VAULT_CLOSED',
  /** File vault: the key does not decrypt the file, or the file was altered/truncated. */
  wrongKeyOrCorrupt: 'VAULT_WRONG_KEY_OR_CORRUPT',
  /** File vault: another process held the lock for longer than lockTimeoutMs. */
  lockTimeout: 'VAULT_LOCK_TIMEOUT',
  /** File vault: the key is missing, malformed or the wrong length. */
  invalidKey: 'VAULT_INVALID_KEY',
  /** File vault: a file-system call failed. */
  io: 'VAULT_IO_ERROR',
  /** File vault: the configured file does not exist and creating it was not asked for. */
  notFound: 'VAULT_NOT_FOUND',
  /** AWS: request rate over the quota. */
  throttled: 'VAULT_THROTTLED',
  /** AWS: the service or the network failed; another attempt may succeed. */
  unavailable: 'VAULT_UNAVAILABLE',
  accessDenied: 'VAULT_ACCESS_DENIED',
  /** AWS: the secret is scheduled for deletion. */
  secretDeleted: 'VAULT_SECRET_DELETED',
  labelConflict: 'VAULT_LABEL_CONFLICT',
  kms: 'VAULT_KMS_ERROR',
  limitExceeded: 'VAULT_LIMIT_EXCEEDED',
  requestFailed: 'VAULT_REQUEST_FAILED',
  /** AWS: a stored value is not a secret payload rotator wrote. */
  payloadInvalid: 'VAULT_PAYLOAD_INVALID',
  /** AWS: the vault's settings are unusable (name template, region). */
  configInvalid: 'VAULT_CONFIG_INVALID',
} as const;

/** Codes of the service itself: configuration, targets, batch input. */
export const ServiceErrorCode = {
  unknownTarget: 'UNKNOWN_TARGET',
  targetDisabled: 'TARGET_DISABLED',
  /** An operator's server list names servers outside the target. */
  serversNotInTarget: 'SERVERS_NOT_IN_TARGET',
  /** A selector with neither ids nor filters (never "the whole project" by accident). */
  selectorEmpty: 'SELECTOR_EMPTY',
  invalidBatch: 'INVALID_BATCH',
  /** A batch job that does not agree with its run and target (src/rotation/batch-admission.ts). */
  batchNotAdmitted: 'BATCH_NOT_ADMITTED',
  redisUnavailable: 'REDIS_UNAVAILABLE',
  configUnknownAccount: 'CONFIG_UNKNOWN_ACCOUNT',
  configCredentialsMissing: 'CONFIG_CREDENTIALS_MISSING',
  configHttpTokenMissing: 'CONFIG_HTTP_TOKEN_MISSING',
  /** A command line the CLI cannot act on (conflicting options). */
  cliUsage: 'CLI_USAGE',
  /** `rotator vault get <server>` found secrets of that server in several projects. */
  cliAmbiguousServer: 'CLI_AMBIGUOUS_SERVER',
  /** Not a RotatorError: a bug, reported under this code. */
  internal: 'INTERNAL',
} as const;

/** Codes of the ECS client (besides Huawei's own codes, which it passes through). */
export const EcsClientErrorCode = {
  aborted: 'ABORTED',
  credentialsUnavailable: 'CREDENTIALS_UNAVAILABLE',
  invalidArgument: 'INVALID_ARGUMENT',
  batchEmpty: 'BATCH_EMPTY',
  batchTooLarge: 'BATCH_TOO_LARGE',
  badResponse: 'BAD_RESPONSE',
  jobDeadline: 'JOB_DEADLINE',
  networkError: 'NETWORK_ERROR',
  /** A batch answer listed a server both as accepted and as failed. */
  contradictoryAnswer: 'CONTRADICTORY_ANSWER',
  /** A server missing from the answer of an accepted batch call. */
  notInResponse: 'NOT_IN_RESPONSE',
  /**
   * A reset refused on a resend, after an earlier attempt of the same call that Huawei may have
   * carried out (a 5xx, a timeout, a reset connection): the refusal may be the first attempt's doing.
   */
  refusedAfterUncertainAttempt: 'REFUSED_AFTER_UNCERTAIN_ATTEMPT',
  /** An answer larger than the call's cap: not read further, the connection destroyed. */
  responseTooLarge: 'RESPONSE_TOO_LARGE',
} as const;

/** Codes of verification by login (src/rotation/verify-server.ts, src/adapters/ssh/). */
export const VerificationCode = {
  /** Accepted and restarted, but the new password does not log in (the in-guest reset did not apply it). */
  notInEffect: 'NOT_IN_EFFECT',
  /** The server refused every labelled password: the one in effect is not in the vault. */
  noLabelledPasswordLogsIn: 'NO_LABELLED_PASSWORD_LOGS_IN',
  /** The vault holds no labelled password for the server yet. */
  noLabelledPassword: 'NO_LABELLED_PASSWORD',
  /** Windows servers are not verified by SSH. */
  windows: 'WINDOWS',
  /** The OS type is unknown, so is the login to verify. */
  osTypeUnknown: 'OS_TYPE_UNKNOWN',
  /** The ECS detail lists no address of the configured kind. */
  noAddress: 'NO_ADDRESS',
  /** The target's `verify.method` is none. */
  verifyOff: 'VERIFY_OFF',
  /** The server refused the password. */
  loginRefused: 'LOGIN_REFUSED',
  /** The host key differs from the one recorded on first contact; no password was sent. */
  hostKeyChanged: 'HOST_KEY_CHANGED',
  /** The recorded host key could not be read; no password was sent. */
  hostKeyStoreUnavailable: 'HOST_KEY_STORE_UNAVAILABLE',
  /** No SSH handshake, or no answer to the login, within the timeout. */
  timeout: 'TIMEOUT',
  aborted: 'ABORTED',
  /** The connection closed before the login finished. */
  connectionClosed: 'CONNECTION_CLOSED',
  /** An SSH protocol error without a socket code. */
  sshError: 'SSH_ERROR',
} as const;

/** Reason codes of `skipped`, `busy` and `unknown` outcomes (ServerOutcome.code) set by the rotation. */
export const OutcomeCode = {
  dryRun: 'dry-run',
  busy: 'busy',
  lockLost: 'lock-lost',
  notFound: 'not-found',
  awaitingRestart: 'awaiting-restart',
  /** Eligibility (src/rotation/eligibility.ts). */
  locked: 'locked',
  status: 'status',
  osTypeUnknown: 'os-type-unknown',
  noResetPlugin: 'no-reset-plugin',
  /** `rotator ecs servers`: the reset-plug-in flag could not be read. */
  flagCheckFailed: 'flag-check-failed',
  /** A server the reset call's answer did not classify. */
  noResult: 'NO_RESULT',
  /** A server no step settled (a bug; reported, never hidden). */
  unsettled: 'UNSETTLED',
} as const;
