import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { isSafeMethod } from './origin-check.js';

/**
 * Bearer-token auth for the dashboard and the JSON API. Tokens are compared as SHA-256 digests in
 * constant time.
 *
 * A browser cannot send a Bearer header to bull-board's pages, so HTTP Basic (any user name, the
 * token as password) is accepted for READS (GET, HEAD, OPTIONS): the browser prompts for it
 * natively. It is not accepted for writes: a browser caches Basic credentials and attaches them to
 * every request to this origin, whichever site triggered it, so a Basic-authenticated write could be
 * a cross-site request forgery. A write needs `Authorization: Bearer <token>` (which no page can make
 * a browser send on its own), or Basic plus a valid CSRF token checked earlier by `csrfProtection`
 * (./csrf.ts), which marks the request with `res.locals.csrfVerified`.
 */
export function tokenAuth(token: string): RequestHandler {
  if (token.length < 16) throw new Error('http.auth token: expected at least 16 characters');
  const expected = createHash('sha256').update(token).digest();
  const matches = (candidate: string): boolean =>
    timingSafeEqual(createHash('sha256').update(candidate).digest(), expected);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const [scheme, value = ''] = header.split(' ', 2);
    let presented: string | undefined;
    let basic = false;
    if (scheme?.toLowerCase() === 'bearer') presented = value;
    else if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      presented = decoded.slice(decoded.indexOf(':') + 1);
      basic = true;
    }
    if (presented !== undefined && matches(presented)) {
      if (basic && !isSafeMethod(req.method) && res.locals.csrfVerified !== true) {
        res.status(403).json({
          error: 'bearer-required',
          message: 'writes need Authorization: Bearer <token>; browser (Basic) credentials are accepted for reading only',
        });
        return;
      }
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Basic realm="rotator", charset="UTF-8"');
    res.status(401).json({ error: 'unauthorized', message: 'a valid token is required (Authorization: Bearer <token>)' });
  };
}
