/**
 * The status page: server-rendered HTML, no build step, no script, no external font or stylesheet;
 * it works without JavaScript. What an operator or auditor asks first:
 * - `/`: every target with its schedule, next run, compliance (overdue servers) and last runs,
 *   targets with problems first, then the latest runs of all targets, failures first;
 * - `/targets/:target`: its servers (overdue first) with password age, last outcome and reason; its
 *   runs; and, with `http.readOnly: false` and token auth, a "rotate now" form (CSRF-protected);
 * - `/servers/:serverId`: the server's state and audit history.
 * Everything shown comes from the outcome store, the run history and the audit log: ids, times,
 * outcome kinds, codes and reasons. Never a password.
 */
import express from 'express';
import type { Request, RequestHandler, Response, Router } from 'express';
import { assessTarget, complianceTargets, type ComplianceTarget } from '../compliance/fleet-compliance.js';
import { html, SafeHtml } from '../compliance/html.js';
import { formatDuration } from '../compliance/password-age-policy.js';
import type { ServerCompliance, TargetCompliance } from '../compliance/server-compliance.js';
import { formatInZone, nextFireTimes } from '../config/schedule.js';
import type { Clock } from '../ports/clock.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RunHistory, RunRecord } from '../ports/run-history.js';
import type { CsrfGuard } from './status-form-csrf.js';

export interface StatusPageTarget extends ComplianceTarget {
  enabled: boolean;
  restartPolicy?: 'none' | 'soft' | 'hard' | undefined;
}

export interface StatusPagesOptions {
  outcomes: Pick<OutcomeStore, 'listTargets' | 'listTarget' | 'getServer'>;
  runHistory: Pick<RunHistory, 'recent'>;
  audit: Pick<AuditLog, 'readServerHistory'>;
  targets: readonly StatusPageTarget[];
  clock: Pick<Clock, 'now'>;
  /** Present when the "rotate now" form is offered (not read-only, token auth on). */
  rotate?: {
    csrf: CsrfGuard;
    enqueue(target: string, options: { dryRun: boolean; restartPolicy: 'none' | 'soft' | 'hard' | undefined }): Promise<{ runId: string }>;
  } | undefined;
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const age = (ms: number | undefined): string => (ms === undefined ? 'unknown' : formatDuration(ms));
const runDuration = (r: RunRecord): string => {
  const ms = Math.max(0, r.finishedAt - r.enqueuedAt);
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : formatDuration(ms);
};
const isProblem = (r: RunRecord): boolean => r.result !== 'succeeded';

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · rotator</title>
<style>
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d2b3a;color:#fff;padding:.7rem 1.5rem;display:flex;gap:1.5rem;align-items:baseline}
header a{color:#cfe3ff;text-decoration:none}header strong{font-size:1.1rem}
main{padding:1rem 1.5rem;max-width:1400px}
h1{font-size:1.4rem;margin:.4rem 0 1rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{border-bottom:1px solid #e3e6ea;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
.bad{color:#a3140d;font-weight:600}.warn{color:#8a5a00}.good{color:#1c6e2b}
.pill{display:inline-block;border-radius:9px;padding:0 .5rem;font-size:12px;background:#e3e6ea}
.pill.bad{background:#fde2df}.pill.good{background:#dff3e4}.pill.warn{background:#fff0cc}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
td code{white-space:nowrap}
.notice{background:#dff3e4;border:1px solid #9fd3ac;padding:.5rem .8rem;margin:.5rem 0}
.error{background:#fde2df;border:1px solid #e9a39b;padding:.5rem .8rem;margin:.5rem 0}
form.rotate{background:#fff;padding:.8rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap;box-shadow:0 1px 2px rgba(0,0,0,.08)}
button{font:inherit;padding:.3rem .9rem;border:1px solid #1d2b3a;background:#1d2b3a;color:#fff;border-radius:3px;cursor:pointer}
.muted{color:#5b6670}
</style>
</head>
<body>
<header><strong>rotator</strong><a href="/">Status</a><a href="/ui">Jobs (/ui)</a><a href="/metrics">Metrics</a></header>
<main>
${body}
</main>
</body>
</html>
`.html;
}

function resultPill(result: RunRecord['result']): SafeHtml {
  const cls = result === 'succeeded' ? 'good' : result === 'partial' ? 'warn' : 'bad';
  return html`<span class="pill ${cls}">${result}</span>`;
}

function counts(r: RunRecord): string {
  const c = r.counts;
  return [
    `rotated ${c.rotated}`,
    c['pending-restart'] ? `pending-restart ${c['pending-restart']}` : '',
    c.failed ? `failed ${c.failed}` : '',
    c.unknown ? `unknown ${c.unknown}` : '',
    c.skipped ? `skipped ${c.skipped}` : '',
    c.busy ? `busy ${c.busy}` : '',
    r.failedBatches ? `failed batches ${r.failedBatches}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

function runsTable(runs: readonly RunRecord[], withTarget: boolean): SafeHtml {
  if (runs.length === 0) return html`<p class="muted">No finished run recorded yet.</p>`;
  return html`<table>
<thead><tr>${withTarget ? html`<th>Target</th>` : ''}<th>Run</th><th>Result</th><th>Finished</th><th>Duration</th><th>Servers</th><th>Counts</th></tr></thead>
<tbody>
${runs.map(
  (r) => html`<tr>${withTarget ? html`<td><a href="/targets/${encodeURIComponent(r.target)}">${r.target}</a></td>` : ''}<td><code>${r.runId}</code>${r.dryRun ? html` <span class="pill">dry run</span>` : ''}</td><td>${resultPill(r.result)}${r.error ? html`<br><span class="bad">${r.error}</span>` : ''}</td><td>${iso(r.finishedAt)}</td><td>${runDuration(r)}</td><td>${r.servers}</td><td>${counts(r)}</td></tr>
`,
)}</tbody></table>`;
}

function nextRun(t: StatusPageTarget | undefined, now: number): string {
  if (!t) return 'not configured';
  if (!t.enabled) return 'disabled';
  const [next] = nextFireTimes(t.schedule, t.timezone, 1, now);
  return next ? formatInZone(next, t.timezone) : '-';
}

function reasonCell(s: ServerCompliance): SafeHtml {
  return html`${s.reason ? html`<span class="${s.overdue ? 'bad' : 'warn'}">${s.reason.text}</span>` : ''}`;
}

/**
 * The pages (a router) and, with the form, the middleware that checks a form submission's CSRF
 * token: mount it BEFORE the token auth, which accepts browser (Basic) credentials for a write only
 * once `res.locals.csrfVerified` is set (./token-auth.ts).
 */
export function createStatusPages(options: StatusPagesOptions): { router: Router; verifyRotateForm: RequestHandler[] | undefined } {
  const router = express.Router();
  const configured = new Map(options.targets.map((t) => [t.name, t]));
  const send = (res: Response, status: number, page: string): void => {
    res.status(status).type('html').set('Cache-Control', 'no-store').send(page);
  };

  router.get('/', async (_req, res) => {
    const now = options.clock.now();
    const rows: { t: TargetCompliance; last: RunRecord[] }[] = [];
    for (const target of await complianceTargets(options.outcomes, options.targets)) {
      rows.push({ t: await assessTarget(options.outcomes, target, now), last: await options.runHistory.recent(target.name, 5) });
    }
    // Targets that need someone first: overdue servers, then a last run that did not succeed.
    const trouble = (r: (typeof rows)[number]): number => (r.t.overdue > 0 ? 2 : 0) + (r.last[0] && isProblem(r.last[0]) ? 1 : 0);
    rows.sort((a, b) => trouble(b) - trouble(a) || a.t.target.localeCompare(b.t.target));
    const recent = rows
      .flatMap((r) => r.last)
      .sort((a, b) => Number(isProblem(b)) - Number(isProblem(a)) || b.finishedAt - a.finishedAt)
      .slice(0, 20);
    const servers = rows.reduce((n, r) => n + r.t.servers, 0);
    const overdue = rows.reduce((n, r) => n + r.t.overdue, 0);
    send(
      res,
      200,
      layout(
        'Status',
        html`<h1>Password rotation status</h1>
<p>${servers} servers in ${rows.length} targets: <strong class="${overdue > 0 ? 'bad' : 'good'}">${overdue} overdue</strong>. Generated ${iso(now)}. Jobs and batches: <a href="/ui">/ui</a>.</p>
<h2>Targets</h2>
<table>
<thead><tr><th>Target</th><th>Schedule</th><th>Next run</th><th>Compliance</th><th>Max age</th><th>Last run</th><th>Counts</th><th>Duration</th></tr></thead>
<tbody>
${rows.map(({ t, last }) => {
  const c = configured.get(t.target);
  const l = last[0];
  return html`<tr><td><a href="/targets/${encodeURIComponent(t.target)}">${t.target}</a></td><td><code>${c?.schedule ?? '-'}</code> <span class="muted">${c?.timezone ?? ''}</span></td><td>${nextRun(c, now)}</td><td>${t.overdue > 0 ? html`<span class="bad">${t.overdue} of ${t.servers} overdue</span>` : html`<span class="good">${t.servers} of ${t.servers} compliant</span>`}${t.failing > 0 ? html`<br><span class="warn">${t.failing} failing</span>` : ''}</td><td>${formatDuration(t.policy.maxAgeMs)}</td><td>${l ? html`${resultPill(l.result)} ${iso(l.finishedAt)}` : html`<span class="muted">none yet</span>`}</td><td>${l ? counts(l) : ''}</td><td>${l ? runDuration(l) : ''}</td></tr>
`;
})}</tbody></table>
<h2>Latest runs (failures first)</h2>
${runsTable(recent, true)}`,
      ),
    );
  });

  router.get('/targets/:target', async (req, res) => {
    const name = String(req.params.target);
    const target = (await complianceTargets(options.outcomes, options.targets)).find((t) => t.name === name);
    if (!target) {
      send(res, 404, layout('Not found', html`<h1>No target ${name}</h1><p><a href="/">Back to the status page</a></p>`));
      return;
    }
    const now = options.clock.now();
    const list: ServerCompliance[] = [];
    const t = await assessTarget(options.outcomes, target, now, (s) => void list.push(s));
    list.sort((a, b) => Number(b.overdue) - Number(a.overdue) || Number(!!b.reason) - Number(!!a.reason) || a.serverId.localeCompare(b.serverId));
    const runs = await options.runHistory.recent(name, 20);
    const c = configured.get(name);
    const enqueued = typeof req.query.enqueued === 'string' ? req.query.enqueued : undefined;
    send(
      res,
      200,
      layout(
        `Target ${name}`,
        html`<h1>Target ${name}</h1>
${enqueued ? html`<p class="notice">Run <code>${enqueued}</code> enqueued. Follow it on <a href="/ui">/ui</a>; this page shows it when it has finished.</p>` : ''}
<p>Schedule <code>${c?.schedule ?? '-'}</code> ${c?.timezone ?? ''} · next run ${nextRun(c, now)} · policy: ${t.policy.description} · <strong class="${t.overdue > 0 ? 'bad' : 'good'}">${t.overdue} of ${t.servers} overdue</strong></p>
${options.rotate && c?.enabled ? rotateForm(name, options.rotate.csrf.issue(rotateAction(name)), c.restartPolicy) : ''}
<h2>Servers</h2>
${list.length === 0 ? html`<p class="muted">No server recorded yet (no run has reached one).</p>` : html`<table>
<thead><tr><th>Server</th><th>Compliance</th><th>Password age</th><th>Last success</th><th>Last attempt</th><th>Outcome</th><th>Reason</th></tr></thead>
<tbody>
${list.map(
  (s) => html`<tr><td><a href="/servers/${encodeURIComponent(s.serverId)}"><code>${s.serverId}</code></a></td><td>${s.overdue ? html`<span class="pill bad">overdue</span>` : html`<span class="pill good">ok</span>`}</td><td>${age(s.passwordAgeMs)}</td><td>${iso(s.lastSuccessAt)}</td><td>${iso(s.lastAttemptAt)}</td><td>${s.lastOutcome}${s.code ? html` <code>${s.code}</code>` : ''}</td><td>${reasonCell(s)}</td></tr>
`,
)}</tbody></table>`}
<h2>Runs</h2>
${runsTable(runs, false)}`,
      ),
    );
  });

  router.get('/servers/:serverId', async (req, res) => {
    const id = String(req.params.serverId);
    const state = await options.outcomes.getServer(id);
    if (!state) {
      send(res, 404, layout('Not found', html`<h1>No server ${id}</h1><p>No run has recorded it. <a href="/">Back to the status page</a></p>`));
      return;
    }
    const history = await options.audit.readServerHistory(id, 100);
    send(
      res,
      200,
      layout(
        `Server ${id}`,
        html`<h1>Server <code>${id}</code></h1>
<p>Target <a href="/targets/${encodeURIComponent(state.target)}">${state.target}</a> · last outcome <strong>${state.status}</strong>${state.errorCode ? html` <code>${state.errorCode}</code>` : ''} at ${iso(state.lastAttemptAt)} · last success ${iso(state.lastSuccessAt)} · ${state.consecutiveFailures} failure(s) in a row${state.failingSince ? ` since ${iso(state.failingSince)}` : ''}${state.reason ? html` · ${state.reason}` : ''}</p>
<h2>History (newest first)</h2>
${history.length === 0 ? html`<p class="muted">No audit event found in the retained audit stream.</p>` : html`<table>
<thead><tr><th>Time</th><th>Run</th><th>Batch</th><th>Step</th><th>Outcome</th><th>Code</th><th>Version</th><th>Detail</th></tr></thead>
<tbody>
${history.map(
  (e) => html`<tr><td>${iso(e.ts)}</td><td><code>${e.runId}</code></td><td>${e.batchIndex}</td><td>${e.step}</td><td>${e.outcome}</td><td>${e.code ? html`<code>${e.code}</code>` : ''}</td><td>${e.versionId ? html`<code>${e.versionId}</code>` : ''}</td><td>${e.detail ?? ''}</td></tr>
`,
)}</tbody></table>`}`,
      ),
    );
  });

  let verifyRotateForm: RequestHandler[] | undefined;
  if (options.rotate) {
    const rotate = options.rotate;
    verifyRotateForm = [
      express.urlencoded({ extended: false, limit: '4kb' }),
      (req, res, next) => {
        const name = String(req.params.target);
        const body = (req.body ?? {}) as Record<string, unknown>;
        const refused = rotate.csrf.problem(req, rotateAction(name), body.csrf);
        if (refused) {
          send(res, 403, layout('Refused', html`<h1>Refused</h1><p class="error">${refused}</p><p><a href="/targets/${encodeURIComponent(name)}">Back to ${name}</a></p>`));
          return;
        }
        res.locals.csrfVerified = true;
        next();
      },
    ];
    router.post('/targets/:target/rotate', async (req: Request, res: Response) => {
      const name = String(req.params.target);
      const target = configured.get(name);
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (res.locals.csrfVerified !== true) {
        send(res, 403, layout('Refused', html`<h1>Refused</h1><p class="error">the form was not checked for a CSRF token</p>`));
        return;
      }
      if (!target || !target.enabled) {
        send(res, 404, layout('Not found', html`<h1>No enabled target ${name}</h1>`));
        return;
      }
      const mode = body.mode === 'real' ? 'real' : body.mode === 'dry-run' ? 'dry-run' : undefined;
      const restart = body.restart === 'none' || body.restart === 'soft' || body.restart === 'hard' ? body.restart : body.restart === 'target' ? undefined : 'invalid';
      if (mode === undefined || restart === 'invalid') {
        send(res, 400, layout('Bad request', html`<h1>Bad request</h1><p class="error">mode: expected dry-run or real; restart: expected target, none, soft or hard</p>`));
        return;
      }
      const { runId } = await rotate.enqueue(name, { dryRun: mode === 'dry-run', restartPolicy: restart });
      res.redirect(303, `/targets/${encodeURIComponent(name)}?enqueued=${encodeURIComponent(runId)}`);
    });
  }
  return { router, verifyRotateForm };
}

function rotateAction(target: string): string {
  return `/targets/${encodeURIComponent(target)}/rotate`;
}

function rotateForm(target: string, token: string, policy: string | undefined): SafeHtml {
  return html`<form class="rotate" method="post" action="${rotateAction(target)}">
<strong>Rotate now</strong>
<input type="hidden" name="csrf" value="${token}">
<label><input type="radio" name="mode" value="dry-run" checked> dry run (Huawei checks the request; nothing is stored or reset)</label>
<label><input type="radio" name="mode" value="real"> real rotation</label>
<label>restart <select name="restart"><option value="target" selected>as the target says (${policy ?? 'none'})</option><option value="none">none</option><option value="soft">soft</option><option value="hard">hard</option></select></label>
<button type="submit">Enqueue run</button>
</form>`;
}
