// Preloaded into the rotator service by the bench when BENCH_MEM_LOG=<file> is set (see harness.ts).
// - Appends one JSON line of process.memoryUsage() every 250 ms to <file>.
// - On SIGUSR2 (the harness sends it once the run is over) forces a full garbage collection (the
//   service runs with --expose-gc then) and appends the live heap after it, tagged "live";
//   with BENCH_HEAP_SNAPSHOT=1 it then also writes a heap snapshot of that live heap (path logged).
// - BENCH_HEAP_SNAPSHOT_MIB=<n>: one heap snapshot the first time the used heap passes n MiB.
// - BENCH_LIVE_AT_S=<s>: at s seconds after start, a full GC and the live heap logged ("live-mid"),
//   and a snapshot of it with BENCH_HEAP_SNAPSHOT=1: what the run holds while batches are in flight.
// - BENCH_ALLOC_PROF=1: samples allocations, including objects already collected, and writes the
//   profile (open it in Chrome DevTools' Memory tab) on SIGUSR2: where the garbage comes from.
// Plain JavaScript so that it loads before tsx registers.
import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const file = process.env.BENCH_MEM_LOG;
if (file) {
  const started = Date.now();
  const mib = (n) => Math.round((n / 1048576) * 10) / 10;
  const log = (line) => appendFileSync(file, `${JSON.stringify(line)}\n`);
  const sample = (tag) => {
    const m = process.memoryUsage();
    const line = { t: (Date.now() - started) / 1000, tag, rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
    if (tag === 'live') {
      const cpu = process.cpuUsage();
      line.cpuSeconds = Math.round((cpu.user + cpu.system) / 1e4) / 100;
    }
    if (tag === 'live') line.spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_used_size)]));
    log(line);
  };
  const snapshot = (why) => log({ tag: 'snapshot', why, path: writeHeapSnapshot(join(tmpdir(), `rotator-bench-${process.pid}-${why}.heapsnapshot`)) });

  const snapshotAt = Number(process.env.BENCH_HEAP_SNAPSHOT_MIB ?? Number.NaN);
  let snapshotTaken = false;
  setInterval(() => {
    sample('tick');
    if (!snapshotTaken && process.memoryUsage().heapUsed / 1048576 > snapshotAt) {
      snapshotTaken = true;
      snapshot('threshold');
    }
  }, 250).unref();

  const liveAt = Number(process.env.BENCH_LIVE_AT_S ?? Number.NaN);
  if (Number.isFinite(liveAt)) {
    setTimeout(() => {
      globalThis.gc?.();
      sample('live-mid');
      if (process.env.BENCH_HEAP_SNAPSHOT) snapshot('mid');
    }, liveAt * 1000).unref();
  }

  let session;
  if (process.env.BENCH_ALLOC_PROF) {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.startSampling', { samplingInterval: 65536, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }

  process.on('SIGUSR2', () => {
    const finish = () => {
      globalThis.gc?.();
      globalThis.gc?.();
      sample('live');
      if (process.env.BENCH_HEAP_SNAPSHOT) snapshot('live');
    };
    if (session === undefined) return finish();
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) {
        const path = join(tmpdir(), `rotator-bench-${process.pid}.heapprofile`);
        writeFileSync(path, JSON.stringify(result.profile));
        log({ tag: 'alloc-profile', path });
      }
      finish();
    });
  });
}
