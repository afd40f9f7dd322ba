/**
 * The audit report (`rotator report`): one row per server, a summary per target, when it was
 * generated and the policy it was judged by. Built from the compliance assessment only, which holds
 * ids, times, outcome kinds and codes: no password can reach it.
 */
import { OUTCOME_KINDS } from '../domain/outcome.js';
import { DAY_MS, formatDuration } from './password-age-policy.js';
import { assessTarget, complianceTargets, type ComplianceSource, type ComplianceTarget } from './fleet-compliance.js';
import type { ServerCompliance, TargetCompliance } from './server-compliance.js';
import { html } from './html.js';

export const REPORT_FORMATS = ['table', 'csv', 'json', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ComplianceReport {
  generatedAt: number;
  targets: TargetCompliance[];
  /** Overdue first, then failing, then by target and server id. */
  servers: ServerCompliance[];
}

export async function buildComplianceReport(input: {
  store: ComplianceSource;
  configured: readonly ComplianceTarget[];
  /** Only this target (it must be configured or recorded). */
  only?: string | undefined;
  nowMs: number;
}): Promise<ComplianceReport> {
  const all = await complianceTargets(input.store, input.configured);
  const chosen = input.only === undefined ? all : all.filter((t) => t.name === input.only);
  const targets: TargetCompliance[] = [];
  const servers: ServerCompliance[] = [];
  for (const t of chosen) targets.push(await assessTarget(input.store, t, input.nowMs, (s) => void servers.push(s)));
  servers.sort(
    (a, b) =>
      Number(b.overdue) - Number(a.overdue) ||
      Number(isFailing(b)) - Number(isFailing(a)) ||
      a.target.localeCompare(b.target) ||
      a.serverId.localeCompare(b.serverId),
  );
  return { generatedAt: input.nowMs, targets, servers };
}

const isFailing = (s: ServerCompliance): boolean => s.lastOutcome === 'failed' || s.lastOutcome === 'unknown';

export function renderReport(report: ComplianceReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(reportJson(report), null, 2)}\n`;
    case 'csv':
      return reportCsv(report);
    case 'table':
      return reportTable(report);
    case 'html':
      return reportHtml(report);
  }
}

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const days = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round((ms / DAY_MS) * 100) / 100);

function targetJson(t: TargetCompliance) {
  return {
    target: t.target,
    policy: { maxPasswordAgeDays: Math.round(t.policy.maxAgeDays * 10_000) / 10_000, source: t.policy.source, description: t.policy.description },
    servers: t.servers,
    compliant: t.servers - t.overdue,
    overdue: t.overdue,
    failing: t.failing,
    oldestPasswordAgeDays: days(t.maxPasswordAgeMs),
    lastSuccessAt: iso(t.lastSuccessAt),
    byOutcome: t.byOutcome,
    byReason: t.byReason,
  };
}

function serverJson(s: ServerCompliance) {
  return {
    target: s.target,
    serverId: s.serverId,
    overdue: s.overdue,
    passwordAgeDays: days(s.passwordAgeMs),
    lastSuccessAt: iso(s.lastSuccessAt),
    lastAttemptAt: iso(s.lastAttemptAt),
    lastOutcome: s.lastOutcome,
    code: s.code ?? null,
    reasonCode: s.reason?.code ?? null,
    reason: s.reason?.text ?? null,
    failingSince: iso(s.failingSince),
    consecutiveFailures: s.consecutiveFailures,
    runId: s.runId,
  };
}

function reportJson(r: ComplianceReport) {
  return {
    report: 'rotator password compliance',
    generatedAt: iso(r.generatedAt),
    totals: totals(r),
    targets: r.targets.map(targetJson),
    servers: r.servers.map(serverJson),
  };
}

function totals(r: ComplianceReport) {
  const servers = r.targets.reduce((n, t) => n + t.servers, 0);
  const overdue = r.targets.reduce((n, t) => n + t.overdue, 0);
  return { targets: r.targets.length, servers, compliant: servers - overdue, overdue };
}

/** RFC 4180: quote every field that needs it, double inner quotes; CRLF line ends. */
function csvField(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  // A leading =, +, - or @ would be a formula to a spreadsheet (CSV injection): prefix it.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const CSV_COLUMNS = [
  'row', 'generated_at', 'target', 'max_password_age_days', 'policy_source',
  'server_id', 'overdue', 'password_age_days', 'last_success_at', 'last_attempt_at', 'last_outcome', 'code',
  'reason_code', 'reason', 'failing_since', 'consecutive_failures',
  'servers', 'compliant', 'overdue_servers', 'failing_servers',
] as const;

/**
 * One flat table: a `target` row per target (its policy and summary) and a `server` row per server,
 * distinguished by the first column, so that any CSV reader loads it whole.
 */
function reportCsv(r: ComplianceReport): string {
  const at = iso(r.generatedAt);
  const lines = [CSV_COLUMNS.join(',')];
  const row = (values: Partial<Record<(typeof CSV_COLUMNS)[number], unknown>>): void => {
    lines.push(CSV_COLUMNS.map((c) => csvField(values[c])).join(','));
  };
  const policyOf = new Map(r.targets.map((t) => [t.target, t.policy]));
  for (const t of r.targets) {
    const j = targetJson(t);
    row({
      row: 'target', generated_at: at, target: t.target, max_password_age_days: j.policy.maxPasswordAgeDays,
      policy_source: t.policy.source, servers: t.servers, compliant: j.compliant, overdue_servers: t.overdue,
      failing_servers: t.failing, last_success_at: j.lastSuccessAt, password_age_days: j.oldestPasswordAgeDays,
    });
  }
  for (const s of r.servers) {
    const j = serverJson(s);
    const policy = policyOf.get(s.target);
    row({
      row: 'server', generated_at: at, target: s.target,
      max_password_age_days: policy ? Math.round(policy.maxAgeDays * 10_000) / 10_000 : undefined,
      policy_source: policy?.source, server_id: s.serverId, overdue: s.overdue ? 'yes' : 'no',
      password_age_days: j.passwordAgeDays, last_success_at: j.lastSuccessAt, last_attempt_at: j.lastAttemptAt,
      last_outcome: s.lastOutcome, code: s.code, reason_code: j.reasonCode, reason: j.reason,
      failing_since: j.failingSince, consecutive_failures: s.consecutiveFailures,
    });
  }
  return `${lines.join('\r\n')}\r\n`;
}

function alignedTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const age = (ms: number | undefined): string => (ms === undefined ? 'unknown' : formatDuration(ms));

function reportTable(r: ComplianceReport): string {
  const t = totals(r);
  const out = [
    `rotator password compliance report, generated ${iso(r.generatedAt)}`,
    `${t.servers} servers in ${t.targets} targets: ${t.compliant} compliant, ${t.overdue} overdue`,
    '',
    alignedTable(
      ['target', 'max age', 'policy', 'servers', 'compliant', 'overdue', 'failing', 'oldest password', 'last success'],
      r.targets.map((x) => [
        x.target, formatDuration(x.policy.maxAgeMs), x.policy.source, String(x.servers), String(x.servers - x.overdue),
        String(x.overdue), String(x.failing), age(x.maxPasswordAgeMs), iso(x.lastSuccessAt) ?? '-',
      ]),
    ),
    '',
    ...r.targets.map((x) => `policy of ${x.target}: ${x.policy.description}`),
    '',
  ];
  if (r.servers.length === 0) out.push('no server recorded yet (no run has reached one)');
  else
    out.push(
      alignedTable(
        ['target', 'server', 'overdue', 'password age', 'last success', 'last attempt', 'outcome', 'reason'],
        r.servers.map((s) => [
          s.target, s.serverId, s.overdue ? 'OVERDUE' : 'ok', age(s.passwordAgeMs), iso(s.lastSuccessAt) ?? '-',
          iso(s.lastAttemptAt) ?? '-', s.lastOutcome, s.reason?.text ?? '',
        ]),
      ),
    );
  return `${out.join('\n')}\n`;
}

function reportHtml(r: ComplianceReport): string {
  const t = totals(r);
  const generated = iso(r.generatedAt);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rotator compliance report ${generated}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d232a}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border-bottom:1px solid #d6dbe1;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}
.overdue{color:#a3140d;font-weight:600}.ok{color:#1c6e2b}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
@media print{body{margin:0}}
</style>
</head>
<body>
<h1>Password compliance report</h1>
<p>Generated <time datetime="${generated}">${generated}</time>. ${t.servers} servers in ${t.targets} targets:
<strong>${t.compliant} compliant</strong>, <strong class="${t.overdue > 0 ? 'overdue' : 'ok'}">${t.overdue} overdue</strong>.</p>
<h2>Targets</h2>
<table>
<thead><tr><th>Target</th><th>Maximum password age</th><th>Policy</th><th>Servers</th><th>Compliant</th><th>Overdue</th><th>Failing</th><th>Oldest password</th><th>Last success</th></tr></thead>
<tbody>
${r.targets.map(
  (x) => html`<tr><td>${x.target}</td><td>${formatDuration(x.policy.maxAgeMs)}</td><td>${x.policy.description}</td><td>${x.servers}</td><td>${x.servers - x.overdue}</td><td class="${x.overdue > 0 ? 'overdue' : ''}">${x.overdue}</td><td>${x.failing}</td><td>${age(x.maxPasswordAgeMs)}</td><td>${iso(x.lastSuccessAt) ?? '-'}</td></tr>
`,
)}</tbody>
</table>
<h2>Servers</h2>
<table>
<thead><tr><th>Target</th><th>Server</th><th>Compliance</th><th>Password age</th><th>Last success</th><th>Last attempt</th><th>Outcome</th><th>Reason</th></tr></thead>
<tbody>
${r.servers.map(
  (s) => html`<tr><td>${s.target}</td><td><code>${s.serverId}</code></td><td class="${s.overdue ? 'overdue' : 'ok'}">${s.overdue ? 'overdue' : 'ok'}</td><td>${age(s.passwordAgeMs)}</td><td>${iso(s.lastSuccessAt) ?? '-'}</td><td>${iso(s.lastAttemptAt) ?? '-'}</td><td>${s.lastOutcome}${s.code ? html` <code>${s.code}</code>` : ''}</td><td>${s.reason?.text ?? ''}</td></tr>
`,
)}</tbody>
</table>
<p>Outcome kinds: ${OUTCOME_KINDS.join(', ')}. The password age counts from the last reset Huawei accepted; a server never rotated has no known age and counts as overdue.</p>
</body>
</html>
`.html;
}
