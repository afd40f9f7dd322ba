/**
 * The Secrets Manager emulator in its own process for the bench, with AWS's write quota:
 *   node --import tsx bench/secrets-manager-process.ts <writesPerSecond>
 * Prints "listening on <url> calls <url>"; the second address answers the calls per operation so far
 * (throttled ones counted apart as `<Operation>:throttled`), and at `/write-times` the arrival times
 * (ms since the epoch) of every write that counts against the shared quota. SIGTERM stops it.
 */
import { createServer } from 'node:http';
import { listen } from '../src/http/listen.js';
import { SHARED_WRITE_QUOTA_OPERATIONS, startSecretsManagerEmulator } from '../src/emulators/secrets-manager/secrets-manager-emulator.js';

const writesPerSecond = Number(process.argv[2]);
if (!(writesPerSecond > 0)) {
  process.stderr.write('usage: secrets-manager-process.ts <writesPerSecond>\n');
  process.exit(2);
}
const emulator = await startSecretsManagerEmulator({ writesPerSecond, region: 'eu-west-1' });
const counts = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  if (req.url === '/write-times') {
    // Arrival times of the writes that share the quota (throttled ones included), for the timeline.
    res.end(JSON.stringify(emulator.requests().filter((r) => SHARED_WRITE_QUOTA_OPERATIONS.includes(r.operation)).map((r) => r.at)));
    return;
  }
  const calls: Record<string, number> = {};
  for (const r of emulator.requests()) {
    const key = r.error === 'ThrottlingException' ? `${r.operation}:throttled` : r.operation;
    calls[key] = (calls[key] ?? 0) + 1;
  }
  res.end(JSON.stringify(calls));
});
const { url: callsUrl } = await listen(counts, { host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on ${emulator.url} calls ${callsUrl}\n`);
process.on('SIGTERM', () => {
  counts.close();
  void emulator.close().then(() => process.exit(0));
});
