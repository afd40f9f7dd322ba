/**
 * What one batch of a run is given (its input and its ports) and what it returns (its summary),
 * with the input's validation: the contract of `runBatch` (./run-batch.ts).
 */
import type { Logger } from 'pino';
import type { EcsServer } from '../domain/server.js';
import { MAX_SERVERS_PER_CALL } from '../domain/batch-limits.js';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { OUTCOME_KINDS, type OutcomeKind, type ServerOutcome } from '../domain/outcome.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { PasswordPolicy } from '../policy/password-policy.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { Clock } from '../ports/clock.js';
import type { EcsApi } from '../ports/ecs-api.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RandomSource } from '../ports/random-source.js';
import type { ServerLocks } from '../ports/server-locks.js';
import type { PasswordVerifier } from '../ports/password-verifier.js';
import type { Vault } from '../ports/vault.js';
import { DEFAULT_KEEP_CANDIDATES, MAX_KEEP_CANDIDATES } from './labels.js';
import type { RunPreflight } from './run-preflight.js';
import type { VerifySettings } from './verify-server.js';

export type RestartPolicy = 'none' | 'soft' | 'hard';

export interface BatchTarget {
  name: string;
  region: string;
  projectId: string;
  passwordPolicy: PasswordPolicy;
  /** One password (and one reset call) per server instead of one per batch. */
  uniquePerServer: boolean;
  restartPolicy: RestartPolicy;
  /** Send a `dry_run` reset before writing any secret. */
  dryRunPreflight: boolean;
  /** Verification by login. @defaultValue method `none` */
  verify?: VerifySettings | undefined;
  /** Accepted passwords kept labelled while none is verified (labels.ts). @defaultValue DEFAULT_KEEP_CANDIDATES (3) */
  keepCandidates?: number | undefined;
}

export interface BatchInput {
  runId: string;
  target: BatchTarget;
  batchIndex: number;
  /** 1 to MAX_SERVERS_PER_CALL (1000) server ids (duplicates are ignored): every step makes one call per password. */
  serverIds: string[];
  /**
   * What the run's listing said of some of these servers (status, OS type, lock), so that plan needs
   * no GET per server; a server not described here is read from ECS. It may be minutes old: the
   * `dry_run` preflight (or the reset itself, which refuses per server) has the last word.
   */
  servers?: readonly EcsServer[] | undefined;
  /**
   * The run's `dry_run` preflight of these servers (./run-preflight.ts), when the planner made one:
   * used instead of the batch's own while fresh.
   */
  preflight?: RunPreflight | undefined;
  dryRun: boolean;
}

export interface BatchDeps {
  ecs: EcsApi;
  vault: Vault;
  locks: ServerLocks;
  outcomes: OutcomeStore;
  audit: AuditLog;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  signal?: AbortSignal;
  /** How long to wait for a reboot job to end before reporting `pending-restart`. @defaultValue 600000 */
  rebootDeadlineMs?: number;
  /** How often the reboot job is polled. @defaultValue the ECS client's (2000) */
  rebootPollIntervalMs?: number;
  /** Per-server lock time-to-live; renewed every third of it while the batch runs. @defaultValue 120000 */
  lockTtlMs?: number;
  /** Logs in with candidate passwords; required when the target's `verify.method` is `ssh`. */
  verifier?: PasswordVerifier | undefined;
  /**
   * Pause before trying a verification again that found the server unreachable right after its
   * reboot (sshd may come up some seconds after the reboot job ends); 2 more tries. @defaultValue 5000
   */
  verifyRetryDelayMs?: number | undefined;
}

export interface BatchSummary {
  runId: string;
  batchIndex: number;
  outcomes: ServerOutcome[];
  counts: Record<OutcomeKind, number>;
}

export function summarizeBatch(input: BatchInput, outcomes: ServerOutcome[]): BatchSummary {
  const counts = Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
  for (const o of outcomes) counts[o.outcome] += 1;
  return { runId: input.runId, batchIndex: input.batchIndex, outcomes, counts };
}

/** Refuses an input no step could handle, naming the field (a bug in the caller: not retryable). */
export function validateBatchInput(input: BatchInput): void {
  const bad = (field: string, expected: string): never => {
    throw new RotatorError({ code: ServiceErrorCode.invalidBatch, message: `batch input: ${field} must be ${expected}`, retryable: false });
  };
  if (typeof input.runId !== 'string' || input.runId.length === 0) bad('runId', 'a non-empty string');
  if (!Number.isInteger(input.batchIndex) || input.batchIndex < 0) bad('batchIndex', 'an integer >= 0');
  if (!Array.isArray(input.serverIds) || input.serverIds.length === 0 || input.serverIds.length > MAX_SERVERS_PER_CALL) {
    bad('serverIds', `a list of 1 to ${MAX_SERVERS_PER_CALL} server ids`);
  }
  if (input.serverIds.some((id) => typeof id !== 'string' || id.length === 0)) bad('serverIds', 'non-empty strings');
  if (!['none', 'soft', 'hard'].includes(input.target.restartPolicy)) bad('target.restartPolicy', 'none, soft or hard');
  const keep = input.target.keepCandidates ?? DEFAULT_KEEP_CANDIDATES;
  if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP_CANDIDATES) bad('target.keepCandidates', `an integer from 1 to ${MAX_KEEP_CANDIDATES}`);
}
