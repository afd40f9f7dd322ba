import { createHash } from 'node:crypto';

/**
 * Tokens derived lately, by their input text. In shared mode every server of a batch has the same
 * token, and the steps derive it for each server (plan checks every generation): one hash per batch
 * and generation instead of several per server. Bounded: cleared when full (unique mode derives a
 * token per server, which the cache cannot help and must not hoard).
 */
const recent = new Map<string, string>();
const RECENT_MAX = 64;

/**
 * The deterministic ClientRequestToken (= vault version id) of a batch's password: sha256 hex
 * (64 characters, within AWS's 32–64) of run id, batch index and generation, plus the server id
 * when every server gets its own password. A re-run of the same batch derives the same token and so
 * finds the password it stored before a crash instead of making a second one.
 */
export function batchToken(input: { runId: string; batchIndex: number; generation: number; serverId?: string | undefined }): string {
  const text = input.serverId === undefined ? `${input.runId}|${input.batchIndex}|${input.generation}` : `${input.runId}|${input.batchIndex}|${input.generation}|${input.serverId}`;
  const known = recent.get(text);
  if (known !== undefined) return known;
  const token = createHash('sha256').update(text).digest('hex');
  if (input.serverId === undefined) {
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(text, token);
  }
  return token;
}

/** The generation of a batch's first password. */
export const FIRST_GENERATION = 0;
/** The generation of the one new password a server gets after a definite `Ecs.0011` (the password broke Huawei's rules). */
export const REGENERATED_GENERATION = 1;
/** Generations a batch may use: first, and regenerated once (so the last is REGENERATED_GENERATION). */
export const MAX_GENERATION = 1;
