/** The status page's CSRF guard: tokens bound to the form and the HTTP token, with an age limit; cross-site requests refused. */
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { createCsrfGuard } from '../../src/http/status-form-csrf.js';

function request(headers: Record<string, string>): Request {
  const lower = Object.fromEntries(Object.entries({ host: 'rotator.internal:8080', ...headers }).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (name: string) => lower[name.toLowerCase()] } as unknown as Request;
}

describe('CSRF guard', () => {
  let now = 1_000_000;
  const guard = createCsrfGuard({ secret: 'http-token-of-this-deployment', now: () => now, maxAgeMs: 60_000 });

  it('accepts its own token for the same form, same origin', () => {
    const token = guard.issue('/targets/web/rotate');
    expect(guard.problem(request({ origin: 'http://rotator.internal:8080', 'sec-fetch-site': 'same-origin' }), '/targets/web/rotate', token)).toBeUndefined();
    expect(guard.problem(request({}), '/targets/web/rotate', token)).toBeUndefined();
  });

  it('refuses a token of another form, of another deployment, forged, missing or expired', () => {
    const token = guard.issue('/targets/web/rotate');
    expect(guard.problem(request({}), '/targets/db/rotate', token)).toBe('the CSRF token is not valid for this form');
    const other = createCsrfGuard({ secret: 'another-deployment-token', now: () => now }).issue('/targets/web/rotate');
    expect(guard.problem(request({}), '/targets/web/rotate', other)).toBe('the CSRF token is not valid for this form');
    expect(guard.problem(request({}), '/targets/web/rotate', `${now}.forged`)).toBe('the CSRF token is not valid for this form');
    expect(guard.problem(request({}), '/targets/web/rotate', undefined)).toMatch(/no CSRF token/);
    now += 61_000;
    expect(guard.problem(request({}), '/targets/web/rotate', token)).toMatch(/expired/);
  });

  it('refuses cross-site requests even with a valid token', () => {
    const token = guard.issue('/targets/web/rotate');
    expect(guard.problem(request({ 'sec-fetch-site': 'cross-site' }), '/targets/web/rotate', token)).toMatch(/cross-site/);
    expect(guard.problem(request({ 'sec-fetch-site': 'same-site' }), '/targets/web/rotate', token)).toMatch(/cross-site/);
    expect(guard.problem(request({ origin: 'https://evil.example' }), '/targets/web/rotate', token)).toMatch(/Origin does not match/);
    expect(guard.problem(request({ origin: 'null' }), '/targets/web/rotate', token)).toMatch(/opaque origin/);
  });
});
