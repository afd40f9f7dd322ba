/**
 * Per-server locks (invariant 4: one run per server at a time). A lock has an owner token and a
 * time-to-live; only its owner can renew or release it, and it frees itself when its holder dies.
 *
 * An owner may be `<family>#<execution>`: `acquireMany` takes over a lock held by another owner of
 * the same family. The rotation's family is its batch job's id and each execution of the job adds
 * its own suffix, so that a batch re-run by BullMQ's stalled-job recovery takes its locks back at
 * once instead of waiting for the TTL, while an earlier execution that is still alive (a worker
 * paused or cut off from Redis, whose job was handed to another) finds them lost at its next
 * renewal and stops: it can neither renew nor release the re-run's locks.
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
  /** Takes each free lock, extends those `owner` holds, takes over those of `owner`'s family (see above). */
  acquireMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<AcquireResult>;
  renewMany(serverIds: readonly string[], owner: string, ttlMs: number): Promise<RenewResult>;
  /** Releases the ids still held by `owner`; ids held by someone else are left alone. */
  releaseMany(serverIds: readonly string[], owner: string): Promise<void>;
  /** The owner holding `serverId`, or undefined when it is free. */
  holder(serverId: string): Promise<string | undefined>;
}
