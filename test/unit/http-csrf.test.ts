/**
 * CSRF tokens for HTML forms (src/http/csrf.ts), as the status page's "rotate now" form will use
 * them: a form post with Basic credentials passes only with a valid, unexpired token; a Bearer
 * write needs none. Real express app on port 0.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createCsrfTokens, csrfProtection } from '../../src/http/csrf.js';
import { tokenAuth } from '../../src/http/token-auth.js';
import { rawRequest } from '../helpers/raw-http.js';

const TOKEN = 'a-long-enough-test-token-0123456789';
const BASIC = `Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}`;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('createCsrfTokens', () => {
  it('verifies its own tokens until they expire, and nothing else', () => {
    let now = 1_800_000_000_000;
    const tokens = createCsrfTokens({ ttlMs: 60_000, now: () => now });
    const token = tokens.issue();
    expect(tokens.verify(token)).toBe(true);
    expect(tokens.verify(undefined)).toBe(false);
    expect(tokens.verify('')).toBe(false);
    expect(tokens.verify(`${token}x`)).toBe(false);
    expect(tokens.verify(token.replace(/^[0-9a-z]+/, (t) => (parseInt(t, 36) + 1).toString(36)))).toBe(false);
    expect(createCsrfTokens({ now: () => now }).verify(token)).toBe(false);
    now += 60_001;
    expect(tokens.verify(token)).toBe(false);
  });

  it('shares tokens between replicas given the same secret', () => {
    const secret = Buffer.alloc(32, 1);
    expect(createCsrfTokens({ secret }).verify(createCsrfTokens({ secret }).issue())).toBe(true);
  });
});

describe('csrfProtection with tokenAuth on a form route', () => {
  async function serve() {
    const tokens = createCsrfTokens();
    const app = express();
    let posted = 0;
    app.post('/form', express.urlencoded({ extended: false, limit: '16kb' }), csrfProtection(tokens), tokenAuth(TOKEN), (_req, res) => {
      posted++;
      res.status(303).set('Location', '/').end();
    });
    app.post('/api', tokenAuth(TOKEN), (_req, res) => {
      posted++;
      res.status(202).end();
    });
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens, posted: () => posted };
  }
  const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: BASIC };

  it('accepts a Basic form post with a valid token, refuses it without one or with a forged one', async () => {
    const { base, tokens, posted } = await serve();
    expect((await rawRequest(`${base}/form`, { method: 'POST', headers: form, body: 'target=web' })).status).toBe(403);
    expect((await rawRequest(`${base}/form`, { method: 'POST', headers: form, body: 'target=web&_csrf=1.AAAA' })).status).toBe(403);
    expect(posted()).toBe(0);
    const ok = await rawRequest(`${base}/form`, { method: 'POST', headers: form, body: `target=web&_csrf=${encodeURIComponent(tokens.issue())}` });
    expect(ok.status).toBe(303);
    expect(posted()).toBe(1);
  });

  it('without the CSRF middleware, Basic never authorises a write; Bearer does', async () => {
    const { base, posted } = await serve();
    const basic = await rawRequest(`${base}/api`, { method: 'POST', headers: { authorization: BASIC } });
    expect(basic.status).toBe(403);
    expect(JSON.parse(basic.body).error).toBe('bearer-required');
    expect((await rawRequest(`${base}/api`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    expect(posted()).toBe(1);
  });
});
