/**
 * Per-server locks (invariant 4: one run per server at a time). A lock has an owner token and a
 * time-to-live; only its owner can renew or release it, and it frees itself when its holder dies.
 *
 * The rotation uses a deterministic owner (run id + batch index), so that a batch job re-run by
 * BullMQ's stalled-job recovery takes its own locks back instead of waiting for the TTL.
 */
export interface AcquireResult {
  /** Ids now held by `owner` (newly taken, or already held by the same owner and extended). */
  held: string[];
  /** Ids held by another owner. */
  busy: string[];
}

export interface RenewResult {
  renewed: string[];
  /** Ids no longer held by `owner` (expired, or taken by someone else after expiry). */
  lost: string[];
}

export interface ServerLocks {
  acquireMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<AcquireResult>;
  renewMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<RenewResult>;
  /** Releases the ids still held by `owner`; ids held by someone else are left alone. */
  releaseMany(serverIds: readonly string[], owner: string): Promise<void>;
  /** The owner holding `serverId`, or undefined when it is free. */
  holder(serverId: string): Promise<string | undefined>;
}
