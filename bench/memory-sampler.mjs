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
//   BENCH_ALLOC_PROF=survivors: only what outlived the young generation (see below).
// Plain JavaScript so that it loads before tsx registers.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const file = process.env.BENCH_MEM_LOG;
if (file) {
  const started = Date.now();
  let peakRss = 0;
  const mib = (n) => Math.round((n / 1048576) * 10) / 10;
  const log = (line) => appendFileSync(file, `${JSON.stringify(line)}\n`);
  const sample = (tag) => {
    const m = process.memoryUsage();
    const line = { t: (Date.now() - started) / 1000, at: Date.now(), tag, rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
    if (tag === 'live') {
      const cpu = process.cpuUsage();
      line.cpuSeconds = Math.round((cpu.user + cpu.system) / 1e4) / 100;
      const usage = process.resourceUsage();
      line.systemSeconds = Math.round(cpu.system / 1e4) / 100;
      line.minorPageFaults = usage.minorPageFault;
    }
    // BENCH_SMAPS=1: by kind of mapping in the "live" line, and in each tick that sets a new peak.
    if (process.env.BENCH_SMAPS && (tag === 'live' || (tag === 'tick' && m.rss > peakRss))) line.smaps = smapsSummary();
    if (tag === 'tick') peakRss = Math.max(peakRss, m.rss);
    if (tag === 'live') line.spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_used_size)]));
    log(line);
  };
  // The resident MiB of the process by kind of mapping (Linux).
  const smapsSummary = () => {
    const out = {};
    let kind = '';
    for (const l of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(l);
      if (head) kind = head[1] === '' ? 'anonymous' : head[1].startsWith('/') ? (head[1].includes('node') ? 'node binary' : 'files') : head[1];
      const rss = /^Rss:\s+(\d+) kB/.exec(l);
      if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]) / 1024;
    }
    for (const k of Object.keys(out)) out[k] = Math.round(out[k] * 10) / 10;
    return out;
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
    // BENCH_ALLOC_PROF=survivors: leaves out what scavenges collected: what lived long enough to be
    // copied (or promoted), which is what makes scavenges and full collections cost.
    const survivors = process.env.BENCH_ALLOC_PROF === 'survivors';
    session.post('HeapProfiler.startSampling', { samplingInterval: 65536, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors });
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
