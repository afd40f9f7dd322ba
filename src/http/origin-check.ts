/**
 * Cross-site write guard: refuses a state-changing request (any method but GET, HEAD, OPTIONS) that
 * a browser sent on behalf of another site. Browsers label every request with `Sec-Fetch-Site` and
 * send `Origin` on every cross-origin non-GET request, and a page cannot forge either; tools such
 * as curl or the CLI send neither, and pass.
 *
 * API (also used by the status page at `/`):
 * - `originCheck({ allowedOrigins?, onRefused? })`: an express middleware; refused requests get
 *   403 `{error: 'cross-site-request'}`. A request passes when `Sec-Fetch-Site` is absent,
 *   `same-origin` or `none` (typed by the user), AND `Origin` is absent or equals this server's
 *   own origin (`<protocol>://<Host header>`) or one of `allowedOrigins`. `Origin: null`
 *   (sandboxed frames, some redirects) is refused.
 * - `isSafeMethod(method)`: GET, HEAD and OPTIONS change nothing here.
 * Pair it with the Host allow-list: the own origin is built from the Host header, which that
 * middleware has already checked.
 */
import type { Request, RequestHandler } from 'express';

export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Options of {@link originCheck}. */
export interface OriginCheckOptions {
  /** Other origins allowed to write, e.g. `https://rotator.example.com` behind a TLS proxy. @defaultValue none */
  allowedOrigins?: readonly string[];
  onRefused?: (req: Request, reason: string) => void;
}

export function originCheck(options: OriginCheckOptions = {}): RequestHandler {
  const allowed = new Set((options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, '')));
  return (req, res, next) => {
    if (isSafeMethod(req.method)) {
      next();
      return;
    }
    const reason = crossSiteReason(req, allowed);
    if (reason === undefined) {
      next();
      return;
    }
    options.onRefused?.(req, reason);
    res.status(403).json({ error: 'cross-site-request', message: `refused: ${reason}` });
  };
}

function crossSiteReason(req: Request, allowed: ReadonlySet<string>): string | undefined {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `the browser sent it from another site (Sec-Fetch-Site: ${site})`;
  }
  const origin = req.get('origin');
  if (origin === undefined) return undefined;
  const normalised = origin.trim().toLowerCase().replace(/\/+$/, '');
  const own = `${req.protocol}://${req.get('host') ?? ''}`.toLowerCase();
  if (normalised === own || allowed.has(normalised)) return undefined;
  return 'the Origin header names another site';
}
