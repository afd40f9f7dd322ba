/**
 * The file vault's resident form (stored-secret.ts, vault-document.ts): committed secrets are
 * canonical and never mutated, drafts are private, the file form is unchanged, and the pieces a
 * compaction seals make the same file as sealing the whole text at once.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  draftDocument,
  emptyDocument,
  ensureSecret,
  applyJournalRecord,
  getVersion,
  installDraft,
  installSecret,
  journalChangePieces,
  journalRecordPieces,
  moveLabel,
  parseDocument,
  plainSecret,
  promote,
  removeLabel,
  SnapshotReader,
  putPending,
  secretName,
  serializeDocument,
  type DraftDocument,
  type StoredSecret,
  type VaultDocument,
} from '../../src/adapters/file-vault/vault-document.js';
import { deriveVaultKey, openDocument, sealDocumentPieces } from '../../src/adapters/file-vault/vault-file-format.js';
import { journalHeader, replayRecords, sealRecord } from '../../src/adapters/file-vault/vault-journal.js';
import { LABEL_CURRENT, LABEL_PENDING, LABEL_PREVIOUS, type SecretKey, type SecretPayload } from '../../src/ports/vault.js';

const key = (n: number): SecretKey => ({ region: 'eu-west-101', projectId: '0123456789abcdef0123456789abcdef', serverId: `srv-${n}` });
const token = (n: number): string => `run-unit-test-batch-0-generation-${String(n).padStart(4, '0')}`;

function payload(k: SecretKey, password: string): SecretPayload {
  return {
    username: 'root',
    password,
    serverId: k.serverId,
    serverName: `web-${k.serverId}`,
    osType: 'Linux',
    region: k.region,
    projectId: k.projectId,
    runId: 'run-1',
    createdAt: '2025-01-01T00:00:00.000Z',
    activation: 'after-reboot',
  };
}

/** Applies `op` as a commit does: on a draft, then installs what changed. */
function commit(doc: VaultDocument, k: SecretKey, op: (draft: DraftDocument) => boolean): void {
  const name = secretName(k);
  const draft = draftDocument(doc, [name]);
  if (op(draft)) installSecret(doc, draft.secrets.get(name)!);
}

/** Applies `op` as the file vault commits: the versions the draft copied keep their resident form. */
function commitDraft(doc: VaultDocument, k: SecretKey, op: (draft: DraftDocument) => boolean): void {
  const name = secretName(k);
  const draft = draftDocument(doc, [name]);
  if (op(draft)) installDraft(doc, draft, draft.secrets.get(name)!);
}

function documentOf(servers: number): VaultDocument {
  const doc = emptyDocument();
  for (let n = 0; n < servers; n += 1) {
    commit(doc, key(n), (d) => ensureSecret(d, key(n), 1_000));
    commit(doc, key(n), (d) => putPending(d, key(n), token(1), payload(key(n), 'Shared-Passw0rd!'), 2_000));
  }
  return doc;
}

/** A journal file's reads, served from `bytes`; each read's length is noted in `reads`. */
function readerOf(bytes: Buffer, reads: number[] = []): (into: Buffer, position: number) => Promise<void> {
  return async (into, position) => {
    reads.push(into.length);
    if (position + into.length > bytes.length) throw new Error(`read past the end: ${position + into.length} > ${bytes.length}`);
    bytes.copy(into, 0, position, position + into.length);
  };
}

describe('file vault document in memory', () => {
  it('keeps committed secrets frozen, and a draft change away from the committed one until installed', () => {
    const doc = documentOf(1);
    const committed = doc.secrets.get(secretName(key(0)))!;
    expect(Object.isFrozen(committed)).toBe(true);
    expect(() => (committed as unknown[]).push('X')).toThrow(TypeError);
    expect(() => ((committed as unknown[])[0] = 'another')).toThrow(TypeError);

    const draft = draftDocument(doc, [secretName(key(0))]);
    expect(Object.isFrozen(draft.secrets.get(secretName(key(0)))!.versions[0]!.value)).toBe(true);
    expect(promote(draft, key(0), token(1), undefined, 3_000)).toBe(true);
    expect(plainSecret(doc.secrets.get(secretName(key(0)))!).versions[0]!.labels).toEqual([LABEL_PENDING]);
    installSecret(doc, draft.secrets.get(secretName(key(0)))!);
    // promote leaves AWSPENDING where it was: on the version that now holds AWSCURRENT it reads as settled (labels.ts).
    expect(plainSecret(doc.secrets.get(secretName(key(0)))!).versions[0]!.labels).toEqual([LABEL_PENDING, LABEL_CURRENT]);
  });

  it('holds what a batch shares once, and gives back every field as written', () => {
    const doc = documentOf(3);
    const [a, b] = [doc.secrets.get(secretName(key(0)))!, doc.secrets.get(secretName(key(1)))!];
    // The batch part of the payload, the token, the labels and the commit time are the same instances.
    for (let slot = 5; slot < a.length; slot += 1) if (slot !== 10) expect(a[slot]).toBe(b[slot]); // 10: the server name
    expect(JSON.stringify(plainSecret(a))).toBe(
      JSON.stringify({
        name: secretName(key(0)),
        key: key(0),
        createdAt: 1_000,
        lastChangedAt: 2_000,
        versions: [{ versionId: token(1), value: payload(key(0), 'Shared-Passw0rd!'), labels: [LABEL_PENDING], createdAt: 2_000 }],
      }),
    );
  });

  it('a new version of a secret holds the server name of the versions it keeps, when it is the same', () => {
    const doc = documentOf(1);
    // The listing of a later run makes a new string for the same name.
    const again = { ...payload(key(0), 'Next-Passw0rd!'), serverName: ['web', key(0).serverId].join('-') };
    commitDraft(doc, key(0), (d) => putPending(d, key(0), token(2), again, 3_000));
    const held = doc.secrets.get(secretName(key(0)))!;
    expect(held.length).toBe(5 + 2 * 6);
    expect(held[5 + 6 + 5]).toBe('web-srv-0');
    expect(getVersion(doc, key(0), { versionId: token(2) })!.value).toEqual(again);
    // A different name is kept as it came.
    const renamed = { ...payload(key(0), 'Third-Passw0rd!'), serverName: 'web-renamed' };
    commitDraft(doc, key(0), (d) => putPending(d, key(0), token(3), renamed, 4_000));
    expect(getVersion(doc, key(0), { versionId: token(3) })!.value.serverName).toBe('web-renamed');
    expect(getVersion(doc, key(0), { versionId: token(1) })!.value.serverName).toBe('web-srv-0');
  });

  it('holds a server name once for all its versions: measured on the heap, since strings have no identity to compare', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const servers = 2_000;
    // A fresh flat string of 10,000 characters each time, as JSON.parse makes for every listing.
    const nameOf = (n: number): string => JSON.parse(`"${'n'.repeat(10_000)}-${n}"`) as string;
    const doc = emptyDocument();
    for (let n = 0; n < servers; n += 1) {
      commit(doc, key(n), (d) => ensureSecret(d, key(n), 1_000));
      commit(doc, key(n), (d) => putPending(d, key(n), token(1), { ...payload(key(n), 'Shared-Passw0rd!'), serverName: nameOf(n) }, 2_000));
    }
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let n = 0; n < servers; n += 1) {
      commitDraft(doc, key(n), (d) => putPending(d, key(n), token(2), { ...payload(key(n), 'Next-Passw0rd!'), serverName: nameOf(n) }, 3_000));
    }
    gc();
    const grown = getHeapStatistics().used_heap_size - before;
    // Held twice, the names alone would be 20 MB more; the second versions' own slots are about 0.2 MB.
    expect(grown).toBeLessThan(5 * 1024 * 1024);
    expect(getVersion(doc, key(7), { versionId: token(2) })!.value.serverName).toBe(nameOf(7));
  });

  it('hands out copies of payloads, and a replay with the same fields in another order is a no-op', () => {
    const doc = documentOf(1);
    const read = getVersion(doc, key(0), { versionId: token(1) })!;
    read.value.password = 'changed';
    expect(getVersion(doc, key(0), { versionId: token(1) })!.value.password).toBe('Shared-Passw0rd!');
    const reordered = Object.fromEntries(Object.entries(payload(key(0), 'Shared-Passw0rd!')).reverse()) as unknown as SecretPayload;
    commit(doc, key(0), (d) => {
      expect(putPending(d, key(0), token(1), reordered, 4_000)).toBe(false);
      return false;
    });
  });

  it('names and validates a key object again when its fields changed since it was last used', () => {
    const doc = documentOf(2);
    const k = { ...key(0) };
    expect(getVersion(doc, k, { versionId: token(1) })?.value.serverId).toBe('srv-0');
    k.serverId = 'srv-1';
    expect(getVersion(doc, k, { versionId: token(1) })?.value.serverId).toBe('srv-1');
    k.serverId = 'srv/1';
    expect(() => getVersion(doc, k, { versionId: token(1) })).toThrow(/"serverId" must be a non-empty string without "\/"/);
  });

  it('keeps a payload with other fields as it came', () => {
    const doc = documentOf(0);
    const odd = { ...payload(key(0), 'Odd-Passw0rd!'), note: 'kept' } as unknown as SecretPayload;
    commit(doc, key(0), (d) => ensureSecret(d, key(0), 1_000));
    commit(doc, key(0), (d) => putPending(d, key(0), token(2), odd, 2_000));
    expect(getVersion(doc, key(0), { versionId: token(2) })!.value).toEqual(odd);
  });

  it('writes the file form as before, in pieces, and reads it back', () => {
    const doc = documentOf(7);
    commit(doc, key(3), (d) => moveLabel(d, key(3), 'ROTATOR_ACTIVE', token(1), 5_000));
    const text = [...serializeDocument(doc, 3)].join('');
    const plain = JSON.parse(text) as { format: number; secrets: Record<string, unknown> };
    expect(plain.format).toBe(1);
    expect(Object.keys(plain.secrets)).toHaveLength(7);
    expect(plain.secrets[secretName(key(3))]).toEqual(JSON.parse(JSON.stringify(plainSecret(doc.secrets.get(secretName(key(3)))!))));
    const back = parseDocument(text, 'test');
    expect([...back.secrets.keys()]).toEqual([...doc.secrets.keys()]);
    for (const [name, secret] of doc.secrets) expect(back.secrets.get(name)).toEqual(secret);
    expect([...serializeDocument(emptyDocument())].join('')).toBe('{"format":1,"secrets":{}}');
  });

  it('writes a journal record in pieces whose text is the record as one JSON text', () => {
    const doc = documentOf(7);
    const secrets = [...doc.secrets.values()].map((s) => plainSecret(s));
    for (const perPiece of [1, 2, 3, 7, 32]) {
      for (const count of [0, 1, 2, 7]) {
        expect([...journalRecordPieces(secrets.slice(0, count), perPiece)].join('')).toBe(JSON.stringify({ secrets: secrets.slice(0, count) }));
      }
    }
  });

  describe('journal records of format 2 (what a commit changed)', () => {
    /** Commits `ops` on `names` as file-vault.ts does; answers the record text and the document before and after. */
    function journalled(doc: VaultDocument, names: string[], ops: (draft: DraftDocument) => void, perPiece?: number): { record: string; before: VaultDocument } {
      const before = copyOf(doc);
      const draft = draftDocument(doc, names);
      ops(draft);
      const changed = names.filter((n) => draft.secrets.has(n)).map((n) => draft.secrets.get(n)!);
      const record = [...journalChangePieces(doc, draft, changed, perPiece)].join('');
      for (const secret of changed) installSecret(doc, secret);
      return { record, before };
    }
    function copyOf(doc: VaultDocument): VaultDocument {
      const copy = emptyDocument();
      for (const secret of doc.secrets.values()) installSecret(copy, plainSecret(secret));
      return copy;
    }
    const plain = (doc: VaultDocument) => [...doc.secrets.values()].map((s) => JSON.parse(JSON.stringify(plainSecret(s))) as unknown);

    it('names the versions the vault held with their new labels, and replays to the committed state, also twice', () => {
      const doc = documentOf(3);
      for (const n of [0, 1, 2]) commit(doc, key(n), (d) => promote(d, key(n), token(1), undefined, 3_000));
      const names = [0, 1, 2].map((n) => secretName(key(n)));
      const { record, before } = journalled(doc, names, (d) => {
        for (const n of [0, 1, 2]) putPending(d, key(n), token(2), payload(key(n), 'Next-Passw0rd!'), 4_000, ['ROTATOR_UNCONFIRMED_1']);
        promote(d, key(0), token(2), token(1), 4_000);
      });
      // The new version whole (its password once per server), the earlier one by id and labels only.
      expect(record.split('Next-Passw0rd!')).toHaveLength(4);
      expect(record).not.toContain('Shared-Passw0rd!');
      expect(JSON.parse(record).changes[0].v[0]).toEqual([token(1), [LABEL_PREVIOUS]]); // AWSPENDING moved to the new one
      applyJournalRecord(before, record, 'test', 2);
      expect(plain(before)).toEqual(plain(doc));
      applyJournalRecord(before, record, 'test', 2); // a replay of a record already applied changes nothing
      expect(plain(before)).toEqual(plain(doc));
    });

    it('writes a new secret whole, with its key and creation time', () => {
      const doc = emptyDocument();
      const { record, before } = journalled(doc, [secretName(key(7))], (d) => {
        ensureSecret(d, key(7), 1_000);
        putPending(d, key(7), token(1), payload(key(7), 'First-Passw0rd!'), 1_000);
      });
      expect(JSON.parse(record).changes[0]).toMatchObject({ n: secretName(key(7)), k: key(7), c: 1_000, l: 1_000 });
      applyJournalRecord(before, record, 'test', 2);
      expect(plain(before)).toEqual(plain(doc));
    });

    it('writes whole a version added under the id of one pruned in the same commit', () => {
      const doc = documentOf(1);
      commit(doc, key(0), (d) => promote(d, key(0), token(1), undefined, 3_000));
      // Versions 2 … 8 pending in turn: each put moves AWSPENDING, so the older ones end unlabelled and are pruned.
      for (let n = 2; n <= 8; n += 1) commit(doc, key(0), (d) => putPending(d, key(0), token(n), payload(key(0), `Pw-${n}!`), 3_000 + n));
      const name = secretName(key(0));
      expect(plainSecret(doc.secrets.get(name)!).versions.map((v) => v.versionId)).not.toContain(token(2));
      const { record, before } = journalled(doc, [name], (d) => {
        putPending(d, key(0), token(2), payload(key(0), 'Pw-again!'), 9_000);
      });
      expect(record).toContain('Pw-again!');
      applyJournalRecord(before, record, 'test', 2);
      expect(plain(before)).toEqual(plain(doc));
      expect(getVersion(before, key(0), { versionId: token(2) })!.value.password).toBe('Pw-again!');
    });

    it('installs a draft reusing the resident form of the versions it copied, as a fresh install would build it', () => {
      const doc = documentOf(3);
      for (const n of [0, 1]) commit(doc, key(n), (d) => promote(d, key(n), token(1), undefined, 3_000));
      for (let n = 2; n <= 7; n += 1) commit(doc, key(2), (d) => putPending(d, key(2), token(n), payload(key(2), `Pw-${n}!`), 3_000 + n));
      const names = [0, 1, 2, 3].map((n) => secretName(key(n)));
      const draft = draftDocument(doc, names);
      putPending(draft, key(0), token(2), payload(key(0), 'Next-Passw0rd!'), 4_000, ['ROTATOR_UNCONFIRMED_2']);
      promote(draft, key(0), token(2), token(1), 4_000);
      moveLabel(draft, key(1), 'ROTATOR_ACTIVE', token(1), 4_000);
      putPending(draft, key(2), token(1), payload(key(2), 'Pw-1-again!'), 4_000); // pruned before: a new version
      ensureSecret(draft, key(3), 4_000);
      const fresh = copyOf(doc);
      for (const name of names) {
        const secret = draft.secrets.get(name)!;
        installDraft(doc, draft, secret);
        installSecret(fresh, JSON.parse(JSON.stringify(secret)) as StoredSecret);
      }
      for (const name of names) expect(doc.secrets.get(name), name).toEqual(fresh.secrets.get(name));
      expect(getVersion(doc, key(2), { versionId: token(1) })!.value.password).toBe('Pw-1-again!');
      expect(getVersion(doc, key(0), { label: LABEL_PREVIOUS })!.value.password).toBe('Shared-Passw0rd!');
    });

    it('joins its pieces into one JSON text', () => {
      const doc = documentOf(9);
      const names = [...doc.secrets.keys()];
      const texts = [1, 2, 5, 64].map((perPiece) => {
        const copy = copyOf(doc);
        return journalled(copy, names, (d) => names.forEach((_, n) => removeLabel(d, key(n), LABEL_PENDING, token(1), 5_000)), perPiece).record;
      });
      for (const text of texts) expect(text).toBe(texts[0]);
      expect(JSON.parse(texts[0]!).changes).toHaveLength(9);
    });

    it('refuses, changing nothing, a record naming a version or a secret the vault does not hold', () => {
      const doc = documentOf(2);
      const before = plain(doc);
      const cases = [
        { changes: [{ n: secretName(key(0)), l: 5, v: [[token(1), []]] }, { n: secretName(key(1)), l: 5, v: [[token(9), [LABEL_CURRENT]]] }] },
        { changes: [{ n: secretName(key(5)), l: 5, v: [] }] },
        { changes: [{ n: secretName(key(0)), l: 5, v: [{ versionId: token(3), labels: [] }] }] },
        { secrets: [] },
      ];
      for (const record of cases) {
        let error: unknown;
        try {
          applyJournalRecord(doc, JSON.stringify(record), 'test-journal', 2);
        } catch (e) {
          error = e;
        }
        expect((error as { code?: string } | undefined)?.code, JSON.stringify(record)).toBe('VAULT_WRONG_KEY_OR_CORRUPT');
        expect(String(error)).toContain('test-journal');
      }
      expect(plain(doc)).toEqual(before);
    });
  });

  it('seals a journal record from pieces as from its whole text', async () => {
    const vaultKey = deriveVaultKey(randomBytes(32));
    const header = journalHeader(vaultKey, randomBytes(12));
    const pieces = [...journalRecordPieces([...documentOf(9).secrets.values()].map((s) => plainSecret(s)), 2)];
    const first = sealRecord(pieces, vaultKey, header, header.length);
    const second = sealRecord(pieces.join(''), vaultKey, header, header.length + first.length);
    const records: string[] = [];
    const read = await replayRecords(readerOf(Buffer.concat([header, first, second])), header.length, header.length + first.length + second.length, vaultKey, header, 'test', (r) => records.push(r));
    expect(records).toEqual([pieces.join(''), pieces.join('')]);
    expect(read).toEqual({ end: header.length + first.length + second.length, tornTail: false });
  });

  describe('replaying a journal record by record', () => {
    const vaultKey = deriveVaultKey(randomBytes(32));
    const header = journalHeader(vaultKey, randomBytes(12));
    /** A journal of records with these plaintext lengths (characters), and their texts. */
    const journalOf = (lengths: number[]): { bytes: Buffer; texts: string[]; ends: number[] } => {
      const parts = [header];
      const texts: string[] = [];
      const ends: number[] = [];
      let at = header.length;
      lengths.forEach((length, i) => {
        const text = JSON.stringify({ changes: [], i, pad: 'x'.repeat(length) });
        const record = sealRecord(text, vaultKey, header, at);
        parts.push(record);
        texts.push(text);
        at += record.length;
        ends.push(at);
      });
      return { bytes: Buffer.concat(parts), texts, ends };
    };
    const replay = async (bytes: Buffer, size = bytes.length, reads: number[] = []) => {
      const seen: string[] = [];
      const result = await replayRecords(readerOf(bytes, reads), header.length, size, vaultKey, header, 'test-journal', (r) => seen.push(r));
      return { seen, result };
    };

    it('applies every record in order, small ones and ones larger than a read-ahead, and never reads the journal whole', async () => {
      // 3 MiB and 1.5 MiB records among small ones: a record spans several read-aheads, and read-aheads span many records.
      const lengths = [10, 3 << 20, ...Array.from({ length: 300 }, (_, i) => 100 + i * 37), 1.5 * (1 << 20), 5, 20_000];
      const { bytes, texts } = journalOf(lengths);
      const reads: number[] = [];
      const { seen, result } = await replay(bytes, bytes.length, reads);
      expect(seen).toEqual(texts);
      expect(result).toEqual({ end: bytes.length, tornTail: false });
      // Memory stays at one record (or one read-ahead of 1 MiB), whatever the journal's size (about 4.6 MiB here).
      expect(Math.max(...reads)).toBeLessThanOrEqual((3 << 20) + 64);
      expect(reads.reduce((a, b) => a + b, 0)).toBeLessThan(bytes.length + (3 << 20));
      expect(reads.length).toBeLessThan(20); // not two reads per record
    });

    it('stops before a torn record at the end, in its length field or in its body', async () => {
      const { bytes, texts, ends } = journalOf([50, 60, 70]);
      for (const cut of [ends[1]! + 3, ends[1]! + 40, ends[2]! - 1]) {
        const { seen, result } = await replay(bytes.subarray(0, cut));
        expect(seen).toEqual(texts.slice(0, 2));
        expect(result).toEqual({ end: ends[1], tornTail: true });
      }
    });

    it('refuses a complete record that fails authentication, after handing over the records before it', async () => {
      const { bytes, texts, ends } = journalOf([50, 60, 70]);
      const altered = Buffer.from(bytes);
      altered[ends[1]! + 40]! ^= 1;
      const seen: string[] = [];
      const replaying = replayRecords(readerOf(altered), header.length, altered.length, vaultKey, header, 'test-journal', (r) => seen.push(r));
      await expect(replaying).rejects.toMatchObject({ code: 'VAULT_WRONG_KEY_OR_CORRUPT', message: expect.stringContaining(`record at offset ${ends[1]}`) });
      expect(seen).toEqual(texts.slice(0, 2));
    });

    it('refuses a stated length beyond any record instead of reading it', async () => {
      const { bytes, ends } = journalOf([50, 60]);
      const altered = Buffer.from(bytes);
      altered.writeUInt32BE(0xffff_fff0, ends[0]!);
      await expect(replay(altered)).rejects.toMatchObject({ code: 'VAULT_WRONG_KEY_OR_CORRUPT', message: expect.stringContaining(`states a record of ${0xffff_fff0} bytes`) });
    });
  });

  it('seals pieces into a file that opens to their text', async () => {
    const vaultKey = deriveVaultKey(randomBytes(32));
    const pieces = [...serializeDocument(documentOf(50), 8)];
    const ciphertext: Buffer[] = [];
    const header = await sealDocumentPieces(pieces, vaultKey, async (bytes) => {
      ciphertext.push(Buffer.from(bytes));
    });
    expect(openDocument(Buffer.concat([header, ...ciphertext]), vaultKey, 'test')).toBe(pieces.join(''));
  });

  describe('reading a snapshot in pieces', () => {
    const read = (text: string, pieceLength: number): VaultDocument => {
      const reader = new SnapshotReader('test');
      const bytes = Buffer.from(text, 'utf8');
      for (let at = 0; at < bytes.length; at += pieceLength) reader.push(bytes.subarray(at, at + pieceLength));
      return reader.end();
    };
    const tricky = (): VaultDocument => {
      const doc = documentOf(5);
      // Quotes, backslashes, brackets and multi-byte characters inside strings must not fool the split.
      const odd = { ...payload(key(9), 'p"}{]\\"[,:x'), serverName: 'ünïcödé "}, {\\' } as SecretPayload;
      commit(doc, key(9), (d) => ensureSecret(d, key(9), 1_000));
      commit(doc, key(9), (d) => putPending(d, key(9), token(1), odd, 2_000));
      return doc;
    };

    it('builds the same document whatever the pieces', () => {
      const doc = tricky();
      const text = [...serializeDocument(doc)].join('');
      for (const length of [1, 2, 3, 7, 64, 1000, text.length]) {
        const back = read(text, length);
        expect([...back.secrets.keys()], `pieces of ${length}`).toEqual([...doc.secrets.keys()]);
        for (const [name, secret] of doc.secrets) expect(back.secrets.get(name), `pieces of ${length}`).toEqual(secret);
      }
      expect(read('{"format":1,"secrets":{}}', 1).secrets.size).toBe(0);
    });

    it('reads any other JSON form of the document whole', () => {
      const doc = tricky();
      const plain = JSON.parse([...serializeDocument(doc)].join('')) as object;
      const pretty = JSON.stringify(plain, null, 2);
      const reordered = JSON.stringify({ secrets: (plain as { secrets: object }).secrets, format: 1 });
      for (const text of [pretty, reordered]) {
        const back = read(text, 5);
        for (const [name, secret] of doc.secrets) expect(back.secrets.get(name)).toEqual(secret);
      }
    });

    it('refuses damaged or malformed text with VAULT_WRONG_KEY_OR_CORRUPT', () => {
      const text = [...serializeDocument(tricky())].join('');
      const one = [...serializeDocument(documentOf(1))].join('');
      const bad = [
        text.slice(0, -1), // truncated
        text.slice(0, text.length / 2),
        `${text}x`, // trailing bytes
        `${text}}`,
        one.replace('{"format":1,"secrets":{', '{"format":1,"secrets":{,'), // stray comma
        text.replace('},"ecs/', '}"ecs/'), // missing comma
        one.replace(/"name":"[^"]*"/, '"name":"another"'), // name differs from its key
        '{"format":2,"secrets":{}}',
        '',
      ];
      for (const candidate of bad) {
        for (const length of [1, 13, 1 << 20]) {
          let error: unknown;
          try {
            read(candidate, length);
          } catch (e) {
            error = e;
          }
          expect((error as { code?: string } | undefined)?.code, `${JSON.stringify(candidate.slice(0, 60))} in pieces of ${length}`).toBe('VAULT_WRONG_KEY_OR_CORRUPT');
        }
      }
    });
  });
});
