/**
 * Compliance of whole targets, read from the outcome store (a port) page by page: one pass per
 * target, memory flat whatever the fleet size. The status page, the report, the metrics and the
 * overdue notifications all use it, so they agree.
 */
import { OUTCOME_KINDS } from '../domain/outcome.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import { passwordAgePolicy, type AgePolicyTarget } from './password-age-policy.js';
import { assessServer, emptyTargetCompliance, foldServer, type ServerCompliance, type TargetCompliance } from './server-compliance.js';

export type ComplianceSource = Pick<OutcomeStore, 'listTarget' | 'listTargets'>;

/** A configured target, or (policy undefined) a target only known from recorded outcomes. */
export interface ComplianceTarget extends AgePolicyTarget {
  name: string;
}

/** A target with no job file any more keeps its servers in the store; it gets this policy's default. */
const ORPHAN_POLICY: AgePolicyTarget = { schedule: '0 0 * * *', timezone: 'UTC', maxPasswordAgeDays: 30 };

/**
 * Folds the servers of `target` into its figures; `onServer` sees each assessed server (the report
 * writes rows from it) in the store's order.
 */
export async function assessTarget(
  store: ComplianceSource,
  target: ComplianceTarget,
  nowMs: number,
  onServer?: (server: ServerCompliance) => void | Promise<void>,
): Promise<TargetCompliance> {
  const policy = passwordAgePolicy(target, nowMs);
  const acc = emptyTargetCompliance(target.name, policy, OUTCOME_KINDS);
  for await (const state of store.listTarget(target.name)) {
    const server = assessServer(state, policy, nowMs);
    foldServer(acc, server);
    if (onServer) await onServer(server);
  }
  return acc;
}

/**
 * The configured targets plus every target the store knows (a removed job file leaves servers
 * behind: an auditor still wants to see them), sorted by name.
 */
export async function complianceTargets(store: ComplianceSource, configured: readonly ComplianceTarget[]): Promise<ComplianceTarget[]> {
  const byName = new Map(configured.map((t) => [t.name, t]));
  for (const name of await store.listTargets()) if (!byName.has(name)) byName.set(name, { name, ...ORPHAN_POLICY });
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
