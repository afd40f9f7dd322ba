/**
 * What rotator allows of bull-board (mounted at `/ui`) beyond its own read-only switch.
 *
 * - `blockJobWrites()`: even with `http.readOnly: false`, the actions that create a job or change a
 *   job's data are refused (405): `add` (and "duplicate", which uses it), `update-data`, the job
 *   scheduler actions, and `obliterate`. Those would let a dashboard user write a batch for any
 *   server with any restart policy; the batch worker re-checks every job against its run and target
 *   anyway (src/rotation/batch-admission.ts), but a door that can only ever produce refused jobs is
 *   better closed. Retry, promote, clean, remove, pause and resume stay available: they replay or
 *   drop jobs that the service itself wrote.
 * - `withoutExternalAssets()`: bull-board's page links Google Fonts from a CDN; this rewrites the
 *   page as it is rendered, dropping every `<link>` to another origin, so the dashboard loads
 *   nothing from outside the process (the fonts fall back to the system's sans-serif).
 */
import type { RequestHandler, Response } from 'express';

const BLOCKED_ACTIONS: readonly { method: string; pattern: RegExp }[] = [
  { method: 'POST', pattern: /^\/api\/queues\/[^/]+\/add\/?$/ },
  { method: 'PATCH', pattern: /^\/api\/queues\/[^/]+\/[^/]+\/update-data\/?$/ },
  { method: 'PUT', pattern: /^\/api\/queues\/[^/]+\/obliterate\/?$/ },
  { method: '*', pattern: /^\/api\/queues\/[^/]+\/job-schedulers(\/|$)/ },
];

/** Mount on the dashboard's base path, before bull-board's router (paths are relative to it). */
export function blockJobWrites(): RequestHandler {
  return (req, res, next) => {
    const path = decodeURIComponentSafe(req.path);
    const blocked = BLOCKED_ACTIONS.some((a) => (a.method === '*' ? req.method !== 'GET' : a.method === req.method) && a.pattern.test(path));
    if (!blocked) {
      next();
      return;
    }
    res.status(405).json({
      error: 'dashboard-action-disabled',
      message: 'rotator disables adding, editing and scheduling jobs from the dashboard; start runs with `rotator rotate` or POST /api/targets/<target>/runs',
    });
  };
}

function decodeURIComponentSafe(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** `<link … href="https://…">` (or `//…`): any link element to another origin. */
const EXTERNAL_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>\s*/gi;

export function stripExternalLinks(html: string): string {
  return html.replace(EXTERNAL_LINK, '');
}

/** Mount on the dashboard's base path, before bull-board's router. */
export function withoutExternalAssets(): RequestHandler {
  return (_req, res, next) => {
    const render = res.render.bind(res) as Response['render'];
    res.render = ((view: string, options?: object, callback?: (err: Error, html: string) => void) => {
      render(view, options ?? {}, (error: Error | null, html: string) => {
        if (callback) {
          callback(error as Error, error ? html : stripExternalLinks(html));
          return;
        }
        if (error) {
          next(error);
          return;
        }
        res.type('html').send(stripExternalLinks(html));
      });
    }) as Response['render'];
    next();
  };
}
