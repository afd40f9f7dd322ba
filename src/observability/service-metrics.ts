/**
 * The process's Prometheus instruments: what this process did (rotations, ECS and vault calls, runs,
 * throttling pauses, notifications). Fleet-wide figures read from Redis at scrape time (servers by
 * outcome, overdue servers, password ages, queue depth, last successful run) are added by
 * src/http/metrics.ts to the same registry.
 *
 * Labels are bounded: target and account names (from config), operation names (a fixed list), outcome
 * kinds, and error codes passed through {@link boundedCode}. Never a server id, never anything secret.
 */
import { Counter, Histogram, Registry } from 'prom-client';

/** Seconds: one ECS or vault call, retries included (10 ms .. 2 min). */
const CALL_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Seconds: one run, enqueue to last batch (1 s .. 6 h). */
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600];

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly rotations: Counter<'target' | 'outcome'>;
  readonly ecsRequests: Counter<'account' | 'operation' | 'code'>;
  readonly ecsDuration: Histogram<'account' | 'operation'>;
  readonly vaultOperations: Counter<'operation' | 'result'>;
  readonly vaultDuration: Histogram<'operation'>;
  readonly runs: Counter<'target' | 'result'>;
  readonly runDuration: Histogram<'target'>;
  readonly throttlePauses: Counter<'target' | 'code'>;
  readonly throttlePauseSeconds: Counter<'target'>;
  readonly notifications: Counter<'channel' | 'event' | 'result'>;
}

export function createServiceMetrics(registry: Registry = new Registry()): ServiceMetrics {
  const registers = [registry];
  return {
    registry,
    rotations: new Counter({
      name: 'rotator_rotations_total',
      help: 'Servers that ended a batch, by target and outcome (rotated, pending-restart, failed, unknown, skipped, busy)',
      labelNames: ['target', 'outcome'],
      registers,
    }),
    ecsRequests: new Counter({
      name: 'rotator_ecs_requests_total',
      help: 'Huawei ECS API calls by account, operation and result code (ok, or the error code), retries included in one call',
      labelNames: ['account', 'operation', 'code'],
      registers,
    }),
    ecsDuration: new Histogram({
      name: 'rotator_ecs_request_duration_seconds',
      help: 'Duration of Huawei ECS API calls (with their retries and rate-limit waits), by account and operation',
      labelNames: ['account', 'operation'],
      buckets: CALL_BUCKETS,
      registers,
    }),
    vaultOperations: new Counter({
      name: 'rotator_vault_operations_total',
      help: 'Vault operations by kind (putPending, promote, ...) and result (ok, or the error code)',
      labelNames: ['operation', 'result'],
      registers,
    }),
    vaultDuration: new Histogram({
      name: 'rotator_vault_operation_duration_seconds',
      help: 'Duration of vault operations by kind',
      labelNames: ['operation'],
      buckets: CALL_BUCKETS,
      registers,
    }),
    runs: new Counter({
      name: 'rotator_runs_total',
      help: 'Finished runs by target and result (succeeded, partial, failed)',
      labelNames: ['target', 'result'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'rotator_run_duration_seconds',
      help: 'Duration of finished runs, from enqueue to the last batch, by target',
      labelNames: ['target'],
      buckets: RUN_BUCKETS,
      registers,
    }),
    throttlePauses: new Counter({
      name: 'rotator_throttle_pauses_total',
      help: 'Times the batch queue was paused because a remote API throttled, by target and code',
      labelNames: ['target', 'code'],
      registers,
    }),
    throttlePauseSeconds: new Counter({
      name: 'rotator_throttle_pause_seconds_total',
      help: 'Seconds of batch-queue pause requested because of throttling, by target',
      labelNames: ['target'],
      registers,
    }),
    notifications: new Counter({
      name: 'rotator_notifications_total',
      help: 'Notification deliveries by channel, event and result (delivered, failed)',
      labelNames: ['channel', 'event', 'result'],
      registers,
    }),
  };
}

/**
 * An error code as a label value: codes are a small set in practice (Huawei's `Ecs.0611`, AWS
 * exception names, ours), but they come from remote answers, so anything that does not look like a
 * code becomes `other` rather than a new series.
 */
export function boundedCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z][A-Za-z0-9._-]{0,47}$/.test(code)) return code;
  return 'other';
}
