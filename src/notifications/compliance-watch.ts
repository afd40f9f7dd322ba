/**
 * Notices servers turning overdue and recovering: assesses each target (src/compliance), compares
 * with the overdue index (a Redis set per target) and notifies the transitions. Each transition is
 * claimed in the index by exactly one checker, so several worker processes checking at once send
 * each notification once. Runs every `checkIntervalSeconds` and after each finished run.
 */
import type { Logger } from 'pino';
import { assessTarget, complianceTargets, type ComplianceSource, type ComplianceTarget } from '../compliance/fleet-compliance.js';
import type { ServerCompliance } from '../compliance/server-compliance.js';
import type { Clock } from '../ports/clock.js';
import type { OverdueIndex } from '../ports/notification-log.js';
import { complianceNotification } from './notification.js';
import type { Notifier } from './notifier.js';

export interface ComplianceWatchOptions {
  store: ComplianceSource;
  index: OverdueIndex;
  targets: readonly ComplianceTarget[];
  notifier: Pick<Notifier, 'notify'>;
  clock: Pick<Clock, 'now'>;
  logger: Logger;
}

export interface CheckResult {
  target: string;
  turnedOverdue: string[];
  recovered: string[];
}

export async function checkCompliance(options: ComplianceWatchOptions, only?: string): Promise<CheckResult[]> {
  const now = options.clock.now();
  const results: CheckResult[] = [];
  for (const target of await complianceTargets(options.store, options.targets)) {
    if (only !== undefined && target.name !== only) continue;
    const overdue = new Map<string, ServerCompliance>();
    const compliant = new Map<string, ServerCompliance>();
    await assessTarget(options.store, target, now, (s) => void (s.overdue ? overdue : compliant).set(s.serverId, s));
    const newly = await options.index.markOverdue(target.name, [...overdue.keys()]);
    const previous = await options.index.overdue(target.name);
    const cleared = await options.index.clear(target.name, previous.filter((id) => !overdue.has(id)));
    // Cleared servers no longer listed under the target (moved, removed) are dropped silently.
    const recovered = cleared.filter((id) => compliant.has(id));
    const checkId = String(now);
    if (newly.length > 0) {
      await options.notifier.notify(complianceNotification('server-overdue', target.name, newly.map((id) => overdue.get(id)!), now, checkId));
    }
    if (recovered.length > 0) {
      await options.notifier.notify(complianceNotification('server-recovered', target.name, recovered.map((id) => compliant.get(id)!), now, checkId));
    }
    results.push({ target: target.name, turnedOverdue: newly, recovered });
  }
  return results;
}

/** Checks every `intervalMs` (one check at a time); `stop()` waits for a check in progress. */
export function startComplianceWatch(options: ComplianceWatchOptions & { intervalMs: number }): { check(target?: string): Promise<void>; stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const check = (target?: string): Promise<void> => {
    if (stopped) return running;
    running = running
      .then(() => checkCompliance(options, target))
      .then(
        () => undefined,
        (error: unknown) => options.logger.warn({ err: { message: (error as Error).message } }, 'compliance check failed'),
      );
    return running;
  };
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();
  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
