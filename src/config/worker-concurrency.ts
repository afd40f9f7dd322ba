/**
 * How many batch jobs a worker process runs at once when `limits.workerConcurrency` is `auto` (the
 * default). A batch mostly waits (on Huawei, the vault, Redis), and the shared rate limits bound the
 * request rate whatever the concurrency; what the concurrency must bound is the work held in memory
 * at once, which is counted in servers (about 3 KB each while its batch is in flight). So: about
 * {@link SERVERS_IN_FLIGHT} servers' worth of the largest batch any enabled target uses, at least
 * {@link MIN_AUTO} and at most {@link MAX_AUTO}. Batches of 100 get 32 at once (a 20k-server run with
 * 8 left the rate limits half used), batches of 250 get 16, batches of 1000 get 4.
 *
 * Why 4,000 (it was 8,000, from 8 to 32): on the 100k bench (batches of 1000, 50 ms, one core's worth
 * of CPU) 4 batches of 1000 at once kept the worker as busy as 8, and its peak RSS was 266 to 267 MiB
 * against 269 to 278 MiB with 8 (three interleaved runs each; 274 to 289 MiB over twelve runs with 8
 * on another host, once above the 300 MB goal). Shared 20k runs in batches of 250 took 2.8 to 3.1 s
 * at 16 and 2.8 to 3.4 s at 32, peaking at 197 to 203 MiB against 215 to 225 MiB. A batch waits for
 * three calls one after the other (list page, dry_run, reset), so 4,000 servers in flight keep the
 * CPU busy up to about 0.4 s a call; beyond that the run is bound by Huawei's latency, at about
 * 4,000 / (3 × latency) servers/s.
 */
export const SERVERS_IN_FLIGHT = 4_000;
export const MIN_AUTO = 4;
export const MAX_AUTO = 32;

export function effectiveWorkerConcurrency(setting: number | 'auto', targets: readonly { enabled: boolean; batchSize: number }[]): number {
  if (setting !== 'auto') return setting;
  const largest = Math.max(1, ...targets.filter((t) => t.enabled).map((t) => t.batchSize));
  return Math.min(MAX_AUTO, Math.max(MIN_AUTO, Math.floor(SERVERS_IN_FLIGHT / largest)));
}
