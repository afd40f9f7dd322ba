import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * Bearer-token auth for the dashboard and the JSON API. A browser cannot send a Bearer header to
 * bull-board's pages, so HTTP Basic is accepted too (any user name, the token as password): the
 * browser prompts for it natively. Tokens are compared as SHA-256 digests in constant time.
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
    if (scheme?.toLowerCase() === 'bearer') presented = value;
    else if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      presented = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (presented !== undefined && matches(presented)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Basic realm="rotator", charset="UTF-8"');
    res.status(401).json({ error: 'unauthorized', message: 'a valid token is required (Authorization: Bearer <token>)' });
  };
}
