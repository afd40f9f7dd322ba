/**
 * Security headers on every answer of the HTTP server, bull-board's pages included.
 *
 * API (also used by the status page at `/`):
 * - `securityHeaders(options?)`: an express middleware; mount it FIRST (`app.use(securityHeaders())`)
 *   so that every later handler's answer, error answers and mounted sub-apps included, carries them.
 * - `DEFAULT_CONTENT_SECURITY_POLICY`: the policy it sends unless told otherwise.
 *
 * What each header defends against:
 * - `Content-Security-Policy`: only this origin's scripts, styles, fonts, images and requests
 *   (`'self'`); `frame-ancestors 'none'` forbids framing (clickjacking); `form-action 'self'` keeps a
 *   form from posting elsewhere. Inline styles are allowed because bull-board's loading screen uses
 *   them; inline scripts are not.
 * - `X-Frame-Options: DENY`: the same as `frame-ancestors` for browsers that predate it.
 * - `X-Content-Type-Options: nosniff`: a JSON answer is never run as a script or rendered as HTML.
 * - `Referrer-Policy: same-origin`: dashboard URLs (job ids, target names) do not leak to other sites.
 *   Not `no-referrer`: under it browsers send `Origin: null` on the page's own form posts (Fetch
 *   standard, "serializing a request origin"), which the cross-site write check must refuse.
 * - `Cross-Origin-Opener-Policy` / `Cross-Origin-Resource-Policy: same-origin`: other sites can
 *   neither script a window of ours nor embed our answers.
 * - `Cache-Control: no-store` on everything but static assets: nothing about runs stays in caches.
 * `X-Powered-By` is removed from every answer, including those of mounted sub-apps such as
 * bull-board's express app, which turns it back on for itself.
 */
import type { RequestHandler } from 'express';

export const DEFAULT_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Options of {@link securityHeaders}. */
export interface SecurityHeadersOptions {
  /** @defaultValue {@link DEFAULT_CONTENT_SECURITY_POLICY} */
  contentSecurityPolicy?: string;
  /** Paths (prefix match) whose answers may be cached (hashed static assets). @defaultValue none */
  cacheablePrefixes?: readonly string[];
}

export function securityHeaders(options: SecurityHeadersOptions = {}): RequestHandler {
  const csp = options.contentSecurityPolicy ?? DEFAULT_CONTENT_SECURITY_POLICY;
  const cacheable = options.cacheablePrefixes ?? [];
  return (req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (!cacheable.some((prefix) => req.originalUrl.startsWith(prefix))) res.setHeader('Cache-Control', 'no-store');
    // A sub-app (bull-board's) sets X-Powered-By after this middleware ran: drop it at the last
    // moment, when the headers are written.
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      this.removeHeader('X-Powered-By');
      return writeHead.apply(this, args);
    } as typeof writeHead;
    next();
  };
}
