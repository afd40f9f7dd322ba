/**
 * CSRF protection of the status page's forms (the only state-changing HTML). Needed because the
 * browser resends HTTP Basic credentials on any request to the origin, including a form another
 * site makes it submit. Two independent checks:
 * 1. fetch metadata / Origin: a request marked cross-site (`Sec-Fetch-Site`), or whose `Origin` is not
 *    this host, is refused;
 * 2. a token in the form: `<issued-at>.<HMAC-SHA256(key, "<issued-at>.<action>")>`, valid for
 *    `maxAgeMs`, bound to the form's action. The key is derived from the HTTP auth token, so every
 *    dashboard replica accepts the others' tokens and another site, which cannot read our pages,
 *    cannot make one.
 * Unlike ./csrf.ts (one token for any form of the process), a token here is bound to one form's
 * action and keyed from the HTTP token, so dashboard replicas accept each other's tokens.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

export interface CsrfGuard {
  /** A token for a form posting to `action` (a path such as `/targets/web/rotate`). */
  issue(action: string): string;
  /** Why the request must be refused, or undefined when it passes both checks. */
  problem(req: Request, action: string, token: unknown): string | undefined;
}

export function createCsrfGuard(options: { secret: string; now: () => number; maxAgeMs?: number }): CsrfGuard {
  const key = createHmac('sha256', options.secret).update('rotator csrf key v1').digest();
  const maxAgeMs = options.maxAgeMs ?? 3_600_000;
  const mac = (issuedAt: string, action: string): string => createHmac('sha256', key).update(`${issuedAt}.${action}`).digest('base64url');
  return {
    issue(action) {
      const issuedAt = String(options.now());
      return `${issuedAt}.${mac(issuedAt, action)}`;
    },
    problem(req, action, token) {
      const site = req.get('sec-fetch-site');
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return `cross-site request refused (Sec-Fetch-Site: ${site})`;
      const origin = req.get('origin');
      if (origin !== undefined && origin !== 'null') {
        let host: string | undefined;
        try {
          host = new URL(origin).host;
        } catch {
          host = undefined;
        }
        if (host !== req.get('host')) return 'cross-origin request refused (Origin does not match Host)';
      } else if (origin === 'null') return 'request from an opaque origin refused';
      if (typeof token !== 'string' || token === '') return 'the form has no CSRF token: reload the page and submit again';
      const [issuedAt = '', given = ''] = token.split('.', 2);
      const age = options.now() - Number(issuedAt);
      const expected = Buffer.from(mac(issuedAt, action));
      const presented = Buffer.from(given);
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'the CSRF token is not valid for this form';
      if (!Number.isFinite(age) || age < -60_000 || age > maxAgeMs) return 'the CSRF token has expired: reload the page and submit again';
      return undefined;
    },
  };
}
