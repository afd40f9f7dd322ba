import { VerificationCode } from '../domain/error-codes.js';
import type { Logger } from 'pino';
import type { EcsServer } from '../domain/server.js';
import type { LoginTarget, PasswordVerifier } from '../ports/password-verifier.js';
import type { SecretDescription, SecretKey, Vault } from '../ports/vault.js';
import { LABEL_ACTIVE, labelsAfterVerified, verificationOrder } from './labels.js';

/** A target's verification settings (the job file's `verify:` block). */
export interface VerifySettings {
  method: 'ssh' | 'none';
  user: string;
  port: number;
  address: 'private' | 'public' | 'floating';
  timeoutMs: number;
  concurrency: number;
}

export interface VerifyDeps {
  vault: Vault;
  verifier: PasswordVerifier;
  logger: Logger;
  signal?: AbortSignal | undefined;
}

/**
 * What verification found for one server. Never holds a password.
 * - `verified`: `versionId` logs in now; `expected` tells whether it is the one the caller expected;
 * - `none-works`: the server answered and refused every labelled password (alert: the password in
 *   effect is not in the vault, e.g. the one from before the first managed rotation);
 * - `unreachable` / `unverifiable`: no answer about any password; nothing was changed.
 */
export type ServerVerification =
  | { kind: 'verified'; versionId: string; expected: boolean; tried: number }
  | { kind: 'none-works'; code: typeof VerificationCode.noLabelledPasswordLogsIn; reason: string; tried: number }
  | { kind: 'unreachable' | 'unverifiable'; code: string; reason: string; tried: number };

/** The login target of `server`, or why there is none (Windows, no address of the wanted kind). */
export function loginTargetOf(server: EcsServer, settings: VerifySettings): LoginTarget | { code: string; reason: string } {
  if (server.osType === 'Windows') {
    return { code: VerificationCode.windows, reason: 'Windows servers are not verified by SSH login (their Administrator password is kept as for verification off)' };
  }
  if (server.osType === undefined) return { code: VerificationCode.osTypeUnknown, reason: 'metadata.os_type is missing: the login to verify is unknown' };
  const addresses = settings.address === 'private' ? server.addresses?.fixed : server.addresses?.floating;
  const address = addresses?.[0];
  if (address === undefined) {
    const kind = settings.address === 'private' ? 'private (fixed)' : 'elastic (floating)';
    return { code: VerificationCode.noAddress, reason: `the ECS detail lists no ${kind} IPv4 address for this server (verify.address is ${settings.address})` };
  }
  return { serverId: server.id, address, port: settings.port, username: settings.user };
}

/**
 * Verifies which labelled password logs in to `server` now and applies the label rules of
 * labels.ts ("password W verified"): tries `expectedVersionId` first, then every labelled version
 * newest first; stops at the first that works, or at the first unreachable answer (no point, and
 * no use hammering a server that does not answer). Reads each password from the vault just before
 * its login and keeps it nowhere.
 */
export async function verifyServer(
  deps: VerifyDeps,
  input: { key: SecretKey; server: EcsServer; settings: VerifySettings; expectedVersionId?: string | undefined; description?: SecretDescription | undefined },
): Promise<ServerVerification> {
  const target = loginTargetOf(input.server, input.settings);
  if (!('address' in target)) return { kind: 'unverifiable', ...target, tried: 0 };
  const description = input.description ?? (await deps.vault.describe(input.key));
  const order = verificationOrder(description, input.expectedVersionId);
  if (order.length === 0) return { kind: 'unverifiable', code: VerificationCode.noLabelledPassword, reason: 'the vault holds no labelled password for this server yet', tried: 0 };
  let tried = 0;
  for (const version of order) {
    deps.signal?.throwIfAborted();
    const stored = await deps.vault.getVersion(input.key, { versionId: version.versionId });
    if (stored === undefined) continue;
    tried += 1;
    const result = await deps.verifier.tryLogin(target, stored.value.password, { signal: deps.signal, timeoutMs: input.settings.timeoutMs });
    if (result.kind === 'works') {
      await applyVerified(deps, input.key, description, version.versionId);
      deps.logger.info({ step: 'verify', serverId: input.server.id, versionId: version.versionId, tried }, 'password verified by login');
      return { kind: 'verified', versionId: version.versionId, expected: version.versionId === input.expectedVersionId, tried };
    }
    if (result.kind === 'unreachable') {
      deps.logger.warn({ step: 'verify', serverId: input.server.id, code: result.code }, 'verification: server unreachable');
      return { kind: 'unreachable', code: result.code, reason: result.reason, tried };
    }
  }
  deps.logger.error({ step: 'verify', serverId: input.server.id, tried }, 'verification: no labelled password logs in');
  return {
    kind: 'none-works',
    code: VerificationCode.noLabelledPasswordLogsIn,
    reason: `the server refused each of the ${tried} labelled passwords; the one in effect is not in the vault (labels were left as they were)`,
    tried,
  };
}

async function applyVerified(deps: VerifyDeps, key: SecretKey, description: SecretDescription | undefined, versionId: string): Promise<void> {
  const changes = labelsAfterVerified(description, versionId);
  // ROTATOR_ACTIVE first: at every instant the working password holds a label.
  if (changes.moveActive) await deps.vault.moveLabel(key, LABEL_ACTIVE, versionId);
  for (const slot of changes.removeSlots) await deps.vault.removeLabel(key, slot.label, slot.versionId);
}
