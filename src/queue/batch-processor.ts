/**
 * The batch job's processor: parse, call the rotation use case (`rotateBatch` of
 * src/rotation/rotation-service.ts), map its failure to BullMQ's control flow (src/queue/job-failure.ts).
 * The use case arrives built, so this module knows nothing of vaults or ECS clients, and tests can
 * drive the queue with a stand-in.
 */
import { ACCEPTED_OUTCOMES, REASON_IMPLIED_OUTCOMES, type ServerOutcome } from '../domain/outcome.js';
import { WaitingError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { AdmitBatch } from '../rotation/batch-admission.js';
import type { RotateBatch } from '../rotation/rotation-service.js';
import { classifyJobFailure } from './job-failure.js';
import type { JobFailureOptions } from './job-failure.js';
import { BatchJobDataSchema, listedServersOf, parseJobData, preflightOf } from './job-schemas.js';
import { formatRanges } from './position-ranges.js';
import { groupAlike, type AcceptedGroup, type BatchResult } from './run-summary.js';

export interface BatchProcessorDeps extends JobFailureOptions {
  rotateBatch: RotateBatch;
  /**
   * Checks the job against its run and target before anything is done (src/rotation/batch-admission.ts);
   * throws a non-retryable `RotatorError` to refuse it.
   */
  admitBatch: AdmitBatch;
  /**
   * Pauses the batch queue for every worker (BullMQ's queue rate limit, stored in Redis) — called on
   * throttling so that no worker sends more requests before the delay is over.
   */
  pauseQueue(delayMs: number): Promise<void>;
  /** The worker's own rate-limit error factory (`Worker.RateLimitError`). */
  rateLimitError(): Error;
  /** True once the process is shutting down: an aborted batch is then handed back, not failed. */
  isShuttingDown(): boolean;
  logger: Logger;
}

/**
 * The batch's return value as kept in Redis (on the batch job, on its run until the run is removed,
 * and in the batch queue's event stream): servers that did not end accepted with every field kept,
 * alike ones in one group named by id (`grouped`; one that shares its fields with no other stays in
 * `outcomes`); the accepted ones grouped by outcome and version and named by their positions in the
 * job's `serverIds`. Verified and pending-restart servers leave out the fixed reason and the request
 * id (the audit stream and the server state have them); `rotated-unverified` keeps its reason (why
 * no login proved the password). An accepted server missing from `serverIds` (not expected) is kept
 * with the others, by id.
 */
export function compactBatchResult(result: BatchResult, serverIds: readonly string[]): BatchResult {
  const position = new Map<string, number>();
  serverIds.forEach((id, i) => {
    if (!position.has(id)) position.set(id, i);
  });
  const others: ServerOutcome[] = [];
  type Group = { group: Omit<AcceptedGroup, 'servers'>; positions: number[] };
  const groups = new Map<string, Group>();
  // The group of the server before: a batch's accepted servers mostly share one, so most servers
  // need no key of their own (this runs for every server of every batch).
  let last: { outcome: ServerOutcome; entry: Group } | undefined;
  for (const o of result.outcomes) {
    const at = position.get(o.serverId);
    if (!ACCEPTED_OUTCOMES.includes(o.outcome) || at === undefined) {
      others.push(o);
      continue;
    }
    const implied = REASON_IMPLIED_OUTCOMES.includes(o.outcome);
    if (last !== undefined && sameGroup(last.outcome, o, implied)) {
      last.entry.positions.push(at);
      continue;
    }
    const { serverId: _id, ...fields } = implied ? { serverId: o.serverId, outcome: o.outcome, ...(o.versionId === undefined ? {} : { versionId: o.versionId }) } : o;
    const key = JSON.stringify([fields.outcome, fields.code, fields.reason, fields.requestId, fields.versionId]);
    const entry = groups.get(key) ?? { group: fields, positions: [] };
    entry.positions.push(at);
    groups.set(key, entry);
    last = { outcome: o, entry };
  }
  const { single, grouped } = groupAlike(others);
  return {
    ...result,
    outcomes: single,
    ...(grouped.length === 0 ? {} : { grouped }),
    accepted: [...groups.values()].map(({ group, positions }) => ({ ...group, servers: formatRanges(positions) })),
  };
}

/** Whether `o` belongs to the group of `previous` (the fields the group keeps: outcome, version, and code, reason and request id where not implied). */
function sameGroup(previous: ServerOutcome, o: ServerOutcome, implied: boolean): boolean {
  return (
    previous.outcome === o.outcome &&
    previous.versionId === o.versionId &&
    (implied || (previous.code === o.code && previous.reason === o.reason && previous.requestId === o.requestId))
  );
}

export function createBatchProcessor(deps: BatchProcessorDeps) {
  return async function processBatch(job: Job, token?: string, signal?: AbortSignal): Promise<BatchResult> {
    const data = parseJobData(BatchJobDataSchema, job.data, 'batch job');
    const log = deps.logger.child({ runId: data.runId, batchIndex: data.batchIndex, jobId: job.id });
    try {
      const parent = job.parent?.id === undefined ? undefined : { id: job.parent.id, queue: job.parent.queueKey };
      await deps.admitBatch({ ...data, jobId: job.id, parent }, signal);
      // The listing's details travel as compact tuples in the job; the use case takes servers.
      const { listing: _listing, servers: _servers, preflight: _preflight, ...request } = data;
      const servers = listedServersOf(data);
      const preflight = preflightOf(data);
      const summary = await deps.rotateBatch(
        { ...request, ...(servers === undefined ? {} : { servers }), ...(preflight === undefined ? {} : { preflight }) },
        { signal },
      );
      return compactBatchResult(summary, data.serverIds);
    } catch (error) {
      if (signal?.aborted && deps.isShuttingDown()) {
        // Graceful shutdown ran out of time and cancelled the batch: hand it back to the queue
        // without spending an attempt; the next worker resumes it from the vault's state.
        log.warn('batch: handed back to the queue at shutdown');
        await job.moveToWait(token);
        throw new WaitingError();
      }
      const failure = classifyJobFailure(error, deps);
      switch (failure.kind) {
        case 'unrecoverable':
          log.error({ reason: failure.error.message }, 'batch: failed for good');
          throw failure.error;
        case 'throttled':
          log.warn({ code: failure.code, delayMs: failure.delayMs }, 'batch: throttled; pausing the batch queue');
          await deps.pauseQueue(failure.delayMs);
          throw deps.rateLimitError();
        case 'retry':
          log.warn(
            { attempt: job.attemptsMade + 1, code: (error as { code?: unknown }).code },
            'batch: attempt failed; will retry with backoff',
          );
          throw failure.error;
      }
    }
  };
}
