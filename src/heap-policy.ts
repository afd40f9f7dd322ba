/**
 * How eagerly V8 collects garbage in a service process: a soft heap target instead of a hard cap.
 *
 * Left alone on a large host, V8 lets the old generation grow to about four times what survived the
 * last full collection before it collects again (and, at start, to a few hundred MB before the first
 * one): a worker with a 130 MB live set (a 100k-server file vault plus the batches in flight) peaked
 * at 815 MiB RSS. A hard cap (`--max-old-space-size`) makes it collect sooner but stops the process
 * when the live set outgrows it, so a fleet bigger than planned would crash the worker mid-run.
 *
 * Two things, both only while the heap is near or above `targetMb`:
 * - after each full collection, V8's heap growing factor (`--heap-growing-percent`, read at every
 *   full collection) is set so that the heap may grow to about the target: growth = target / live − 1,
 *   kept between {@link MIN_GROWTH_PERCENT} and {@link MAX_GROWTH_PERCENT}. A live set at or above the
 *   target gets the floor: the heap then grows past the target in proportion to what is live, and the
 *   process never stops because of it;
 * - once a second, when the used heap is above the target and above what that growth allows, and no
 *   full collection ran for {@link MIN_FORCED_INTERVAL_MS}, a full collection is forced (V8 would wait
 *   for its own, larger, limit: the one at start, or one set before the live set shrank).
 * The price is CPU: full collections cost about (bytes promoted) / (growth), so the floor and the
 * interval bound it.
 */
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';

/**
 * The floor, for a live set near or above the target: full collections cost more CPU the lower it
 * is. 35 since runs rotate while their listing goes on (a large worker's listing and its batches
 * then share the heap): at 50 the 100k bench's worker peaked at 282 to 293 MiB, at 35 at 267 to
 * 284 MiB, and its runs took about 5 to 10 % longer (still faster than before that change).
 */
export const MIN_GROWTH_PERCENT = 35;
/** The ceiling, for a live set far below the target (V8's own factor goes up to 300 % on a large host, and at start it waits for a few hundred MB). */
export const MAX_GROWTH_PERCENT = 100;
/** Forced full collections are at least this far apart from any full collection. */
export const MIN_FORCED_INTERVAL_MS = 5_000;
const CHECK_INTERVAL_MS = 1_000;

/**
 * The growth (percent over the live set) that lets a heap with `liveBytes` live grow to `targetBytes`,
 * between `MIN_GROWTH_PERCENT` and `MAX_GROWTH_PERCENT`.
 */
export function growthPercentFor(liveBytes: number, targetBytes: number): number {
  const percent = liveBytes > 0 ? Math.floor((targetBytes / liveBytes - 1) * 100) : MAX_GROWTH_PERCENT;
  return Math.min(MAX_GROWTH_PERCENT, Math.max(MIN_GROWTH_PERCENT, percent));
}

export interface HeapPolicyOptions {
  /** The soft heap target in MiB; 0 turns the policy off (V8's defaults). */
  targetMb: number;
  logger: Logger;
  /** Applies a V8 flag. @defaultValue v8.setFlagsFromString */
  setFlags?: ((flags: string) => void) | undefined;
  /** The heap's used bytes now. @defaultValue v8.getHeapStatistics().used_heap_size */
  usedBytes?: (() => number) | undefined;
  /** Runs a full collection. @defaultValue V8's gc(), exposed for this */
  collect?: (() => void) | undefined;
  /** Milliseconds, monotonic. @defaultValue performance.now */
  now?: (() => number) | undefined;
}

export interface HeapPolicy {
  /** The growth currently asked of V8 (0: V8's own). */
  readonly growthPercent: number;
  /** Full collections this policy forced. */
  readonly forcedCollections: number;
  /** Call after a full collection (the installed observer does). */
  afterFullCollection(): void;
  /** The once-a-second check (the installed timer calls it). */
  check(): void;
  stop(): void;
}

/** V8's gc(), without `--expose-gc` on the command line: the flag is set, and a new context sees the function. */
function exposeGc(setFlags: (flags: string) => void): () => void {
  setFlags('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Starts the policy: watches full collections in this process and adjusts V8's growing factor after each. */
export function startHeapPolicy(options: HeapPolicyOptions): HeapPolicy {
  const setFlags = options.setFlags ?? setFlagsFromString;
  const usedBytes = options.usedBytes ?? (() => getHeapStatistics().used_heap_size);
  const now = options.now ?? (() => performance.now());
  const targetBytes = options.targetMb * 1024 * 1024;
  let growthPercent = 0;
  let forcedCollections = 0;
  /** Used bytes just after the last full collection (0: none seen yet) and when it ran. */
  let lastLive = 0;
  let lastFullAt = now();
  let collect = options.collect;

  const policy: HeapPolicy = {
    get growthPercent() {
      return growthPercent;
    },
    get forcedCollections() {
      return forcedCollections;
    },
    afterFullCollection() {
      if (targetBytes <= 0) return;
      lastLive = usedBytes();
      lastFullAt = now();
      const percent = growthPercentFor(lastLive, targetBytes);
      if (percent === growthPercent) return;
      growthPercent = percent;
      setFlags(`--heap-growing-percent=${percent}`);
      options.logger.debug({ heapGrowthPercent: percent, liveMb: Math.round(lastLive / 1048576), targetMb: options.targetMb }, 'heap policy: V8 heap growth changed');
    },
    check() {
      if (targetBytes <= 0) return;
      const used = usedBytes();
      const allowed = Math.max(targetBytes, lastLive * (1 + (growthPercent || MAX_GROWTH_PERCENT) / 100));
      if (used <= allowed || now() - lastFullAt < MIN_FORCED_INTERVAL_MS) return;
      collect ??= exposeGc(setFlags);
      forcedCollections += 1;
      collect();
      // The observer reports it too, a moment later; this keeps two checks from forcing twice.
      policy.afterFullCollection();
    },
    stop() {
      observer?.disconnect();
      observer = undefined;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
  let observer: PerformanceObserver | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (targetBytes > 0) {
    observer = new PerformanceObserver((list) => {
      // The entries arrive shortly after the collection: what is used then is the live set plus a
      // little allocated since, close enough to size the next growth.
      if (list.getEntries().some((e) => (e as unknown as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR)) {
        policy.afterFullCollection();
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    timer = setInterval(() => policy.check(), CHECK_INTERVAL_MS);
    timer.unref();
  }
  return policy;
}
