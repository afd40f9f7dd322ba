import { describe, expect, it } from 'vitest';
import { renderRunSummary } from '../../src/cli/commands/rotate.js';
import { aggregateRunSummary } from '../../src/queue/run-summary.js';
import { compactBatchResult } from '../../src/queue/batch-processor.js';

describe('rotator rotate --wait: the summary as text', () => {
  it('prints a server alone with its reason, and alike servers once: their count, outcome, code and reason, then their ids', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `server-${String(i).padStart(2, '0')}-0000-0000-0000-000000000000`);
    const reason = 'status is SHUTOFF, a reset needs ACTIVE';
    const outcomes = [
      ...ids.slice(0, 10).map((serverId) => ({ serverId, outcome: 'skipped' as const, code: 'status', reason })),
      { serverId: ids[10]!, outcome: 'failed' as const, code: 'Ecs.0610', reason: 'the plug-in refused the new password' },
      { serverId: ids[11]!, outcome: 'pending-restart' as const, versionId: 'v1' },
    ];
    const summary = aggregateRunSummary({
      runId: 'run|web|manual-1', target: 'web', trigger: 'manual', dryRun: false, servers: 12,
      batches: [compactBatchResult({ runId: 'run|web|manual-1', batchIndex: 0, outcomes }, ids)],
      failedBatches: [],
    });
    const text = renderRunSummary(summary);
    expect(text).toContain(`${ids[10]}`);
    expect(text).toContain('the plug-in refused the new password');
    // The shared reason once, not once per server.
    expect(text.split(reason)).toHaveLength(2);
    expect(text).toContain(`10 servers skipped (status): ${reason}`);
    for (const id of ids.slice(0, 10)) expect(text).toContain(id);
    // Ids wrapped on indented lines of about 100 characters.
    const idLines = text.split('\n').filter((l) => l.startsWith('  server-'));
    expect(idLines.length).toBeGreaterThan(1);
    for (const line of idLines) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).not.toContain(ids[11]);
  });
});
