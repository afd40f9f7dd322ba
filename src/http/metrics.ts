/**
 * Prometheus metrics, computed when scraped from the same sources as `/api/status` (the outcome store
 * and the queues), so every replica reports the same fleet-wide figures and nothing is kept in
 * process memory between scrapes. Labels are target names, outcome kinds and queue states only:
 * never a server id (unbounded cardinality) and never anything secret.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { OUTCOME_KINDS } from '../domain/outcome.js';
import type { RotationQueues } from '../queue/rotation-queues.js';
import type { OutcomeStore } from '../ports/outcome-store.js';

const JOB_STATES = ['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;

export function createMetricsRegistry(options: {
  queues: RotationQueues;
  outcomes: Pick<OutcomeStore, 'listTargets' | 'countTarget'>;
  targets: readonly { name: string }[];
}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rotator_process_' });
  new Gauge({
    name: 'rotator_servers',
    help: 'Servers per target by the outcome of their last rotation attempt',
    labelNames: ['target', 'outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      const names = new Set([...options.targets.map((t) => t.name), ...(await options.outcomes.listTargets())]);
      for (const target of names) {
        const counts = await options.outcomes.countTarget(target);
        for (const outcome of OUTCOME_KINDS) this.set({ target, outcome }, counts[outcome] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'rotator_queue_jobs',
    help: 'Jobs in the rotation queues by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
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
