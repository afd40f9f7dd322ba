import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID } from '../../src/simulator/demo-credentials.js';
import { callSim, simInspect } from '../helpers/simulator-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Runs `rotator simulator ...` from source (ROTATOR_FROM_SOURCE) as a real child process. */
function rotator(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string } {
  const child = spawn(process.execPath, ['bin/rotator.js', ...args], { cwd: root, env: { ...process.env, ROTATOR_FROM_SOURCE: '1' } });
  children.push(child);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

async function urlOf(child: ChildProcessWithoutNullStreams, output: () => string): Promise<string> {
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(output());
    if (m) return m[1]!;
    if (child.exitCode !== null) throw new Error(`simulator exited early:\n${output()}`);
    await once(child.stdout, 'data');
  }
}

describe('rotator simulator (CLI)', () => {
  it('starts 500 servers on loopback, answers signed calls with the demo credentials, and stops cleanly on SIGTERM', async () => {
    const { child, output } = rotator(['simulator', '--servers', '500', '--port', '0', '--seed', '9']);
    const url = await urlOf(child, output);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output()).toContain(DEMO_PROJECT_ID);
    expect(output()).toContain(DEMO_CREDENTIALS.accessKey);
    expect(output()).not.toContain(DEMO_CREDENTIALS.secretKey);

    const list = await callSim(url, { path: 'cloudservers/detail', query: [['limit', '1']], projectId: DEMO_PROJECT_ID, credentials: DEMO_CREDENTIALS });
    expect(list.status).toBe(200);
    expect(list.json.count).toBe(500);

    // A call left hanging must not keep the process from closing.
    expect((await simInspect(url, 'PUT', '/__sim/faults', { hangProbability: 1 })).status).toBe(200);
    const hung = callSim(url, { path: 'cloudservers/detail', projectId: DEMO_PROJECT_ID, credentials: DEMO_CREDENTIALS }).catch((e: unknown) => e);
    for (;;) {
      const counters = await simInspect(url, 'GET', '/__sim/counters');
      if (counters.json.requests.listServers?.hang === 1) break;
    }
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(output()).toContain('received SIGTERM');
    expect(await hung).toBeInstanceOf(Error);
  });

  it('--missing-plugin-fraction 0 gives every server the plug-in; the old --no-plugin-fraction spelling is refused, naming the new one', async () => {
    const { child, output } = rotator(['simulator', '--servers', '400', '--port', '0', '--missing-plugin-fraction', '0']);
    await urlOf(child, output);
    expect(output()).toMatch(/servers {6}400 \(.*, 0 without plug-in,/);
    child.kill('SIGTERM');
    await once(child, 'exit');

    const old = rotator(['simulator', '--servers', '400', '--port', '0', '--no-plugin-fraction', '0']);
    const [code] = (await once(old.child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(old.output()).toMatch(/--no-plugin-fraction.*renamed --missing-plugin-fraction/);
  });

  it('refuses a bad option, naming it', async () => {
    const { child, output } = rotator(['simulator', '--partial-mode', 'sometimes', '--port', '0']);
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(output()).toMatch(/--partial-mode: expected 200-subset or 400-internal-error/);
    const heap = rotator(['simulator', '--heap-target-mb', 'lots', '--port', '0']);
    const [heapCode] = (await once(heap.child, 'exit')) as [number | null];
    expect(heapCode).not.toBe(0);
    expect(heap.output()).toMatch(/--heap-target-mb: expected an integer from 0 to 1048576, got "lots"/);
  });
});
