import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/rotation/map-limit.js';
import { batchToken } from '../../src/rotation/batch-token.js';
import { freeUnconfirmedSlot, UNCONFIRMED_LABELS, usedUnconfirmedSlots } from '../../src/rotation/labels.js';
import type { SecretDescription } from '../../src/ports/vault.js';

describe('batchToken', () => {
  it('is deterministic, 64 hex characters, and differs by run, batch, generation and server', () => {
    const base = { runId: 'run|web|20261127T1200Z', batchIndex: 0, generation: 0 };
    const token = batchToken(base);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(batchToken(base)).toBe(token);
    const variants = [
      batchToken({ ...base, runId: 'run|web|20261127T1300Z' }),
      batchToken({ ...base, batchIndex: 1 }),
      batchToken({ ...base, generation: 1 }),
      batchToken({ ...base, serverId: 's1' }),
      batchToken({ ...base, serverId: 's2' }),
    ];
    expect(new Set([token, ...variants]).size).toBe(6);
  });
});

describe('unconfirmed slots', () => {
  const description = (labels: string[][]): SecretDescription => ({
    name: 'n',
    key: { region: 'r', projectId: 'p', serverId: 's' },
    lastChangedAt: undefined,
    versions: labels.map((l, i) => ({ versionId: `v${i}`, labels: l, createdAt: i })),
  });

  it('hands out the first free slot and none when all are used', () => {
    expect(freeUnconfirmedSlot(undefined)).toBe(UNCONFIRMED_LABELS[0]);
    expect(freeUnconfirmedSlot(description([['AWSCURRENT', 'ROTATOR_UNCONFIRMED_1']]))).toBe('ROTATOR_UNCONFIRMED_2');
    expect(freeUnconfirmedSlot(description([['ROTATOR_UNCONFIRMED_2'], ['ROTATOR_UNCONFIRMED_1']]))).toBe('ROTATOR_UNCONFIRMED_3');
    const full = description(UNCONFIRMED_LABELS.map((l) => [l]));
    expect(freeUnconfirmedSlot(full)).toBeUndefined();
    expect(usedUnconfirmedSlots(full).map((s) => s.version.versionId)).toEqual(['v0', 'v1', 'v2']);
  });
});

describe('mapLimit', () => {
  it('never has more than `limit` calls in flight and keeps the order of results', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await Promise.resolve();
      await Promise.resolve();
      inFlight -= 1;
      return n * 10;
    });
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });

  it('rejects only after every started call has ended, and starts no new one after a failure', async () => {
    const started: number[] = [];
    let ended = 0;
    let releaseSlow!: () => void;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    const promise = mapLimit([0, 1, 2, 3], 2, async (n) => {
      started.push(n);
      if (n === 0) {
        await slow;
        ended += 1;
        return n;
      }
      throw new Error(`boom ${n}`);
    });
    let settled = false;
    void promise.catch(() => undefined).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // call 0 is still running
    releaseSlow();
    await expect(promise).rejects.toThrow('boom 1');
    expect(ended).toBe(1);
    expect(started).toEqual([0, 1]);
  });
});
