/**
 * The rotation use cases, built from ports: `planRun` (which servers a run rotates, in batches of
 * the target's `batchSize`) and `rotateBatch` (one batch, ./run-batch.ts). The queue layer's
 * processors call them; production (src/main.ts) and the crash tests build them through this one
 * factory, each with its own adapters.
 */
import type { Logger } from 'pino';
import { ServiceErrorCode } from '../domain/error-codes.js';
import { MAX_SERVERS_PER_CALL } from '../domain/batch-limits.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { EcsServer } from '../domain/server.js';
import type { PasswordPolicy } from '../policy/password-policy.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { Clock } from '../ports/clock.js';
import type { EcsApi } from '../ports/ecs-api.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RandomSource } from '../ports/random-source.js';
import type { ServerLocks } from '../ports/server-locks.js';
import type { Vault } from '../ports/vault.js';
import type { BatchSummary, RestartPolicy } from './batch-input.js';
import { resolveTargetServers, type ResolvedServer, type ServerSelector } from './resolve-servers.js';
import { runBatch } from './run-batch.js';
import { batchesPerPreflight, runPreflight, type RunPreflight } from './run-preflight.js';
import type { PasswordVerifier } from '../ports/password-verifier.js';
import type { VerifySettings } from './verify-server.js';
import { verifyTarget, type ServerVerificationReport } from './verify-target.js';

/** A target as the use cases need it (the config's `TargetConfig` is one). */
export interface RotationTarget {
  readonly name: string;
  /** The account whose ECS endpoint and credentials serve it. */
  readonly account: string;
  readonly enabled: boolean;
  readonly selector: ServerSelector;
  /** Servers per batch, 1 to MAX_SERVERS_PER_CALL: validated by the config, used as given here. */
  readonly batchSize: number;
  readonly passwordPolicy: Readonly<PasswordPolicy>;
  readonly uniquePerServer: boolean;
  readonly restartPolicy: RestartPolicy;
  readonly dryRunPreflight: boolean;
  /** Verification by login. @defaultValue method `none` */
  readonly verify?: VerifySettings | undefined;
  /** Accepted passwords kept labelled while none is verified (labels.ts). @defaultValue 3 */
  readonly keepCandidates?: number | undefined;
}

/** Where an account's servers and secrets live. */
export interface RotationAccount {
  readonly region: string;
  readonly projectId: string;
}

/** The ports and settings of {@link createRotationService}. */
export interface RotationServiceDeps {
  /** The target named so, if configured. */
  target(name: string): RotationTarget | undefined;
  /** The account named so (throws for an unknown one: the config was validated at start). */
  account(name: string): RotationAccount;
  /** The ECS client of an account (one per account, shared by every batch: it holds the rate limiter). */
  ecsFor(accountName: string): EcsApi;
  vault: Vault;
  locks: ServerLocks;
  outcomes: OutcomeStore;
  audit: AuditLog;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** Per-server lock time-to-live. @defaultValue runBatch's (120000) */
  lockTtlMs?: number | undefined;
  /** How long a reboot job may take before the batch reports `pending-restart`. @defaultValue runBatch's (600000) */
  rebootDeadlineMs?: number | undefined;
  /** How often a reboot job is polled. @defaultValue the ECS client's */
  rebootPollIntervalMs?: number | undefined;
  /** Logs in with candidate passwords (targets with `verify.method: ssh`). */
  verifier?: PasswordVerifier | undefined;
  /** Pause before retrying a verification that found a just-rebooted server unreachable. @defaultValue runBatch's (5000) */
  verifyRetryDelayMs?: number | undefined;
  /** A target's effective verification settings (e.g. the embedded simulator's SSH port). @defaultValue `target.verify` */
  verifyFor?: ((target: RotationTarget) => VerifySettings | undefined) | undefined;
}

/** What `planRun` is asked: a run of `target`, of all its servers or of the operator's list. */
export interface PlanRunInput {
  target: string;
  /**
   * The run's id, when the queue plans one: the target's members this listing finds are then kept in
   * this process for the run's batch admission (`targetMembers` with the same run id), which would
   * otherwise list the whole target again moments later.
   */
  runId?: string | undefined;
  /** The operator's list; undefined for the whole target. */
  serverIds: readonly string[] | undefined;
  dryRun: boolean;
}

/** What the planner returns: the run's servers and how many share a batch. */
export interface RunPlan {
  /**
   * The servers, streamed (a fleet is never held in memory); the queue drops duplicates. A server
   * the listing described comes whole (its batch then needs no GET for it), an unknown id as an id.
   */
  serverIds: Iterable<string | EcsServer> | AsyncIterable<string | EcsServer>;
  /** The target's `batchSize` (1 to MAX_SERVERS_PER_CALL, validated by the config). */
  batchSize: number;
  /**
   * When several batches fit in one `dry_run` call: `batchesPerCall` of them (whole batches, at most
   * MAX_SERVERS_PER_CALL servers) share one preflight, asked with `check` as the run fans out and
   * handed to each batch (./run-preflight.ts). `check` resolves undefined when the call failed: the
   * batches then make their own. Absent: each batch makes its own (batches of more than 500, or a
   * target without preflight).
   */
  preflight?: { batchesPerCall: number; check(serverIds: readonly string[], signal: AbortSignal | undefined): Promise<RunPreflight | undefined> } | undefined;
}

/**
 * Resolves a run's servers: the target's selector, or the operator's `serverIds` checked against
 * the target. Throws a `RotatorError` (non-retryable for an unknown target or foreign servers).
 */
export type PlanRun = (input: PlanRunInput, signal: AbortSignal | undefined) => Promise<RunPlan>;

/** One batch of a run, as the queue stores it (ids only; the target's settings are looked up). */
export interface BatchRequest {
  runId: string;
  target: string;
  batchIndex: number;
  serverIds: string[];
  /** What the run's listing said of some of them (see BatchInput.servers). */
  servers?: readonly EcsServer[] | undefined;
  /** The run's `dry_run` preflight of these servers, when the planner made one (RunPlan.preflight). */
  preflight?: RunPreflight | undefined;
  dryRun: boolean;
  /** The operator's override of the target's restart policy, for a manual run. */
  restartPolicy?: RestartPolicy | undefined;
}

/**
 * Rotates one batch. Safe to call again after a crash at any line. Throws a `RotatorError` only when
 * the batch must stop (run-batch.ts).
 */
export type RotateBatch = (request: BatchRequest, context: { signal: AbortSignal | undefined }) => Promise<BatchSummary>;

/** Verification by login on its own, of a target's servers (all of them, or the operator's list). */
export type VerifyTargetUseCase = (target: string, serverIds: readonly string[] | undefined) => Promise<ServerVerificationReport[]>;
/** Every server id of a target now: its selector resolved as `planRun` resolves it (batch admission). */
export type TargetMembers = (targetName: string, signal: AbortSignal | undefined, runId?: string) => Promise<ReadonlySet<string>>;
/**
 * The members a run's listing in this process has found so far, while it still streams: undefined
 * when this process is not listing that run (never planned here, or its listing has ended).
 */
export type ListedSoFar = (runId: string, targetName: string) => ReadonlySet<string> | undefined;

export interface RotationService {
  readonly planRun: PlanRun;
  readonly rotateBatch: RotateBatch;
  readonly verifyTarget: VerifyTargetUseCase;
  readonly targetMembers: TargetMembers;
  readonly listedSoFar: ListedSoFar;
}

export function createRotationService(deps: RotationServiceDeps): RotationService {
  const listedMembers = new RunMembers();
  const targetNamed = (name: string): RotationTarget => {
    const target = deps.target(name);
    if (!target) throw serviceError(ServiceErrorCode.unknownTarget, `target ${JSON.stringify(name)} is not configured (jobs/*.yaml)`);
    if (!target.enabled) throw serviceError(ServiceErrorCode.targetDisabled, `target ${name} is disabled (enabled: false)`);
    return target;
  };

  /** The run-level preflight of a target, where batches can share one (RunPlan.preflight). */
  const preflightOf = (target: RotationTarget, dryRun: boolean): RunPlan['preflight'] => {
    const batchesPerCall = batchesPerPreflight(target.batchSize, MAX_SERVERS_PER_CALL);
    // The batch preflights whenever the target asks for it or the run is a dry run (steps/plan.ts).
    if (batchesPerCall < 2 || !(target.dryRunPreflight || dryRun)) return undefined;
    const ecs = deps.ecsFor(target.account);
    return {
      batchesPerCall,
      check: async (serverIds, signal) => {
        try {
          return await runPreflight(ecs, deps.clock, serverIds, signal);
        } catch (error) {
          if (signal?.aborted) throw error;
          // Nothing is lost: each batch of these servers asks on its own, and meets the cause itself.
          deps.logger.warn({ target: target.name, servers: serverIds.length, code: (error as { code?: unknown }).code }, 'plan: the run\'s dry-run preflight failed; its batches will each ask');
          return undefined;
        }
      },
    };
  };

  const planRun: PlanRun = async (input, signal) => {
    const target = targetNamed(input.target);
    // Pages of 1000 (Huawei's maximum): the listing is the run's only per-server ECS read.
    const resolved = resolveTargetServers(deps.ecsFor(target.account), target.selector, { signal, pageSize: MAX_SERVERS_PER_CALL });
    const preflight = preflightOf(target, input.dryRun);
    if (input.serverIds === undefined) {
      const serverIds = input.runId === undefined ? serversOf(resolved) : listedMembers.collect(input.runId, target.name, serversOf(resolved));
      return { serverIds, batchSize: target.batchSize, preflight };
    }
    // An operator's list must stay inside the target: its policy and restart rules were
    // configured for those servers, not for any id typed on a command line.
    const members = new Set<string>();
    const requested = new Set(input.serverIds);
    const described = new Map<string, EcsServer>(); // only the requested ones: a target may be 100k servers
    for await (const r of resolved) {
      members.add(r.kind === 'found' ? r.server.id : r.serverId);
      if (r.kind === 'found' && requested.has(r.server.id)) described.set(r.server.id, r.server);
    }
    if (input.runId !== undefined) listedMembers.put(input.runId, target.name, members);
    const foreign = input.serverIds.filter((id) => !members.has(id));
    if (foreign.length > 0) {
      throw serviceError(
        ServiceErrorCode.serversNotInTarget,
        `serverIds: ${foreign.length} id(s) are not servers of target ${target.name}: ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}`,
      );
    }
    return { serverIds: input.serverIds.map((id) => described.get(id) ?? id), batchSize: target.batchSize, preflight };
  };

  const rotateBatch: RotateBatch = async (request, { signal }) => {
    const target = targetNamed(request.target);
    const account = deps.account(target.account);
    return runBatch(
      {
        ecs: deps.ecsFor(target.account),
        vault: deps.vault,
        locks: deps.locks,
        outcomes: deps.outcomes,
        audit: deps.audit,
        clock: deps.clock,
        random: deps.random,
        logger: deps.logger,
        ...(signal ? { signal } : {}),
        ...(deps.lockTtlMs !== undefined ? { lockTtlMs: deps.lockTtlMs } : {}),
        ...(deps.rebootDeadlineMs !== undefined ? { rebootDeadlineMs: deps.rebootDeadlineMs } : {}),
        ...(deps.rebootPollIntervalMs !== undefined ? { rebootPollIntervalMs: deps.rebootPollIntervalMs } : {}),
        verifier: deps.verifier,
        ...(deps.verifyRetryDelayMs !== undefined ? { verifyRetryDelayMs: deps.verifyRetryDelayMs } : {}),
      },
      {
        runId: request.runId,
        batchIndex: request.batchIndex,
        serverIds: request.serverIds,
        ...(request.servers === undefined ? {} : { servers: request.servers }),
        ...(request.preflight === undefined ? {} : { preflight: request.preflight }),
        dryRun: request.dryRun,
        target: {
          name: target.name,
          region: account.region,
          projectId: account.projectId,
          passwordPolicy: { ...target.passwordPolicy, requiredClasses: [...target.passwordPolicy.requiredClasses] },
          uniquePerServer: target.uniquePerServer,
          restartPolicy: request.restartPolicy ?? target.restartPolicy,
          dryRunPreflight: target.dryRunPreflight,
          verify: verifyOf(target),
          keepCandidates: target.keepCandidates,
        },
      },
    );
  };

  const verifyOf = (target: RotationTarget): VerifySettings | undefined => (deps.verifyFor ? deps.verifyFor(target) : target.verify);

  const verifyTargetNow: VerifyTargetUseCase = async (name, serverIds) => {
    const target = targetNamed(name);
    const account = deps.account(target.account);
    const ecs = deps.ecsFor(target.account);
    const settings = verifyOf(target) ?? { method: 'none', user: 'root', port: 22, address: 'private', timeoutMs: 10_000, concurrency: 16 };
    if (deps.verifier === undefined) throw serviceError(ServiceErrorCode.invalidBatch, 'verification needs a verifier, and this service was built without one');
    let ids: string[];
    if (serverIds === undefined) {
      ids = [];
      for await (const s of serversOf(resolveTargetServers(ecs, target.selector, {}))) ids.push(typeof s === 'string' ? s : s.id);
    } else {
      ids = [...serverIds];
    }
    return verifyTarget(
      { ecs, vault: deps.vault, verifier: deps.verifier, locks: deps.locks, logger: deps.logger },
      { target: { name: target.name, region: account.region, projectId: account.projectId, verify: settings }, serverIds: ids },
    );
  };

  const targetMembers: TargetMembers = async (name, signal, runId) => {
    const target = targetNamed(name);
    // The run's own listing, when this process planned the run and it listed the whole target.
    const listed = runId === undefined ? undefined : await listedMembers.take(runId, target.name);
    if (listed !== undefined) return listed;
    // Pages of 1000 as in planRun: a worker resolves every run's target once (batch admission), and
    // pages of 100 made that ten times the requests (1,000 for a 100k fleet).
    return membersOf(resolveTargetServers(deps.ecsFor(target.account), target.selector, { signal, pageSize: MAX_SERVERS_PER_CALL }));
  };

  const listedSoFar: ListedSoFar = (runId, name) => listedMembers.soFar(runId, name);

  return { planRun, rotateBatch, targetMembers, listedSoFar, verifyTarget: verifyTargetNow };
}

async function membersOf(resolved: AsyncIterable<ResolvedServer>): Promise<Set<string>> {
  // A not-found explicit id is still a member: the batch records it `skipped` (not-found).
  const members = new Set<string>();
  for await (const r of resolved) members.add(r.kind === 'found' ? r.server.id : r.serverId);
  return members;
}

/**
 * The target members the last few runs planned in this process found, by run: a run's listing is a
 * resolution of its target like any other (same selector, same pages), made moments before its
 * batches ask for one. Kept only in memory, so a batch job written into Redis by anyone cannot
 * influence it, and a worker that did not plan the run lists the target itself. While the listing is
 * still streaming (a large run's first batches are queued before its last page), `soFar` tells the
 * ids it has found (a batch made only of those is admitted at once) and `take` waits for its end; a
 * listing that fails or is abandoned yields nothing, and the admission lists on its own.
 */
class RunMembers {
  readonly #runs = new Map<string, Promise<ReadonlySet<string> | undefined>>();
  /** The listings still streaming, by run and target: the ids found so far. */
  readonly #streaming = new Map<string, ReadonlySet<string>>();
  /** Runs kept: a worker plans a handful at once; an entry is dropped once taken. */
  static readonly capacity = 8;

  put(runId: string, target: string, members: ReadonlySet<string>): void {
    this.#keep(runId, target, Promise.resolve(members));
  }

  /**
   * Passes `servers` through, and records their ids as the run's members if the stream is read to
   * its end. The run is registered when reading starts: a stream nobody reads leaves nothing to wait for.
   */
  collect(runId: string, target: string, servers: AsyncIterable<string | EcsServer>): AsyncGenerator<string | EcsServer> {
    const keep = (members: Promise<ReadonlySet<string> | undefined>): void => this.#keep(runId, target, members);
    const streaming = this.#streaming;
    const key = `${runId}\n${target}`;
    return (async function* () {
      let settle!: (members: ReadonlySet<string> | undefined) => void;
      keep(new Promise((resolve) => (settle = resolve)));
      const members = new Set<string>();
      streaming.set(key, members);
      let complete = false;
      try {
        for await (const s of servers) {
          // Added before it is handed on: a batch holding it may be admitted as soon as it is queued.
          members.add(typeof s === 'string' ? s : s.id);
          yield s;
        }
        complete = true;
      } finally {
        if (streaming.get(key) === members) streaming.delete(key);
        settle(complete ? members : undefined);
      }
    })();
  }

  /** The ids the run's listing has found so far, while it streams in this process. */
  soFar(runId: string, target: string): ReadonlySet<string> | undefined {
    return this.#streaming.get(`${runId}\n${target}`);
  }

  async take(runId: string, target: string): Promise<ReadonlySet<string> | undefined> {
    const key = `${runId}\n${target}`;
    const entry = this.#runs.get(key);
    if (entry === undefined) return undefined;
    const members = await entry;
    this.#runs.delete(key);
    return members;
  }

  #keep(runId: string, target: string, members: Promise<ReadonlySet<string> | undefined>): void {
    this.#runs.set(`${runId}\n${target}`, members);
    while (this.#runs.size > RunMembers.capacity) this.#runs.delete(this.#runs.keys().next().value as string);
  }
}

async function* serversOf(resolved: AsyncIterable<ResolvedServer>): AsyncGenerator<string | EcsServer> {
  // Found servers go on with what the listing said of them (their batch needs no GET); not-found
  // explicit ids go on as ids, and the batch records them `skipped` (not-found): honest outcomes.
  for await (const r of resolved) yield r.kind === 'found' ? r.server : r.serverId;
}

function serviceError(code: string, message: string): RotatorError {
  return new RotatorError({ code, message, retryable: false });
}
