/**
 * Verification on its own (`rotator verify <target>`, `POST /api/targets/:target/verify`): which
 * labelled password logs in to each server now, with the label rules of labels.ts applied (a
 * verified password frees the older candidates). No reset, no reboot, no new password.
 * Reports hold ids, codes and label names only: never a password.
 */
import type { Logger } from 'pino';
import { VerificationCode } from '../domain/error-codes.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { EcsApi } from '../ports/ecs-api.js';
import type { PasswordVerifier } from '../ports/password-verifier.js';
import type { ServerLocks } from '../ports/server-locks.js';
import type { Vault } from '../ports/vault.js';
import { errorCode } from './batch-failures.js';
import { mapLimit } from './map-limit.js';
import { verifyServer, type VerifySettings } from './verify-server.js';

export interface VerifyTargetDeps {
  ecs: EcsApi;
  vault: Vault;
  verifier: PasswordVerifier;
  locks: ServerLocks;
  logger: Logger;
  signal?: AbortSignal | undefined;
}

export interface VerifyTargetInput {
  target: { name: string; region: string; projectId: string; verify: VerifySettings };
  serverIds: readonly string[];
}

export interface ServerVerificationReport {
  serverId: string;
  /** `verified`, `none-works`, `unreachable`, `unverifiable`, `busy` (a rotation holds it), `not-found` or `error`. */
  result: 'verified' | 'none-works' | 'unreachable' | 'unverifiable' | 'busy' | 'not-found' | 'error';
  /** The version that logs in (when verified) and the labels it holds now. */
  versionId?: string | undefined;
  labels?: string[] | undefined;
  code?: string | undefined;
  reason?: string | undefined;
}

const LOCK_TTL_MS = 120_000;

export async function verifyTarget(deps: VerifyTargetDeps, input: VerifyTargetInput): Promise<ServerVerificationReport[]> {
  const { target } = input;
  if (target.verify.method !== 'ssh') {
    throw new RotatorError({
      code: VerificationCode.verifyOff,
      message: `target ${target.name}: verify.method is none; set verify: {method: ssh, …} in its job file to verify by login`,
      retryable: false,
    });
  }
  const owner = `verify|${target.name}|${Date.now().toString(36)}`;
  const ids = [...new Set(input.serverIds)];
  // One run per server at a time (invariant 4): a server a rotation holds is reported busy, not touched.
  const { held, busy } = await deps.locks.acquireMany(ids, owner, LOCK_TTL_MS);
  const busySet = new Set(busy);
  try {
    return await mapLimit(ids, target.verify.concurrency, async (serverId): Promise<ServerVerificationReport> => {
      if (busySet.has(serverId)) return { serverId, result: 'busy', reason: 'a rotation holds this server; verify it once the run ends' };
      try {
        const server = await deps.ecs.getServer(serverId, { signal: deps.signal });
        if (server === undefined) return { serverId, result: 'not-found', reason: 'ECS reports no such server' };
        const key = { region: target.region, projectId: target.projectId, serverId };
        const result = await verifyServer(
          { vault: deps.vault, verifier: deps.verifier, logger: deps.logger, signal: deps.signal },
          { key, server, settings: target.verify, expectedVersionId: undefined },
        );
        if (result.kind === 'verified') {
          const description = await deps.vault.describe(key);
          const labels = description?.versions.find((v) => v.versionId === result.versionId)?.labels ?? [];
          return { serverId, result: 'verified', versionId: result.versionId, labels };
        }
        return { serverId, result: result.kind, code: result.code, reason: result.reason };
      } catch (error) {
        if (deps.signal?.aborted) throw error;
        return { serverId, result: 'error', code: errorCode(error), reason: error instanceof RotatorError ? error.message : 'unexpected error' };
      }
    });
  } finally {
    await deps.locks.releaseMany(held, owner);
  }
}
