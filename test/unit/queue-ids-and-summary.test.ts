import { describe, expect, it } from 'vitest';
import { UnrecoverableError } from 'bullmq';
import { compactBatchResult } from '../../src/queue/batch-processor.js';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { batchJobId, manualRunId, runIdOfBatch, scheduledRunId, slotOf, slotTime, targetOfRunId } from '../../src/domain/job-ids.js';
import { classifyJobFailure } from '../../src/queue/job-failure.js';
import { BatchJobDataSchema, BatchResultSchema, batchPreflightOf, listedDetailsOf, listedServersOf, parseJobData, preflightOf } from '../../src/queue/job-schemas.js';
import { batchesPerPreflight, isFreshPreflight, RUN_PREFLIGHT_MAX_AGE_MS } from '../../src/rotation/run-preflight.js';
import { formatRanges, parseRanges, countRanges } from '../../src/queue/position-ranges.js';
import { aggregateRunSummary, listedOutcomes, outcomesOfBatch, runSucceeded, serversOfBatch } from '../../src/queue/run-summary.js';
import type { BatchResult } from '../../src/queue/run-summary.js';

describe('job ids', () => {
  it('names slots by their UTC minute and builds ids without colons', () => {
    expect(slotOf(Date.UTC(2026, 10, 27, 12, 0, 59, 999))).toBe('20261127T1200Z');
    expect(slotTime('20261127T1200Z')).toBe(Date.UTC(2026, 10, 27, 12, 0));
    expect(slotTime('20261131T1200Z')).toBeUndefined();
    const run = scheduledRunId('web', '20261127T1200Z');
    expect(run).toBe('run|web|20261127T1200Z');
    expect(batchJobId(run, 3)).toBe('run|web|20261127T1200Z|b3');
    expect(runIdOfBatch('run|web|20261127T1200Z|b3')).toBe(run);
    expect(manualRunId('web', '0b7c6c1e-5d2f-4c43-9d2e-8b0f8f8a4d11')).toBe('run|web|manual-0b7c6c1e-5d2f-4c43-9d2e-8b0f8f8a4d11');
    for (const id of [run, batchJobId(run, 0)]) expect(id).not.toContain(':');
    expect(targetOfRunId(run)).toBe('web');
    expect(targetOfRunId(manualRunId('web-eu', '0b7c6c1e'))).toBe('web-eu');
    expect(targetOfRunId(batchJobId(run, 3))).toBeUndefined();
    expect(targetOfRunId('r1')).toBeUndefined();
  });

  it('refuses ids built from bad parts', () => {
    expect(() => scheduledRunId('Web:1', '20261127T1200Z')).toThrow(/target name/);
    expect(() => scheduledRunId('web', '2026-11-27')).toThrow(/slot/);
    expect(() => batchJobId('run|web|x', -1)).toThrow(/batchIndex/);
  });
});

describe('payload parsing', () => {
  it('throws UnrecoverableError naming each bad field, not the values', () => {
    let error: unknown;
    try {
      parseJobData(BatchJobDataSchema, { runId: 'nope', target: 'web', batchIndex: 1.5, serverIds: ['s1'], dryRun: false, pw: 'Secret-123!' }, 'batch job');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnrecoverableError);
    const message = (error as Error).message;
    expect(message).toMatch(/^invalid batch job payload: /);
    expect(message).toContain('runId: ');
    expect(message).toContain('batchIndex: ');
    expect(message).toContain('"pw"');
    expect(message).not.toContain('Secret-123!');
  });

  const base = { runId: 'run|web|manual-1', target: 'web', batchIndex: 0, dryRun: false };
  const web1 = { id: 'srv-1', name: 'web-1', osType: 'Linux' as const, status: 'ACTIVE', locked: false, tags: {}, enterpriseProjectId: undefined, addresses: { fixed: ['10.0.0.1'], floating: [] } };

  it('reads the listing position by position, without repeating the ids, and a bare id as undescribed', () => {
    const data = parseJobData(BatchJobDataSchema, JSON.parse(JSON.stringify({ ...base, serverIds: ['srv-1', 'srv-2'], listing: [listedDetailsOf(web1), null] })), 'batch job');
    expect(JSON.stringify(data.listing)).not.toContain('srv-1');
    expect(listedServersOf(data)).toEqual([web1]);
    expect(() => parseJobData(BatchJobDataSchema, { ...base, serverIds: ['srv-1', 'srv-2'], listing: [null] }, 'batch job')).toThrow(/listing: one entry \(or null\) per server id/);
  });

  it('still reads the listing of jobs written by the previous releases (tuples with the id, with or without addresses)', () => {
    const old = parseJobData(BatchJobDataSchema, { ...base, serverIds: ['srv-1', 'srv-2'], servers: [['srv-1', 'web-1', 'Linux', 'ACTIVE', false, ['10.0.0.1'], []], ['srv-2', 'db-1', '', 'SHUTOFF', true]] }, 'batch job');
    expect(listedServersOf(old)).toEqual([web1, { id: 'srv-2', name: 'db-1', osType: undefined, status: 'SHUTOFF', locked: true, tags: {}, enterpriseProjectId: undefined }]);
    expect(listedServersOf(parseJobData(BatchJobDataSchema, { ...base, serverIds: ['srv-1'] }, 'batch job'))).toBeUndefined();
  });
});

describe('batch job payloads read without zod (the common case)', () => {
  const entry = ['web-1', 'Linux', 'ACTIVE', false, ['10.0.0.1'], []];
  const good = { runId: 'run|web|manual-1', target: 'web', batchIndex: 2, serverIds: ['srv-1', 'srv-2'], listing: [entry, null], dryRun: false, restartPolicy: 'soft' };
  const variants: Record<string, unknown>[] = [
    good,
    { ...good, listing: undefined },
    { ...good, restartPolicy: undefined },
    { ...good, extra: 1 },
    { ...good, runId: 'run|Web|x' },
    { ...good, target: 'Web' },
    { ...good, batchIndex: -1 },
    { ...good, batchIndex: 1.5 },
    { ...good, batchIndex: '1' },
    { ...good, dryRun: 'no' },
    { ...good, restartPolicy: 'reboot' },
    { ...good, serverIds: [] },
    { ...good, serverIds: ['srv 1', 'srv-2'] },
    { ...good, serverIds: Array.from({ length: 1001 }, (_, i) => `s${i}`), listing: undefined },
    { ...good, listing: [entry] },
    { ...good, listing: [[...entry, 'more'], null] },
    { ...good, listing: [entry.slice(0, 5), null] },
    { ...good, listing: [['web-1', 'BeOS', 'ACTIVE', false, [], []], null] },
    { ...good, listing: [['web-1', 'Linux', '', false, [], []], null] },
    { ...good, listing: [['web-1', 'Linux', 'ACTIVE', 'no', [], []], null] },
    { ...good, listing: [['x'.repeat(256), 'Linux', 'ACTIVE', false, [], []], null] },
    { ...good, listing: [['web-1', 'Linux', 'ACTIVE', false, ['x'.repeat(46)], []], null] },
    { ...good, listing: [['web-1', 'Linux', 'ACTIVE', false, [], Array.from({ length: 33 }, () => '10.0.0.1')], null] },
    { ...good, listing: [['web-1', 'Linux', 'ACTIVE', false, [], [7]], null] },
    { ...good, listing: undefined, servers: [['srv-1', 'web-1', 'Linux', 'ACTIVE', false]] },
    { ...good, preflight: { at: 1_700_000_000_000, requestId: 'req-1', refused: [[1, 'Ecs.0605', 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[2, 'Ecs.0605', 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[-1, 'Ecs.0605', 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[0.5, 'Ecs.0605', 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[0, '', 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[0, 'x'.repeat(65), 'locked']] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[0, 'Ecs.0605', 'x'.repeat(1025)]] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [[0, 'Ecs.0605']] } },
    { ...good, preflight: { at: -1, refused: [] } },
    { ...good, preflight: { at: 1.5, refused: [] } },
    { ...good, preflight: { at: 1_700_000_000_000, requestId: 7, refused: [] } },
    { ...good, preflight: { at: 1_700_000_000_000, refused: [], extra: true } },
    { ...good, preflight: { at: 1_700_000_000_000 } },
    { ...good, preflight: [] },
  ];

  it.each(variants.map((v, i) => [i, v] as const))('variant %i: accepted exactly when the schema accepts it, and read as the schema reads it', (_i, variant) => {
    const data = JSON.parse(JSON.stringify(variant)) as unknown;
    const expected = BatchJobDataSchema.safeParse(data);
    if (expected.success) expect(parseJobData(BatchJobDataSchema, data, 'batch job')).toEqual(expected.data);
    else expect(() => parseJobData(BatchJobDataSchema, data, 'batch job')).toThrow(UnrecoverableError);
  });
});

describe('a batch job’s share of the run preflight', () => {
  it('goes into the job by position and comes back by id, bounded as the schema bounds it', () => {
    const serverIds = ['srv-1', 'srv-2', 'srv-3'];
    const run = {
      checkedAt: 1_700_000_000_123,
      requestId: 'req-9',
      refused: new Map([
        ['srv-3', { code: 'Ecs.0613', message: 'm'.repeat(2000) }],
        ['srv-9', { code: 'Ecs.0605', message: 'another batch’s server' }],
        ['srv-1', { code: '', message: 'no code: left to the reset' }],
      ]),
    };
    const share = batchPreflightOf(run, serverIds);
    expect(share).toEqual({ at: 1_700_000_000_123, requestId: 'req-9', refused: [[2, 'Ecs.0613', 'm'.repeat(1024)]] });
    const data = parseJobData(BatchJobDataSchema, { runId: 'run|web|manual-1', target: 'web', batchIndex: 0, serverIds, dryRun: false, preflight: share }, 'batch job');
    expect(preflightOf(data)).toEqual({ checkedAt: 1_700_000_000_123, requestId: 'req-9', refused: new Map([['srv-3', { code: 'Ecs.0613', message: 'm'.repeat(1024) }]]) });
    expect(preflightOf({ serverIds })).toBeUndefined();
  });

  it('carries the servers the dry run gave no answer about (unsure), so that the batch reads their plug-in flag', () => {
    const serverIds = ['srv-1', 'srv-2', 'srv-3'];
    const run = { checkedAt: 5, requestId: undefined, refused: new Map([['srv-1', { code: 'Ecs.0605', message: 'locked' }]]), unsure: new Set(['srv-3', 'srv-9']) };
    const share = batchPreflightOf(run, serverIds);
    expect(share).toEqual({ at: 5, refused: [[0, 'Ecs.0605', 'locked']], unsure: [2] });
    const data = parseJobData(BatchJobDataSchema, { runId: 'run|web|manual-1', target: 'web', batchIndex: 0, serverIds, dryRun: false, preflight: share }, 'batch job');
    expect(preflightOf(data)?.unsure).toEqual(new Set(['srv-3']));
    // Jobs of earlier releases have no `unsure`: none.
    expect(preflightOf({ serverIds, preflight: { at: 5, refused: [] } })?.unsure).toBeUndefined();
    expect(() => parseJobData(BatchJobDataSchema, { runId: 'run|web|manual-1', target: 'web', batchIndex: 0, serverIds, dryRun: false, preflight: { at: 5, refused: [], unsure: [3] } }, 'batch job')).toThrow(/preflight\.unsure/);
  });

  it('names the field of a bad share', () => {
    expect(() => parseJobData(BatchJobDataSchema, { runId: 'run|web|manual-1', target: 'web', batchIndex: 0, serverIds: ['srv-1'], dryRun: false, preflight: { at: 1, refused: [[3, 'Ecs.0605', 'x']] } }, 'batch job')).toThrow(
      /preflight\.refused/,
    );
  });
});

describe('run preflight freshness and sharing', () => {
  it('is fresh for five minutes either way (two hosts’ clocks), and shared by the whole batches that fit in one call', () => {
    const at = 1_700_000_000_000;
    expect(isFreshPreflight({ checkedAt: at }, at + RUN_PREFLIGHT_MAX_AGE_MS)).toBe(true);
    expect(isFreshPreflight({ checkedAt: at }, at + RUN_PREFLIGHT_MAX_AGE_MS + 1)).toBe(false);
    expect(isFreshPreflight({ checkedAt: at }, at - RUN_PREFLIGHT_MAX_AGE_MS)).toBe(true);
    expect(isFreshPreflight({ checkedAt: at }, at - RUN_PREFLIGHT_MAX_AGE_MS - 1)).toBe(false);
    expect([1, 100, 333, 500, 501, 1000].map((size) => batchesPerPreflight(size, 1000))).toEqual([1000, 10, 3, 2, 1, 1]);
  });
});

describe('job failure classification', () => {
  it('maps errors to BullMQ control flow', () => {
    expect(classifyJobFailure(new RotatorError({ code: 'APIGW.0301', message: 'bad signature', retryable: false })).kind).toBe('unrecoverable');
    expect(classifyJobFailure(new RotatorError({ code: 'APIGW.0308', message: 'slow down', retryable: true, retryAfterMs: 1500 }))).toEqual({
      kind: 'throttled',
      delayMs: 1500,
      code: 'APIGW.0308',
    });
    expect(classifyJobFailure(new RotatorError({ code: 'APIGW.0308', message: 'slow down', retryable: true }), { throttleFallbackMs: 700 })).toMatchObject({ delayMs: 700 });
    expect(classifyJobFailure(new RotatorError({ code: 'X', message: 'x', retryable: true, retryAfterMs: 10 ** 9 }), { maxThrottleMs: 60_000 })).toMatchObject({
      kind: 'throttled',
      delayMs: 60_000,
    });
    expect(classifyJobFailure(new RotatorError({ code: 'VAULT_TIMEOUT', message: 'x', retryable: true })).kind).toBe('retry');
    expect(classifyJobFailure(new TypeError('bug')).kind).toBe('retry');
    const u = classifyJobFailure(new RotatorError({ code: 'Ecs.0118', message: 'too many servers', retryable: false }));
    expect(u.kind === 'unrecoverable' && u.error.message).toBe('Ecs.0118: too many servers');
  });
});

describe('run summary', () => {
  const batch = (batchIndex: number, outcomes: BatchResult['outcomes']): BatchResult => ({ runId: 'r', batchIndex, outcomes });
  it('aggregates batches in index order and counts every outcome', () => {
    const s = aggregateRunSummary({
      runId: 'r',
      target: 'web',
      trigger: 'manual',
      dryRun: false,
      servers: 6,
      batches: [
        batch(1, [{ serverId: 'c', outcome: 'failed', code: 'Ecs.0613' }]),
        batch(0, [
          { serverId: 'a', outcome: 'rotated-unverified' },
          { serverId: 'b', outcome: 'pending-restart' },
          { serverId: 'd', outcome: 'verified' },
        ]),
      ],
      failedBatches: [{ batchIndex: 2, reason: 'APIGW.0301: x', servers: 2 }],
    });
    // verified and rotated-unverified are counted apart: an accepted reset is never reported as verified.
    expect(s.counts).toEqual({ verified: 1, 'rotated-unverified': 1, 'pending-restart': 1, failed: 1, unknown: 0, skipped: 0, busy: 0 });
    expect(s.batches).toBe(3);
    // Problems are listed; accepted servers are counted (their batch results and states name them).
    expect(s.outcomes.map((o) => o.serverId)).toEqual(['c']);
    expect(s.outcomesOmitted).toBe(0);
    expect(runSucceeded(s, 'none')).toBe(false);
  });

  it('bounds the listed outcomes but not the counts', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ serverId: `s${i}`, outcome: i % 10 === 0 ? ('unknown' as const) : ('rotated-unverified' as const) }));
    const s = aggregateRunSummary({ runId: 'r', target: 'web', trigger: 'manual', dryRun: false, servers: 50, batches: [batch(0, many)], failedBatches: [], maxListed: 10 });
    const few = aggregateRunSummary({ runId: 'r', target: 'web', trigger: 'manual', dryRun: false, servers: 50, batches: [batch(0, many)], failedBatches: [], maxListed: 3 });
    // Five alike servers (same outcome, no code or reason): one group.
    expect(s.outcomes).toEqual([]);
    expect(s.grouped).toEqual([{ outcome: 'unknown', serverIds: ['s0', 's10', 's20', 's30', 's40'] }]);
    expect(listedOutcomes(s).map((o) => o.outcome)).toEqual(Array(5).fill('unknown'));
    expect(s.outcomesOmitted).toBe(0);
    expect(listedOutcomes(few).map((o) => o.serverId)).toEqual(['s0', 's10', 's20']);
    expect(few.outcomesOmitted).toBe(2);
    expect(s.counts['rotated-unverified'] + s.counts.unknown).toBe(50);
  });

  it('succeeds when every server rotated, or pending-restart under restart policy none', () => {
    const s = aggregateRunSummary({
      runId: 'r', target: 'web', trigger: 'manual', dryRun: false, servers: 2,
      batches: [batch(0, [{ serverId: 'a', outcome: 'rotated-unverified' }, { serverId: 'b', outcome: 'pending-restart' }])],
      failedBatches: [],
    });
    expect(runSucceeded(s, 'none')).toBe(true);
    expect(runSucceeded(s, 'soft')).toBe(false);
  });
});

describe('position ranges', () => {
  it('formats positions as ranges and parses them back', () => {
    expect(formatRanges([])).toBe('');
    expect(formatRanges([0, 1, 2, 3, 5, 7, 8, 999])).toBe('0-3,5,7-8,999');
    expect(formatRanges([3, 1, 2, 2])).toBe('1-3');
    expect(parseRanges('0-3,5,7-8,999')).toEqual([0, 1, 2, 3, 5, 7, 8, 999]);
    expect(parseRanges('')).toEqual([]);
    expect(countRanges('0-999')).toBe(1000);
    const positions = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 7 !== 3);
    expect(parseRanges(formatRanges(positions))).toEqual(positions);
  });

  it('refuses malformed ranges with a clear error', () => {
    expect(() => parseRanges('1-')).toThrow(/position ranges/);
    expect(() => parseRanges('5-2')).toThrow(/bad range 5-2/);
    expect(() => countRanges('a')).toThrow(/position ranges/);
  });
});

describe('compactBatchResult', () => {
  const failed = { serverId: 's3', outcome: 'failed' as const, code: 'Ecs.0613', reason: 'no plug-in', requestId: 'r-1', versionId: 'v-1' };
  // Its reason says why no login proved the password: not implied by the outcome, so kept.
  const unverified = { serverId: 's4', outcome: 'rotated-unverified' as const, reason: 'accepted and restarted; not verified by login (verification off)', versionId: 'v-1', requestId: 'r-1' };
  const serverIds = ['s1', 's2', 's3', 's4', 's5'];
  const result: BatchResult = {
    runId: 'run|t|x',
    batchIndex: 0,
    counts: { 'pending-restart': 2, verified: 1, failed: 1, 'rotated-unverified': 1, unknown: 0, skipped: 0, busy: 0 },
    outcomes: [
      { serverId: 's1', outcome: 'pending-restart', reason: 'accepted by Huawei; takes effect at the next restart', versionId: 'v-1', requestId: 'r-1' },
      { serverId: 's2', outcome: 'verified', reason: 'accepted, restarted and verified by login', versionId: 'v-1', requestId: 'r-1' },
      failed,
      unverified,
      { serverId: 's5', outcome: 'pending-restart', reason: 'accepted by Huawei; takes effect at the next restart', versionId: 'v-1', requestId: 'r-1' },
    ],
  };

  it('lists problems one by one with every field, and names accepted servers by position, grouped by outcome and version', () => {
    const compact = compactBatchResult(result, serverIds);
    expect(compact.outcomes).toEqual([failed]);
    expect(compact.accepted).toEqual([
      { outcome: 'pending-restart', versionId: 'v-1', servers: '0,4' },
      { outcome: 'verified', versionId: 'v-1', servers: '1' },
      { outcome: 'rotated-unverified', reason: unverified.reason, versionId: 'v-1', requestId: 'r-1', servers: '3' },
    ]);
    expect(compact.counts).toEqual(result.counts);
    // A batch of 1000 servers sharing one password: one short group, no server id repeated.
    const ids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    const big = compactBatchResult({ runId: 'r', batchIndex: 0, outcomes: ids.map((serverId) => ({ serverId, outcome: 'pending-restart', versionId: 'v'.repeat(64), requestId: 'q' })) }, ids);
    expect(big.accepted).toEqual([{ outcome: 'pending-restart', versionId: 'v'.repeat(64), servers: '0-999' }]);
    expect(JSON.stringify(big).length).toBeLessThan(200);
  });

  it('round-trips through JSON and the schema: every server keeps exactly one outcome', () => {
    const stored = BatchResultSchema.parse(JSON.parse(JSON.stringify(compactBatchResult(result, serverIds))));
    expect(serversOfBatch(stored)).toBe(5);
    const back = outcomesOfBatch(stored, serverIds);
    expect(back.map((o) => o.serverId).sort()).toEqual(serverIds);
    expect(back.find((o) => o.serverId === 's5')).toEqual({ serverId: 's5', outcome: 'pending-restart', versionId: 'v-1' });
    expect(back.find((o) => o.serverId === 's4')).toEqual(unverified);
    expect(back.find((o) => o.serverId === 's3')).toEqual(failed);
    expect(() => outcomesOfBatch(stored, serverIds.slice(0, 3))).toThrow(/position 4 is beyond the batch's 3 server/);
    expect(BatchResultSchema.safeParse({ ...stored, accepted: [{ outcome: 'verified', servers: '1;DROP' }] }).success).toBe(false);
  });

  it('still reads a result of the previous release (every server in outcomes) and aggregates it with new ones', () => {
    const old = BatchResultSchema.parse(JSON.parse(JSON.stringify(result)));
    expect(outcomesOfBatch(old, [])).toHaveLength(5);
    expect(serversOfBatch(old)).toBe(5);
    const s = aggregateRunSummary({ runId: 'r', target: 't', trigger: 'manual', dryRun: false, servers: undefined, batches: [old, { ...compactBatchResult(result, serverIds), batchIndex: 1 }], failedBatches: [] });
    expect(s.servers).toBe(10);
    expect(s.counts).toEqual({ 'pending-restart': 4, verified: 2, failed: 2, 'rotated-unverified': 2, unknown: 0, skipped: 0, busy: 0 });
    // The same server id in both batches (the fixture reused): alike, so one group of two entries.
    expect(listedOutcomes(s)).toEqual([failed, failed]);
  });

  // A batch whose servers were all skipped for one reason (a stopped fleet, servers awaiting a
  // restart) stored that reason once per server: about 330 bytes per server in each of the three
  // copies Redis keeps of a batch's result, with every run the retention keeps.
  const SKIP_REASON =
    '3 accepted passwords are still unconfirmed (the server has not been restarted since): restart it, or rotate it once with restart policy soft ' +
    'or hard (`rotator rotate <target> --restart soft`), before rotating it again';
  const uuids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `00000000-0000-0000-0000-${String(from + i).padStart(12, '0')}`);

  it('groups servers that did not end accepted alike: one reason for a whole skipped batch, the ids listed once', () => {
    const ids = uuids(1000);
    const skipped = ids.map((serverId) => ({ serverId, outcome: 'skipped' as const, code: 'awaiting-restart', reason: SKIP_REASON }));
    const compact = compactBatchResult({ runId: 'r', batchIndex: 0, outcomes: skipped }, ids);
    expect(compact.outcomes).toEqual([]);
    expect(compact.grouped).toEqual([{ outcome: 'skipped', code: 'awaiting-restart', reason: SKIP_REASON, serverIds: ids }]);
    // About the ids alone (38 bytes each), where one outcome per server took about 330.
    expect(JSON.stringify(compact).length).toBeLessThan(1000 * 40 + 500);
    const stored = BatchResultSchema.parse(JSON.parse(JSON.stringify(compact)));
    expect(serversOfBatch(stored)).toBe(1000);
    expect(outcomesOfBatch(stored, ids)).toEqual(skipped);
  });

  it('keeps a server alone when no other shares its outcome, code, reason, request and version, and groups the rest in the order they come', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const outcomes = [
      { serverId: 'a', outcome: 'skipped' as const, code: 'status', reason: 'status is SHUTOFF, a reset needs ACTIVE' },
      { serverId: 'b', outcome: 'failed' as const, code: 'Ecs.0610', reason: 'plug-in refused', requestId: 'q1' },
      { serverId: 'c', outcome: 'skipped' as const, code: 'status', reason: 'status is SHUTOFF, a reset needs ACTIVE' },
      { serverId: 'd', outcome: 'failed' as const, code: 'Ecs.0610', reason: 'plug-in refused', requestId: 'q2' },
      { serverId: 'e', outcome: 'busy' as const, code: 'busy', reason: 'held by run x' },
      { serverId: 'f', outcome: 'pending-restart' as const, versionId: 'v1' },
      { serverId: 'g', outcome: 'skipped' as const, code: 'status', reason: 'status is SHUTOFF, a reset needs ACTIVE' },
    ];
    const compact = compactBatchResult({ runId: 'r', batchIndex: 0, outcomes }, ids);
    // Another request id is another group: b and d stay alone, as e does.
    expect(compact.outcomes).toEqual([outcomes[1], outcomes[3], outcomes[4]]);
    expect(compact.grouped).toEqual([{ outcome: 'skipped', code: 'status', reason: 'status is SHUTOFF, a reset needs ACTIVE', serverIds: ['a', 'c', 'g'] }]);
    expect(compact.accepted).toEqual([{ outcome: 'pending-restart', versionId: 'v1', servers: '5' }]);
    const back = outcomesOfBatch(BatchResultSchema.parse(JSON.parse(JSON.stringify(compact))), ids);
    expect([...back].sort((x, y) => x.serverId.localeCompare(y.serverId))).toEqual(outcomes);
  });

  it('a run summary groups alike servers across batches, within its bound, and lists them all one by one on demand', () => {
    const first = uuids(600);
    const second = uuids(600, 600);
    const skip = (serverId: string) => ({ serverId, outcome: 'skipped' as const, code: 'awaiting-restart', reason: SKIP_REASON });
    const batches = [
      compactBatchResult({ runId: 'r', batchIndex: 0, outcomes: first.map(skip) }, first),
      compactBatchResult({ runId: 'r', batchIndex: 1, outcomes: [...second.slice(0, 599).map(skip), { serverId: second[599]!, outcome: 'unknown', code: 'TIMEOUT', reason: 'no answer' }] }, second),
    ].map((b) => BatchResultSchema.parse(JSON.parse(JSON.stringify(b))));
    const s = aggregateRunSummary({ runId: 'r', target: 't', trigger: 'manual', dryRun: false, servers: 1200, batches, failedBatches: [] });
    expect(s.counts.skipped).toBe(1199);
    expect(s.counts.unknown).toBe(1);
    // The bound (1000 listed) is reached within the second batch, whose server alone (unknown) is
    // listed before its group: 600 + 1 + 399 listed, the other 200 skipped ones counted.
    expect(s.grouped).toEqual([{ outcome: 'skipped', code: 'awaiting-restart', reason: SKIP_REASON, serverIds: [...first, ...second.slice(0, 399)] }]);
    expect(s.outcomes).toEqual([{ serverId: second[599], outcome: 'unknown', code: 'TIMEOUT', reason: 'no answer' }]);
    expect(s.outcomesOmitted).toBe(200);
    expect(listedOutcomes(s)).toHaveLength(1000);
    expect(JSON.stringify(s).length).toBeLessThan(1000 * 40 + 1000);
    // A summary of an earlier release (no groups) still reads.
    expect(listedOutcomes({ outcomes: [skip('x')] })).toEqual([skip('x')]);
  });
});
