/**
 * Notifications of a worker process: the notifier, the compliance watch (only when some channel
 * listens to overdue/recovered events), and the hook the run observer calls for each finished run.
 */
import type { Logger } from 'pino';
import type { ComplianceSource, ComplianceTarget } from '../compliance/fleet-compliance.js';
import type { ChannelSecrets } from '../config/notification-secrets.js';
import type { NotificationChannelConfig } from '../config/service-schema.js';
import type { ServiceMetrics } from '../observability/service-metrics.js';
import type { Clock } from '../ports/clock.js';
import type { NotificationLog, OverdueIndex } from '../ports/notification-log.js';
import type { RandomSource } from '../ports/random-source.js';
import type { RunRecord } from '../ports/run-history.js';
import { startComplianceWatch } from './compliance-watch.js';
import { runFailedNotification } from './notification.js';
import { Notifier, type NotifierOptions } from './notifier.js';

export interface Notifications {
  readonly notifier: Notifier;
  /** For the run observer: notify a failed run, then re-check the run's target for transitions. */
  onRun(run: RunRecord): Promise<void>;
  /** Runs one compliance check now (all targets, or one). */
  checkCompliance(target?: string): Promise<void>;
  close(): Promise<void>;
}

export function startNotifications(options: {
  channels: readonly NotificationChannelConfig[];
  secrets(channel: string): ChannelSecrets | undefined;
  targets: readonly (ComplianceTarget & { notify: readonly string[] })[];
  store: ComplianceSource;
  deliveries: NotificationLog & OverdueIndex;
  checkIntervalMs: number;
  metrics?: ServiceMetrics | undefined;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  backoff?: NotifierOptions['backoff'];
}): Notifications {
  const byName = new Map(options.targets.map((t) => [t.name, t]));
  const notifier = new Notifier({
    channels: options.channels,
    secrets: options.secrets,
    targetChannels: (target) => byName.get(target)?.notify ?? [],
    log: options.deliveries,
    metrics: options.metrics,
    clock: options.clock,
    random: options.random,
    logger: options.logger,
    backoff: options.backoff,
  });
  const watch =
    notifier.wants('server-overdue') || notifier.wants('server-recovered')
      ? startComplianceWatch({
          store: options.store,
          index: options.deliveries,
          targets: options.targets,
          notifier,
          clock: options.clock,
          logger: options.logger,
          intervalMs: options.checkIntervalMs,
        })
      : undefined;
  void watch?.check();
  return {
    notifier,
    async onRun(run) {
      if (run.result !== 'succeeded') await notifier.notify(runFailedNotification(run, options.clock.now()));
      await watch?.check(run.target);
    },
    checkCompliance: async (target) => watch?.check(target),
    async close() {
      await watch?.stop();
      await notifier.close();
    },
  };
}
