/**
 * Several PROCESSES writing one file vault at once lose no write: each child does N
 * ensure/putPending/promote on its own secrets and on secrets shared with the others (with a
 * custom label per write, so a lost update would show as a missing label).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { LABEL_CURRENT, LABEL_PREVIOUS } from '../../src/ports/vault.js';
import { captureLogger, randomKey, tempDir, wallClock } from '../fixtures/file-vault/support.js';
import { REGION, PROJECT, secretKey, writerPayload, writerToken } from '../fixtures/file-vault/vault-writer.js';

const writerScript = fileURLToPath(new URL('../fixtures/file-vault/vault-writer.ts', import.meta.url));

describe('file vault shared by several processes', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => {
    temp = await tempDir('vault-procs-');
  });
  afterEach(() => temp.remove());

  it('loses no write when three processes write distinct and shared secrets at once', async () => {
    const path = join(temp.dir, 'vault.json.enc');
    const key = randomKey();
    const seed = 'procs';
    const writers = ['a', 'b', 'c'];
    const count = 24; // a multiple of `shared`
    const shared = 2;
    const children = writers.map((id) => {
      const child = spawn(process.execPath, ['--import', 'tsx', writerScript, 'shared', id, String(count), String(shared)], {
        env: { ...process.env, VAULT_PATH: path, ROTATOR_VAULT_KEY: key.toString('base64'), SEED: seed, VAULT_COMPACT_BYTES: '4000', VAULT_COMPACT_IDLE_MS: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      child.stderr.on('data', (d: Buffer) => (err += String(d)));
      return once(child, 'exit').then(([code]) => ({ id, code, out, err }));
    });
    for (const result of await Promise.all(children)) {
      expect(result.err).toBe('');
      expect({ id: result.id, code: result.code, out: result.out }).toEqual({ id: result.id, code: 0, out: 'done\n' });
    }

    const vault = await openFileVault({ path, key, clock: wallClock, logger: captureLogger().logger });
    try {
      for (const id of writers) {
        for (let i = 0; i < count; i += 1) {
          const own = secretKey(`own-${id}-${i}`);
          const current = await vault.getVersion(own, { label: LABEL_CURRENT });
          expect(current?.versionId).toBe(writerToken('own', id, i));
          expect(current?.value).toEqual(writerPayload(seed, own, `own-${id}-${i}`));

          const sharedKey = secretKey(`shared-${i % shared}`);
          const mine = await vault.getVersion(sharedKey, { label: `W${id}_${i}` });
          expect(mine?.versionId, `label W${id}_${i}`).toBe(writerToken('shared', id, i));
          expect(mine?.value).toEqual(writerPayload(seed, sharedKey, `shared-${id}-${i}`));
        }
      }
      // Every shared secret ends with one current and one previous version, among the writers' own.
      for (let s = 0; s < shared; s += 1) {
        const description = await vault.describe(secretKey(`shared-${s}`));
        const holders = (label: string) => description?.versions.filter((v) => v.labels.includes(label)) ?? [];
        expect(holders(LABEL_CURRENT)).toHaveLength(1);
        expect(holders(LABEL_PREVIOUS)).toHaveLength(1);
        expect(description?.versions).toHaveLength((writers.length * count) / shared);
      }
      let listed = 0;
      for await (const _ of vault.list({ region: REGION, projectId: PROJECT })) listed += 1;
      expect(listed).toBe(writers.length * count + shared);
    } finally {
      await vault.close();
    }
  });
});
