/**
 * Crash safety: a child process writing the vault in a loop is SIGKILLed at random moments, again
 * and again. After every kill the vault must open, and every write the child acknowledged
 * ("ack put <i>" / "ack promote <i>" on stdout, printed only after the call resolved) must be
 * readable. Restarts resume from the last acknowledged write, replaying the unacknowledged one
 * with the same token and value (as a retried job would). A small journal threshold makes the
 * writer compact every few writes, so kills also land between a new snapshot and its new journal.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { LABEL_CURRENT } from '../../src/ports/vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';
import { secretKey, writerPayload, writerToken } from '../fixtures/file-vault/vault-writer.js';

const writerScript = fileURLToPath(new URL('../fixtures/file-vault/vault-writer.ts', import.meta.url));
const KILLS = 24;

describe('file vault under SIGKILL', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    temp = await tempDir('vault-crash-');
  });
  afterEach(() => temp.remove());

  it(`keeps every acknowledged write and always opens, across ${KILLS} kills at random moments`, { timeout: 240_000 }, async () => {
    const path = join(temp.dir, 'vault.json.enc');
    const key = randomKey();
    const seed = 'crash';
    let ackedPut = -1;
    let ackedPromote = -1;
    let killedMidWrite = 0;
    // The journal is folded into a new snapshot every few writes (VAULT_COMPACT_BYTES), in the pauses
    // between writes (VAULT_COMPACT_IDLE_MS 0) or in a commit when it outgrew that: kills land in compactions too.
    const snapshots = new Set<string>();

    for (let round = 0; round < KILLS; round += 1) {
      const child = spawn(process.execPath, ['--import', 'tsx', writerScript, 'crash', String(ackedPromote + 1)], {
        env: { ...process.env, VAULT_PATH: path, ROTATOR_VAULT_KEY: key.toString('base64'), SEED: seed, VAULT_COMPACT_BYTES: '750', VAULT_COMPACT_IDLE_MS: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
      // 'close' (not 'exit'): fires once stdout is drained, so every ack line has been read.
      const exited = once(child, 'close');
      // Wait for a random number of acknowledged writes (0 = kill during start-up), then kill
      // after a random delay so the kill lands anywhere in the write path.
      const acksBeforeKill = round % 4 === 0 ? 0 : randomInt(1, 6);
      let acks = 0;
      const lines = createInterface({ input: child.stdout });
      const armed = new Promise<void>((resolve) => {
        if (acksBeforeKill === 0) resolve();
        lines.on('line', (line) => {
          const match = /^ack (put|promote) (\d+)$/.exec(line);
          if (match === null) return;
          const i = Number(match[2]);
          if (match[1] === 'put') ackedPut = Math.max(ackedPut, i);
          else ackedPromote = Math.max(ackedPromote, i);
          if (++acks === acksBeforeKill) resolve();
        });
      });
      await Promise.race([armed, exited]);
      const delay = acksBeforeKill === 0 ? randomInt(0, 400) : randomInt(0, 15);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      const [code, signal] = await exited;
      expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
      if ((await readdir(temp.dir)).some((n) => n.endsWith('.tmp') || n.endsWith('.lock'))) killedMidWrite += 1;
      const snapshot = await readFile(path).catch(() => undefined);
      if (snapshot !== undefined) snapshots.add(snapshot.subarray(17, 29).toString('hex'));

      // The vault opens, and every acknowledged write is there.
      const vault = await openFileVault({ path, key, clock: wallClock, logger: captureLogger().logger, lockTimeoutMs: 5_000 });
      try {
        for (let i = 0; i <= ackedPut; i += 1) {
          const k = secretKey(`crash-${i}`);
          const version = await vault.getVersion(k, { versionId: writerToken('crash', 'c', i) });
          expect(version?.value, `put ${i} after round ${round}`).toEqual(writerPayload(seed, k, `crash-${i}`));
        }
        for (let i = 0; i <= ackedPromote; i += 1) {
          const current = await vault.getVersion(secretKey(`crash-${i}`), { label: LABEL_CURRENT });
          expect(current?.versionId, `promote ${i} after round ${round}`).toBe(writerToken('crash', 'c', i));
        }
      } finally {
        await vault.close();
      }
    }
    // The run really wrote (and some kills hit the middle of a write, leaving a lock or temp file
    // that the next process had to clean up).
    expect(ackedPut).toBeGreaterThanOrEqual(10);
    expect(killedMidWrite).toBeGreaterThan(0);
    expect(snapshots.size, 'snapshots written (compactions)').toBeGreaterThan(2);
  });
});
