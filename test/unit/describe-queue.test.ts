import { describe, expect, it } from 'vitest';
import { describeQueue } from '../../src/adapters/vault-batch.js';
import type { SecretDescription, SecretKey } from '../../src/ports/vault.js';

const key = (serverId: string): SecretKey => ({ region: 'r', projectId: 'p', serverId });
const description = (serverId: string): SecretDescription => ({ name: `ecs/${serverId}`, versions: [] }) as unknown as SecretDescription;

/** A describe whose answers the test releases one by one; it records the order in which reads start. */
function controlledReads() {
  const started: string[] = [];
  const pending = new Map<string, { resolve: (d: SecretDescription | undefined) => void; reject: (e: unknown) => void }>();
  const describeOne = (k: SecretKey) =>
    new Promise<SecretDescription | undefined>((resolve, reject) => {
      started.push(k.serverId);
      pending.set(k.serverId, { resolve, reject });
    });
  const settle = async (id: string, error?: Error): Promise<void> => {
    const p = pending.get(id);
    if (p === undefined) throw new Error(`read of ${id} not started`);
    pending.delete(id);
    if (error) p.reject(error);
    else p.resolve(id.startsWith('none') ? undefined : description(id));
    await new Promise((r) => setImmediate(r));
  };
  return { started, describeOne, settle };
}

describe('describeQueue (the AWS vault’s describeMany)', () => {
  it('serves the calls in the order they came, at most atOnce reads at a time', async () => {
    const reads = controlledReads();
    const describeMany = describeQueue(reads.describeOne, 2);
    const first = describeMany([key('a1'), key('none-a2'), key('a3')]);
    const second = describeMany([key('b1'), key('b2')]);
    expect(reads.started).toEqual(['a1', 'none-a2']);
    await reads.settle('a1');
    // The first call's last key goes before any key of the second call.
    expect(reads.started).toEqual(['a1', 'none-a2', 'a3']);
    await reads.settle('none-a2');
    expect(reads.started).toEqual(['a1', 'none-a2', 'a3', 'b1']);
    await reads.settle('a3');
    expect(await first).toEqual([description('a1'), undefined, description('a3')]);
    await reads.settle('b1');
    await reads.settle('b2');
    expect(await second).toEqual([description('b1'), description('b2')]);
  });

  it('fails a call with its first error, skips its keys not yet started, and leaves the other calls alone', async () => {
    const reads = controlledReads();
    const describeMany = describeQueue(reads.describeOne, 1);
    const failing = describeMany([key('a1'), key('a2'), key('a3')]);
    const other = describeMany([key('b1')]);
    const failure = expect(failing).rejects.toThrow('throttled');
    await reads.settle('a1', new Error('throttled'));
    await failure;
    // a2 and a3 were never read: the next read is the other call's.
    expect(reads.started).toEqual(['a1', 'b1']);
    await reads.settle('b1');
    expect(await other).toEqual([description('b1')]);
  });

  it('answers an empty call at once', async () => {
    const describeMany = describeQueue(() => Promise.reject(new Error('not called')), 4);
    expect(await describeMany([])).toEqual([]);
  });

  it('keeps serving a long queue in order after dropping its started part', async () => {
    const order: string[] = [];
    const describeMany = describeQueue(async (k) => {
      order.push(k.serverId);
      await new Promise((r) => setImmediate(r));
      return description(k.serverId);
    }, 8);
    const calls = Array.from({ length: 5 }, (_, c) => describeMany(Array.from({ length: 600 }, (_, i) => key(`${c}-${i}`))));
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.length)).toEqual([600, 600, 600, 600, 600]);
    expect(answers[3]![599]).toEqual(description('3-599'));
    // Reads start in the calls' order: every key of call c before any key of call c + 1.
    const callOf = order.map((id) => Number(id.split('-')[0]));
    expect(callOf).toEqual([...callOf].sort((x, y) => x - y));
  });
});
