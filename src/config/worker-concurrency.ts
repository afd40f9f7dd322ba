/**
 * How many batch jobs a worker process runs at once when `limits.workerConcurrency` is `auto` (the
 * default). A batch mostly waits (on Huawei, the vault, Redis), and the shared rate limits bound the
 * request rate whatever the concurrency; what the concurrency must bound is the work held in memory
 * at once, which is counted in servers (about 3 KB each while its batch is in flight). So: about
 * {@link SERVERS_IN_FLIGHT} servers' worth of the largest batch any enabled target uses, at least
 * {@link MIN_AUTO} and at most {@link MAX_AUTO}. Batches of 100 get 32 at once (a 20k-server run with
 * 8 left the rate limits half used), batches of 1000 get 8.
 */
export const SERVERS_IN_FLIGHT = 8_000;
export const MIN_AUTO = 8;
export const MAX_AUTO = 32;

export function effectiveWorkerConcurrency(setting: number | 'auto', targets: readonly { enabled: boolean; batchSize: number }[]): number {
  if (setting !== 'auto') return setting;
  const largest = Math.max(1, ...targets.filter((t) => t.enabled).map((t) => t.batchSize));
  return Math.min(MAX_AUTO, Math.max(MIN_AUTO, Math.floor(SERVERS_IN_FLIGHT / largest)));
}
