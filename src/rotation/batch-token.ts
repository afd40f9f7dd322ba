import { createHash } from 'node:crypto';

/**
 * The deterministic ClientRequestToken (= vault version id) of a batch's password: sha256 hex
 * (64 characters, within AWS's 32–64) of run id, batch index and generation, plus the server id
 * when every server gets its own password. A re-run of the same batch derives the same token and so
 * finds the password it stored before a crash instead of making a second one.
 */
export function batchToken(input: { runId: string; batchIndex: number; generation: number; serverId?: string | undefined }): string {
  const parts = [input.runId, String(input.batchIndex), String(input.generation)];
  if (input.serverId !== undefined) parts.push(input.serverId);
  return createHash('sha256').update(parts.join('|')).digest('hex');
}

/** The generation of a batch's first password. */
export const FIRST_GENERATION = 0;
/** The generation of the one new password a server gets after a definite `Ecs.0011` (the password broke Huawei's rules). */
export const REGENERATED_GENERATION = 1;
/** Generations a batch may use: first, and regenerated once (so the last is REGENERATED_GENERATION). */
export const MAX_GENERATION = 1;
