/**
 * The run job's processor: parse, plan (resolve the target's servers), fan out one batch job per
 * `batchSize` servers as children of the run, wait for them, and return the aggregated summary.
 * It is thin: which servers belong to a target is the planner's business (src/rotation), rotating
 * them is the batch processor's.
 *
 * BullMQ's step pattern: the processor runs twice. First pass adds the children and moves the run
 * to `waiting-children`; when the last child finishes, BullMQ queues the run again and the second
 * pass (data has `fanOut`) only aggregates. A crash anywhere in the first pass replays it: children
 * have deterministic ids, and a replay adds only those that do not exist (see `notQueuedYet`).
 * Not handled: a replay splits the listing as it is then, so when the fleet changed between the two
 * listings, a batch queued by the first attempt and one of the replay may share a server or miss one
 * (the fan-out's progress is not recorded).
 */
import { WaitingChildrenError } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { parseBatchJobId } from '../domain/job-ids.js';
import type { PlanRun } from '../rotation/rotation-service.js';
import { classifyJobFailure } from './job-failure.js';
import { BatchResultSchema, RunJobDataSchema, batchPreflightOf, listedDetailsOf, parseJobData, type ListedDetails } from './job-schemas.js';
import type { BatchJobData, RunJobData } from './job-schemas.js';
import { BATCH_JOB_NAME } from './rotation-queues.js';
import type { RotationQueues } from './rotation-queues.js';
import { aggregateRunSummary } from './run-summary.js';
import type { BatchResult, FailedBatch, RunSummary } from './run-summary.js';

/**
 * Run preflights (RunPlan.preflight) in flight while the listing goes on: enough to overlap their
 * round trips with the listing's pages, few enough that a failing ECS is not asked many times over.
 */
const PREFLIGHTS_IN_FLIGHT = 4;

export interface RunProcessorDeps {
  queues: RotationQueues;
  planRun: PlanRun;
  logger: Logger;
  /** Batches added per Redis round trip, at most. @defaultValue 100 */
  addChunk?: number;
  /**
   * Servers added per Redis round trip, at most: with batches of 1000, 100 batches in one `addBulk`
   * held a 100k fleet's listing and its serialised jobs (tens of MB) in the worker at once.
   * @defaultValue 10000
   */
  addChunkServers?: number;
}

/** Progress of a run job, as shown on the dashboard and read by `rotator rotate --wait`. */
export interface RunProgress {
  phase: 'planning' | 'rotating';
  servers?: number | undefined;
  batches?: number | undefined;
}

export function createRunProcessor(deps: RunProcessorDeps) {
  const addChunk = deps.addChunk ?? 100;
  const addChunkServers = deps.addChunkServers ?? 10_000;

  async function fanOut(job: Job, data: RunJobData, signal: AbortSignal | undefined): Promise<RunJobData['fanOut']> {
    // batchSize comes from the validated config (1 to MAX_SERVERS_PER_CALL); the job schema checks each batch again.
    const runId = job.id as string;
    const plan = await deps.planRun({ target: data.target, runId, serverIds: data.serverIds, dryRun: data.dryRun }, signal);
    const seen = new Set<string>();
    let current: string[] = [];
    // Aligned with `current`: the listing's details of each id, null where the planner gave a bare id.
    let listing: (ListedDetails | null)[] = [];
    type PendingBatch = { name: string; data: BatchJobData; opts: ReturnType<RotationQueues['batchJobOptions']> };
    let pending: PendingBatch[] = [];
    let batches = 0;
    let pendingServers = 0;
    let flushed = 0;
    // A replay of a fan-out that a crash, a deploy or a listing error cut short: batches it queued
    // may have run and failed for good since. Added again, BullMQ would make such a failed batch a
    // pending child of the run once more (it is not in the completed set) while it also stays in the
    // run's ignored failures: the run would wait in waiting-children for ever. So a replay leaves
    // every batch that still exists, in any state, as it is.
    const replay = job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1 || (job.stalledCounter ?? 0) > 0;
    const notQueuedYet = async (batches: PendingBatch[]): Promise<PendingBatch[]> => {
      if (!replay) return batches;
      const states = await Promise.all(batches.map((b) => deps.queues.batches.getJobState(b.opts.jobId as string)));
      const kept = batches.filter((_, i) => states[i] === 'unknown');
      if (kept.length < batches.length) {
        deps.logger.info({ runId, alreadyQueued: batches.length - kept.length, failed: states.filter((st) => st === 'failed').length }, 'run: fan-out replayed; batches already queued are left as they are');
      }
      return kept;
    };
    const flush = async (): Promise<void> => {
      if (pending.length > 0) pending = await notQueuedYet(pending);
      if (pending.length > 0) await deps.queues.batches.addBulk(pending);
      flushed += pending.length;
      pending = [];
      pendingServers = 0;
    };
    const enqueue = async (batch: PendingBatch): Promise<void> => {
      pending.push(batch);
      pendingServers += batch.data.serverIds.length;
      if (pending.length >= addChunk || pendingServers >= addChunkServers) await flush();
    };
    // The run's first `addChunk` batches are queued as soon as they are ready, not a chunk at a
    // time: the workers start on them while the listing goes on. A 20,000-server run in batches of
    // 100 otherwise waited for 100 batches (ten list pages and their preflights) before its first reset.
    const flushEarly = async (): Promise<void> => {
      if (flushed < addChunk) await flush();
    };
    // The run's preflight (RunPlan.preflight): closed batches wait in `group` until it holds as many
    // as share one dry_run call; the call runs while the listing goes on, up to PREFLIGHTS_IN_FLIGHT
    // at once, and the batches are queued in order, each with its share of the answer.
    const preflight = plan.preflight;
    let group: PendingBatch[] = [];
    const checking: Promise<PendingBatch[]>[] = [];
    const settled = new WeakSet<Promise<PendingBatch[]>>();
    const checkGroup = (): void => {
      if (group.length === 0 || preflight === undefined) return;
      const members = group;
      group = [];
      const answer = preflight.check(
        members.flatMap((b) => b.data.serverIds),
        signal,
      ).then((verdict) => (verdict === undefined ? members : members.map((b) => ({ ...b, data: { ...b.data, preflight: batchPreflightOf(verdict, b.data.serverIds) } }))));
      // A rejection is rethrown where it is awaited, in order; this only notes that it settled.
      answer.then(() => settled.add(answer), () => settled.add(answer));
      checking.push(answer);
    };
    // Queues the answered groups in order: those beyond `keep` in flight (waiting for them), and
    // any at the head that have already answered (without waiting).
    const drainChecks = async (keep: number): Promise<void> => {
      while (checking.length > keep || (checking.length > 0 && settled.has(checking[0]!))) {
        for (const batch of await (checking.shift() as Promise<PendingBatch[]>)) await enqueue(batch);
        await flushEarly();
      }
    };
    const closeBatch = async (): Promise<void> => {
      if (current.length === 0) return;
      const batchIndex = batches++;
      const batch: PendingBatch = {
        name: BATCH_JOB_NAME,
        data: {
          runId,
          target: data.target,
          batchIndex,
          serverIds: current,
          ...(listing.some((d) => d !== null) ? { listing } : {}),
          dryRun: data.dryRun,
          ...(data.restartPolicy === undefined ? {} : { restartPolicy: data.restartPolicy }),
        },
        opts: deps.queues.batchJobOptions(runId, batchIndex),
      };
      current = [];
      listing = [];
      if (preflight === undefined) {
        await enqueue(batch);
        return flushEarly();
      }
      group.push(batch);
      if (group.length >= preflight.batchesPerCall) checkGroup();
      await drainChecks(PREFLIGHTS_IN_FLIGHT);
    };
    // Streams the planner's ids: memory holds one chunk of batches (addChunk, addChunkServers) plus the id set.
    for await (const item of plan.serverIds) {
      const id = typeof item === 'string' ? item : item.id;
      if (seen.has(id)) continue;
      seen.add(id);
      current.push(id);
      listing.push(typeof item === 'string' ? null : listedDetailsOf(item));
      if (current.length >= plan.batchSize) await closeBatch();
      else if (checking.length > 0 && settled.has(checking[0]!)) await drainChecks(PREFLIGHTS_IN_FLIGHT);
    }
    await closeBatch();
    checkGroup();
    await drainChecks(0);
    await flush();
    return { batches, servers: seen.size };
  }

  async function aggregate(job: Job, data: RunJobData): Promise<RunSummary> {
    const values = await job.getChildrenValues<unknown>();
    const batchResults: BatchResult[] = [];
    for (const [key, value] of Object.entries(values)) {
      const parsed = BatchResultSchema.safeParse(value);
      if (parsed.success) batchResults.push(parsed.data);
      else deps.logger.error({ runId: job.id, child: key }, 'run: a batch returned an unexpected value; ignored');
    }
    const failures = await job.getIgnoredChildrenFailures();
    const failedBatches: FailedBatch[] = [];
    for (const [key, reason] of Object.entries(failures)) {
      // The key is `<prefix>:batches:<batch job id>`; job ids hold no `:`.
      const batchId = key.slice(key.lastIndexOf(':') + 1);
      const parsed = parseBatchJobId(batchId);
      const child = parsed === undefined ? undefined : await deps.queues.batches.getJob(batchId);
      failedBatches.push({
        batchIndex: parsed === undefined ? -1 : parsed.batchIndex,
        reason,
        servers: child?.data.serverIds.length,
      });
    }
    return aggregateRunSummary({
      runId: job.id as string,
      target: data.target,
      trigger: data.trigger,
      dryRun: data.dryRun,
      servers: data.fanOut?.servers,
      batches: batchResults,
      failedBatches,
    });
  }

  return async function processRun(job: Job, token?: string, signal?: AbortSignal): Promise<RunSummary> {
    const data = parseJobData(RunJobDataSchema, job.data, 'run job');
    const log = deps.logger.child({ runId: job.id, target: data.target });
    if (data.fanOut === undefined) {
      await job.updateProgress({ phase: 'planning' } satisfies RunProgress);
      let fan: RunJobData['fanOut'];
      try {
        fan = await fanOut(job, data, signal);
      } catch (error) {
        const failure = classifyJobFailure(error);
        if (failure.kind === 'unrecoverable') throw failure.error;
        throw error;
      }
      await job.updateData({ ...data, fanOut: fan });
      data.fanOut = fan;
      await job.updateProgress({ phase: 'rotating', servers: fan?.servers, batches: fan?.batches } satisfies RunProgress);
      log.info({ servers: fan?.servers, batches: fan?.batches, trigger: data.trigger, dryRun: data.dryRun }, 'run: fanned out');
    }
    // Also when the run resumes already fanned out: BullMQ brings it back once its batches are done,
    // but a worker killed between the fan-out's updateData and this line leaves it to stalled-job
    // recovery with batches still pending, and finishing it then fails ("pending dependencies").
    if (token !== undefined && (await job.moveToWaitingChildren(token))) {
      throw new WaitingChildrenError();
    }
    const summary = await aggregate(job, data);
    log.info({ counts: summary.counts, failedBatches: summary.failedBatches.length }, 'run: finished');
    return summary;
  };
}
