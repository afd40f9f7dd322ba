/**
 * A client-side request rate limit. The ECS client and the AWS vault adapter take one of these;
 * the in-process token bucket serves a single process, the Redis-backed one is shared by every
 * worker of a deployment.
 */
export interface RateLimiter {
  /** Waits until one request may be sent. Rejects with the signal's reason when aborted. */
  acquire(signal?: AbortSignal): Promise<void>;
}
