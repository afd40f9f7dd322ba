/**
 * CSRF tokens for HTML forms (the status page's "rotate now" form). JSON endpoints do not need them
 * (./json-body.ts refuses every body a form can send), but a form posting
 * `application/x-www-form-urlencoded` does: put a token in the form, check it on submit.
 *
 * Tokens are stateless: `<issued-at ms in base36>.<HMAC-SHA256(secret, issued-at) in base64url>`,
 * valid for `ttlMs`. A page on another site cannot read a token (same-origin policy; the Host
 * allow-list stops DNS rebinding), so it cannot submit the form. With several dashboard replicas,
 * give them the same `secret` (e.g. derived from the HTTP bearer token), or a token issued by one
 * is refused by the others.
 *
 * API:
 * - `createCsrfTokens({ secret?, ttlMs?, now? })` → `{ issue(): string, verify(token): boolean }`;
 * - `csrfProtection(tokens, { field?, header? })`: an express middleware for unsafe methods (see
 *   ./origin-check.ts `isSafeMethod`): the token comes from the `x-csrf-token` header or the body
 *   field `_csrf` (parse the body first, e.g. `express.urlencoded({ extended: false, limit: '16kb' })`).
 *   Missing or invalid → 403 `{error: 'csrf-token-invalid'}`. On success it sets
 *   `res.locals.csrfVerified = true`, which ./token-auth.ts reads: HTTP Basic credentials (cached
 *   by browsers and resent to any page of this origin) authorise a write only with a valid token,
 *   so mount `csrfProtection` BEFORE `tokenAuth` on a form route.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { isSafeMethod } from './origin-check.js';

export interface CsrfTokens {
  issue(): string;
  verify(token: string | undefined): boolean;
}

/** Options of {@link createCsrfTokens}. */
export interface CsrfTokenOptions {
  /** HMAC key. @defaultValue 32 random bytes (valid for this process only) */
  secret?: Buffer;
  /** Lifetime of a token. @defaultValue 2 hours */
  ttlMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

export function createCsrfTokens(options: CsrfTokenOptions = {}): CsrfTokens {
  const secret = options.secret ?? randomBytes(32);
  const ttlMs = options.ttlMs ?? 2 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const mac = (issuedAt: string): Buffer => createHmac('sha256', secret).update(`rotator-csrf|${issuedAt}`).digest();
  return {
    issue() {
      const issuedAt = now().toString(36);
      return `${issuedAt}.${mac(issuedAt).toString('base64url')}`;
    },
    verify(token) {
      if (typeof token !== 'string' || token.length > 200) return false;
      const [issuedAt, signature, extra] = token.split('.');
      if (issuedAt === undefined || signature === undefined || extra !== undefined || !/^[0-9a-z]{1,12}$/.test(issuedAt)) return false;
      const presented = Buffer.from(signature, 'base64url');
      const expected = mac(issuedAt);
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return false;
      const age = now() - parseInt(issuedAt, 36);
      return age >= 0 && age <= ttlMs;
    },
  };
}

/** Options of {@link csrfProtection}. */
export interface CsrfProtectionOptions {
  /** Body field holding the token. @defaultValue `_csrf` */
  field?: string;
  /** Header holding the token. @defaultValue `x-csrf-token` */
  header?: string;
}

export function csrfProtection(tokens: CsrfTokens, options: CsrfProtectionOptions = {}): RequestHandler {
  const field = options.field ?? '_csrf';
  const header = options.header ?? 'x-csrf-token';
  return (req, res, next) => {
    if (isSafeMethod(req.method)) {
      next();
      return;
    }
    const body = req.body as Record<string, unknown> | undefined;
    const fromBody = body !== undefined && typeof body === 'object' ? body[field] : undefined;
    const token = req.get(header) ?? (typeof fromBody === 'string' ? fromBody : undefined);
    if (!tokens.verify(token)) {
      res.status(403).json({ error: 'csrf-token-invalid', message: 'a valid CSRF token is required (reload the page and submit again)' });
      return;
    }
    res.locals.csrfVerified = true;
    next();
  };
}
