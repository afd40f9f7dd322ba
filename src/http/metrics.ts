/**
 * Prometheus metrics. Two kinds in one registry:
 * - fleet-wide gauges, computed when scraped from Redis (the outcome store, the run history, the
 *   queues), so every replica reports the same figures and nothing is kept between scrapes:
 *   servers by outcome, overdue servers, password ages, last successful run, queue depth;
 * - the process's own counters and histograms (src/observability/service-metrics.ts), passed in as
 *   the registry: rotations, ECS and vault calls, runs, throttling pauses, notifications.
 * Labels are target names, outcome kinds, queue states and the like: never a server id (unbounded
 * cardinality) and never anything secret.
 */
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { assessTarget, complianceTargets, type ComplianceSource, type ComplianceTarget } from '../compliance/fleet-compliance.js';
import { DAY_MS } from '../compliance/password-age-policy.js';
import { OUTCOME_KINDS } from '../domain/outcome.js';
import type { Clock } from '../ports/clock.js';
import type { RunHistory } from '../ports/run-history.js';
import type { RotationQueues } from '../queue/rotation-queues.js';
import type { TargetCompliance } from '../compliance/server-compliance.js';

const JOB_STATES = ['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;
/** Password age buckets, in seconds: 1 hour .. 1 year. */
const AGE_BUCKETS = [1 / 24, 1, 2, 7, 14, 30, 60, 90, 180, 365].map((d) => d * 86_400);

export interface MetricsSources {
  queues: Pick<RotationQueues, 'runs' | 'batches'>;
  outcomes: ComplianceSource;
  /** Configured targets (listed even before their first run), with their compliance policy. */
  targets: readonly ComplianceTarget[];
  runHistory?: Pick<RunHistory, 'lastSuccess'> | undefined;
  clock?: Pick<Clock, 'now'> | undefined;
  /** The process registry to add the fleet gauges to. @defaultValue a new registry */
  registry?: Registry | undefined;
}

export function createMetricsRegistry(options: MetricsSources): Registry {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const now = (): number => options.clock?.now() ?? Date.now();
  collectDefaultMetrics({ register: registry, prefix: 'rotator_process_' });

  // One pass over the outcome store per scrape feeds every compliance gauge; the gauges' collect
  // callbacks run in registration order within one scrape, so the first computes and the rest reuse.
  let pass: Promise<TargetCompliance[]> | undefined;
  const ageHistogram = new Histogram({
    name: 'rotator_password_age_seconds',
    help: 'Age of each server password (since the last reset Huawei accepted), by target; servers never rotated are not counted',
    labelNames: ['target'],
    buckets: AGE_BUCKETS,
    registers,
    async collect() {
      await compliance();
    },
  });
  const compliance = (): Promise<TargetCompliance[]> =>
    (pass ??= (async () => {
      ageHistogram.reset();
      const at = now();
      const out: TargetCompliance[] = [];
      for (const t of await complianceTargets(options.outcomes, options.targets)) {
        out.push(
          await assessTarget(options.outcomes, t, at, (s) => {
            if (s.passwordAgeMs !== undefined) ageHistogram.observe({ target: t.name }, s.passwordAgeMs / 1000);
          }),
        );
      }
      return out;
    })().finally(() => setTimeout(() => (pass = undefined), 0).unref()));

  new Gauge({
    name: 'rotator_servers',
    help: 'Servers per target by the outcome of their last rotation attempt',
    labelNames: ['target', 'outcome'],
    registers,
    async collect() {
      this.reset();
      for (const t of await compliance()) for (const outcome of OUTCOME_KINDS) this.set({ target: t.target, outcome }, t.byOutcome[outcome] ?? 0);
    },
  });
  new Gauge({
    name: 'rotator_servers_overdue',
    help: "Servers whose password is older than the target's maxPasswordAgeDays, or never rotated, by target",
    labelNames: ['target'],
    registers,
    async collect() {
      this.reset();
      for (const t of await compliance()) this.set({ target: t.target }, t.overdue);
    },
  });
  new Gauge({
    name: 'rotator_password_age_max_seconds',
    help: 'Age of the oldest known password of a target (since the last accepted reset)',
    labelNames: ['target'],
    registers,
    async collect() {
      this.reset();
      for (const t of await compliance()) if (t.maxPasswordAgeMs !== undefined) this.set({ target: t.target }, t.maxPasswordAgeMs / 1000);
    },
  });
  new Gauge({
    name: 'rotator_password_max_age_policy_seconds',
    help: "The target's compliance policy: the maximum password age (maxPasswordAgeDays, or two schedule intervals)",
    labelNames: ['target'],
    registers,
    async collect() {
      this.reset();
      for (const t of await compliance()) this.set({ target: t.target }, Math.round((t.policy.maxAgeDays * DAY_MS) / 1000));
    },
  });
  new Gauge({
    name: 'rotator_last_successful_run_timestamp_seconds',
    help: 'When the last run of the target that succeeded (no failed or unknown server, not a dry run) finished, Unix seconds',
    labelNames: ['target'],
    registers,
    async collect() {
      this.reset();
      if (!options.runHistory) return;
      for (const [target, ms] of Object.entries(await options.runHistory.lastSuccess())) this.set({ target }, ms / 1000);
    },
  });
  new Gauge({
    name: 'rotator_queue_jobs',
    help: 'Jobs in the rotation queues by state (waiting + delayed is the queue depth)',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      this.reset();
      for (const [queue, q] of [['runs', options.queues.runs], ['batches', options.queues.batches]] as const) {
        const counts = await q.getJobCounts(...JOB_STATES);
        for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  return registry;
}
