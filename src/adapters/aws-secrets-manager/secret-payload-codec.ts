import { VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import type { SecretPayload } from '../../ports/vault.js';

/**
 * The fields of a secret's JSON value, in the one order they are written. A fixed order makes the
 * stored string a function of the payload's content, so a replay of the same payload (built anew
 * after a crash, its keys in any order) is the same SecretString and AWS treats it as a no-op.
 */
const FIELDS = [
  'username',
  'password',
  'serverId',
  'serverName',
  'osType',
  'region',
  'projectId',
  'runId',
  'createdAt',
  'activation',
] as const satisfies readonly (keyof SecretPayload)[];

const ENUMS: Partial<Record<keyof SecretPayload, readonly string[]>> = {
  username: ['root', 'Administrator'],
  osType: ['Linux', 'Windows'],
  activation: ['after-reboot', 'next-restart'],
};

export function encodeSecretPayload(payload: SecretPayload): string {
  const ordered: Record<string, string> = {};
  for (const field of FIELDS) ordered[field] = payload[field];
  return JSON.stringify(ordered);
}

function invalid(where: string, problem: string): RotatorError {
  // Never quote the text: it holds a password.
  return new RotatorError({ code: VaultErrorCode.payloadInvalid, message: `secret value of ${where}: ${problem}`, retryable: false });
}

/** Parses a stored value; `where` names the secret and version in the error (never the value). */
export function decodeSecretPayload(text: string | undefined, where: string): SecretPayload {
  if (text === undefined) throw invalid(where, 'expected a SecretString, found none (binary or empty)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes part of the input: drop it.
    throw invalid(where, 'expected JSON, found text that does not parse');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(where, 'expected a JSON object');
  const record = parsed as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const field of FIELDS) {
    const value = record[field];
    if (typeof value !== 'string') throw invalid(where, `field ${field}: expected a string, found ${value === null ? 'null' : typeof value}`);
    const allowed = ENUMS[field];
    if (allowed && !allowed.includes(value)) throw invalid(where, `field ${field}: expected one of ${allowed.join(', ')}`);
    out[field] = value;
  }
  return out as unknown as SecretPayload;
}
