import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  canonicalRequest,
  parseAuthorization,
  signature,
  stringToSign,
} from '../../src/adapters/huawei-ecs/signer.js';
import { EcsApiError } from '../../src/adapters/huawei-ecs/ecs-api-error.js';
import { LIST_READ_AHEAD, MAX_LIST_PASSES } from '../../src/adapters/huawei-ecs/huawei-ecs-client.js';
import { DEFAULT_ECS_RETRY_POLICY } from '../../src/adapters/huawei-ecs/retry-policy.js';
import type { Harness, RecordedRequest } from './ecs-http-harness.js';
import {
  AK,
  PROJECT_ID,
  SK,
  hang,
  huaweiServer,
  json,
  makeClient,
  raw,
  resetConnection,
  startHarness,
} from './ecs-http-harness.js';

const PASSWORD = 'Zq8!mK2@vR5-pL9=xT3w';
const IDS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
const RESET_PATH = `/v1/${PROJECT_ID}/cloudservers/os-reset-passwords`;

let harness: Harness;
beforeEach(async () => {
  harness = await startHarness();
});
afterEach(async () => {
  await harness.close();
});

/** Recomputes the signature from the request as the server received it, as Huawei's gateway does. */
function verifySignature(req: RecordedRequest): boolean {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth || auth.accessKey !== AK) return false;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
  const canonical = canonicalRequest(
    { method: req.method, path: req.rawUrl.split('?')[0]!, query: req.query, headers, body: req.body },
    auth.signedHeaders,
  );
  return signature(SK, stringToSign(headers['x-sdk-date']!, canonical)) === auth.signature;
}

/** Everything a caller could print about an error: none of it may contain a secret. */
function everyRendering(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 10; depth += 1) {
    parts.push(JSON.stringify(current), inspect(current, { depth: 10, showHidden: true }), String(current));
    if (current instanceof Error) {
      parts.push(current.stack ?? '', current.message);
      current = current.cause;
    } else current = undefined;
  }
  return parts.join('\n');
}

async function catchError(promise: Promise<unknown>): Promise<EcsApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(EcsApiError);
    return error as EcsApiError;
  }
  throw new Error('expected the call to fail');
}

describe('batchResetPasswords', () => {
  it('sends one signed PUT with the password and every id, and classifies a full 200 as accepted', async () => {
    harness.script.push(json(200, { response: IDS.map((id) => ({ id })) }, { 'X-Request-Id': 'rid-ok' }));
    const { client } = makeClient(harness);
    const result = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(result).toEqual({ results: IDS.map((serverId) => ({ serverId, kind: 'accepted' })), requestId: 'rid-ok' });

    expect(harness.requests).toHaveLength(1);
    const req = harness.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.path).toBe(RESET_PATH);
    expect(JSON.parse(req.body.toString())).toEqual({ new_password: PASSWORD, dry_run: false, servers: IDS.map((id) => ({ id })) });
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-project-id']).toBe(PROJECT_ID);
    expect(req.headers.host).toBe(new URL(harness.url).host);
    expect(req.headers['x-sdk-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(parseAuthorization(req.headers.authorization)?.signedHeaders).toEqual(['content-type', 'host', 'x-project-id', 'x-sdk-date']);
    expect(verifySignature(req)).toBe(true);
    client.close();
  });

  it('a signature check fails when the body is changed (the verifier is not vacuous)', async () => {
    harness.script.push(json(200, { response: [{ id: IDS[0] }] }));
    const { client } = makeClient(harness);
    await client.batchResetPasswords({ password: PASSWORD, serverIds: [IDS[0]!] });
    const req = harness.requests[0]!;
    expect(verifySignature({ ...req, body: Buffer.from(req.body.toString().replace(PASSWORD, 'Other!Pass123')) })).toBe(false);
    client.close();
  });

  it('dry run sends dry_run true and omits the password when none is given', async () => {
    harness.script.push(json(200, { response: IDS.map((id) => ({ id })) }));
    const { client } = makeClient(harness);
    await client.batchResetPasswords({ password: undefined, serverIds: IDS, dryRun: true });
    expect(JSON.parse(harness.requests[0]!.body.toString())).toEqual({ dry_run: true, servers: IDS.map((id) => ({ id })) });
    await expect(client.batchResetPasswords({ password: undefined, serverIds: IDS })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    client.close();
  });

  it('200 with a subset: the listed servers are accepted, the others unknown', async () => {
    harness.script.push(json(200, { response: [{ id: IDS[1] }] }));
    const { client } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.map((r) => [r.serverId, r.kind])).toEqual([
      [IDS[0], 'unknown'],
      [IDS[1], 'accepted'],
      [IDS[2], 'unknown'],
    ]);
    expect(results[0]).toMatchObject({ code: 'NOT_IN_RESPONSE' });
    client.close();
  });

  it('400 with internalError: listed servers rejected with their own codes, unlisted ones unknown', async () => {
    harness.script.push(
      json(400, {
        error: { code: 'Ecs.0611', message: 'batch operation failed' },
        internalError: [
          { id: IDS[0], error_code: 'Ecs.0613', error_message: 'plug-in not installed' },
          { id: IDS[2], error_code: 'Ecs.0605', error_message: 'server locked' },
        ],
      }, { 'X-Request-Id': 'rid-partial' }),
    );
    const { client } = makeClient(harness);
    const result = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(result.requestId).toBe('rid-partial');
    expect(result.results).toEqual([
      { serverId: IDS[0], kind: 'rejected', code: 'Ecs.0613', message: 'plug-in not installed' },
      { serverId: IDS[1], kind: 'unknown', code: 'Ecs.0611', message: expect.stringContaining('not listed') },
      { serverId: IDS[2], kind: 'rejected', code: 'Ecs.0605', message: 'server locked' },
    ]);
    expect(harness.requests).toHaveLength(1);
    client.close();
  });

  it.each([
    ['Ecs.0011', 'password does not meet the rules'],
    ['Ecs.0100', 'server status does not allow it'],
  ])('400 %s without internalError rejects every server with that code, without retrying', async (code, message) => {
    harness.script.push(json(400, { error: { code, message } }));
    const { client } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results).toEqual(IDS.map((serverId) => ({ serverId, kind: 'rejected', code, message })));
    expect(harness.requests).toHaveLength(1);
    client.close();
  });

  it('429 with Retry-After waits exactly that long, then resends the same bytes, signed afresh', async () => {
    harness.script.push(
      json(429, { error_code: 'APIGW.0308', error_msg: 'throttled', request_id: 'gw-1' }, { 'Retry-After': '2' }),
      json(200, { response: IDS.map((id) => ({ id })) }),
    );
    const { client, clock, logs } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.every((r) => r.kind === 'accepted')).toBe(true);
    expect(clock.sleeps).toEqual([2000]);
    const [first, second] = harness.requests;
    expect(second!.body.equals(first!.body)).toBe(true);
    expect(verifySignature(first!) && verifySignature(second!)).toBe(true);
    const logged = logs();
    expect(logged).toContain('APIGW.0308');
    expect(logged).not.toContain(PASSWORD);
    client.close();
  });

  it('429 without Retry-After backs off with jitter; 500, 502, 503 are retried with growing delays', async () => {
    harness.script.push(
      json(429, { error_code: 'APIGW.0308', error_msg: 'throttled', request_id: 'gw-2' }),
      json(500, { error: { code: 'Common.0001', message: 'internal error' } }),
      raw(502, '<html><body>Bad Gateway</body></html>', { 'Content-Type': 'text/html' }),
      json(503, { error: { code: 'Common.1503', message: 'flow control' } }),
      json(200, { response: IDS.map((id) => ({ id })) }),
    );
    const { client, clock } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.every((r) => r.kind === 'accepted')).toBe(true);
    // The harness's random source draws the top of each range: the ceilings 0.5, 1, 2, 4 s.
    expect(clock.sleeps).toEqual([500, 1000, 2000, 4000]);
    expect(new Set(harness.requests.map((r) => r.body.toString())).size).toBe(1);
    client.close();
  });

  it('a connection reset is a retryable network error', async () => {
    harness.script.push(resetConnection, json(200, { response: IDS.map((id) => ({ id })) }));
    const { client, logs } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.every((r) => r.kind === 'accepted')).toBe(true);
    expect(harness.requests).toHaveLength(2);
    expect(logs()).toContain('ECONNRESET');
    client.close();
  });

  it('a hang past the timeout is abandoned and retried, and the retry succeeds', async () => {
    harness.script.push(hang, json(200, { response: IDS.map((id) => ({ id })) }));
    const { client, logs } = makeClient(harness, { timeoutMs: 300 });
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.every((r) => r.kind === 'accepted')).toBe(true);
    expect(harness.requests).toHaveLength(2);
    expect(logs()).toContain('"code":"TIMEOUT"');
    client.close();
  });

  describe('a refusal of a resend, after an attempt Huawei may have carried out', () => {
    // Huawei applies a reset, then its answer is lost (a timeout, a reset connection, a 5xx after
    // processing); the resend is refused because of the first attempt (the server is now locked,
    // busy, in another state). Called "rejected", the pending password would be dropped while it
    // may be the one in effect (invariant 1), and an Ecs.0011 would regenerate a second password
    // (invariant 3).
    const refusal = json(200, {
      response: [{ id: IDS[0] }],
      internalError: [
        { id: IDS[1], error_code: 'Ecs.0605', error_msg: 'locked' },
        { id: IDS[2], error_code: 'Ecs.0612', error_msg: 'plug-in check failed' },
      ],
    });
    const outcome = (results: { kind: string; code?: string }[]) => results.map((r) => `${r.kind}${r.kind === 'accepted' ? '' : `:${r.code}`}`);

    it('a timeout, then per-server refusals: unknown (REFUSED_AFTER_UNCERTAIN_ATTEMPT), the accepted one accepted', async () => {
      harness.script.push(hang, refusal);
      const { client } = makeClient(harness, { timeoutMs: 200 });
      const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
      expect(harness.requests).toHaveLength(2);
      expect(outcome(results)).toEqual(['accepted', 'unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT', 'unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT']);
      // Huawei's own code stays readable in the message.
      expect(results[1]).toMatchObject({ message: expect.stringContaining('Ecs.0605') });
      client.close();
    });

    it('a reset connection, then per-server refusals: unknown', async () => {
      harness.script.push(resetConnection, refusal);
      const { client } = makeClient(harness);
      const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
      expect(outcome(results).slice(1)).toEqual(['unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT', 'unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT']);
      client.close();
    });

    it('a 500, then a whole-call 400 (Ecs.0100, or Ecs.0011 which would regenerate): every server unknown', async () => {
      for (const code of ['Ecs.0100', 'Ecs.0011']) {
        harness.script.push(json(500, { error: { code: 'Common.0001', message: 'internal error' } }), json(400, { error: { code, message: 'refused' } }));
        const { client } = makeClient(harness);
        const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
        expect(outcome(results)).toEqual(IDS.map(() => 'unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT'));
        client.close();
      }
    });

    it('a throttled attempt (429: Huawei did not take it), then refusals: rejected as before', async () => {
      harness.script.push(json(429, { error_code: 'APIGW.0308', error_msg: 'throttled', request_id: 'r' }), refusal);
      const { client } = makeClient(harness);
      const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
      expect(outcome(results)).toEqual(['accepted', 'rejected:Ecs.0605', 'rejected:Ecs.0612']);
      client.close();
    });

    it('a dry run changes nothing: its refusals after a 500 stay rejected', async () => {
      harness.script.push(json(500, { error: { code: 'Common.0001', message: 'internal error' } }), refusal);
      const { client } = makeClient(harness);
      const { results } = await client.batchResetPasswords({ password: undefined, serverIds: IDS, dryRun: true });
      expect(outcome(results)).toEqual(['accepted', 'rejected:Ecs.0605', 'rejected:Ecs.0612']);
      client.close();
    });
  });

  it('retries exhausted: every server unknown with the last code', async () => {
    harness.fallback = json(503, { error: { code: 'Common.1503', message: 'flow control' } }, { 'X-Request-Id': 'rid-503' });
    const { client } = makeClient(harness);
    const result = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(harness.requests).toHaveLength(DEFAULT_ECS_RETRY_POLICY.maxAttempts);
    expect(result.results.map((r) => [r.kind, r.kind === 'accepted' ? '' : r.code])).toEqual(IDS.map(() => ['unknown', 'Common.1503']));
    expect(result.requestId).toBe('rid-503');
    client.close();
  });

  it('timeouts on every attempt: every server unknown with TIMEOUT', async () => {
    harness.fallback = hang;
    const { client } = makeClient(harness, { timeoutMs: 100, retry: { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: 2 } });
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results).toEqual(IDS.map((serverId) => ({ serverId, kind: 'unknown', code: 'TIMEOUT', message: expect.any(String) })));
    client.close();
  });

  it.each([
    ['HTML', raw(200, '<html>maintenance</html>', { 'Content-Type': 'text/html' })],
    ['empty', raw(200, '')],
    ['truncated JSON', raw(200, '{"response": [{"id": "1111', { 'Content-Type': 'application/json' })],
    ['wrong shape', json(200, { response: 'yes' })],
  ])('a 200 with a %s body: every server unknown (BAD_RESPONSE), never a crash', async (_name, responder) => {
    harness.script.push(responder);
    const { client } = makeClient(harness);
    const { results } = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(results.map((r) => [r.kind, r.kind === 'accepted' ? '' : r.code])).toEqual(IDS.map(() => ['unknown', 'BAD_RESPONSE']));
    expect(harness.requests).toHaveLength(1);
    client.close();
  });

  it('a 400 with an empty or HTML body: unknown, not rejected (nothing says Huawei refused it)', async () => {
    harness.script.push(raw(400, ''), raw(400, '<html>proxy error</html>'));
    const { client } = makeClient(harness);
    const a = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(a.results[0]).toMatchObject({ kind: 'unknown', code: 'HTTP_400' });
    const b = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(b.results[0]).toMatchObject({ kind: 'unknown', code: 'BAD_RESPONSE' });
    client.close();
  });

  it.each([
    [401, { error_code: 'APIGW.0301', error_msg: 'Incorrect IAM authentication information: verify aksk signature fail', request_id: 'gw-401' }, 'APIGW.0301'],
    [401, { error_code: 'APIGW.0307', error_msg: 'token expired', request_id: 'gw-401b' }, 'APIGW.0307'],
    [403, { error: { code: 'Ecs.0003', message: 'not permitted' } }, 'Ecs.0003'],
    [400, { error: { code: 'Ecs.0118', message: 'too many servers' } }, 'Ecs.0118'],
    [400, { error: { code: 'Ecs.0005', message: 'invalid parameter' } }, 'Ecs.0005'],
  ])('HTTP %s %j throws without retrying', async (status, body, code) => {
    harness.fallback = json(status, body);
    const { client } = makeClient(harness);
    const error = await catchError(client.batchResetPasswords({ password: PASSWORD, serverIds: IDS }));
    expect(error).toMatchObject({ code, httpStatus: status, retryable: false });
    expect(harness.requests).toHaveLength(1);
    client.close();
  });

  it('reads the request id from the gateway body when there is no X-Request-Id header', async () => {
    harness.fallback = raw(401, JSON.stringify({ error_code: 'APIGW.0301', error_msg: 'bad signature', request_id: 'gw-body-id' }));
    const { client } = makeClient(harness);
    const error = await catchError(client.getServer(IDS[0]!));
    expect(error).toMatchObject({ code: 'APIGW.0301', requestId: 'gw-body-id', huaweiMessage: 'bad signature' });
    expect(error.message).toContain('gw-body-id');
    client.close();
  });

  it('refuses 0 or more than 1000 servers, and duplicates, before sending anything', async () => {
    const { client } = makeClient(harness);
    const many = Array.from({ length: 1001 }, (_, i) => `id-${i}`);
    await expect(client.batchResetPasswords({ password: PASSWORD, serverIds: many })).rejects.toMatchObject({ code: 'BATCH_TOO_LARGE', retryable: false });
    await expect(client.batchResetPasswords({ password: PASSWORD, serverIds: [] })).rejects.toMatchObject({ code: 'BATCH_EMPTY', retryable: false });
    await expect(client.batchResetPasswords({ password: PASSWORD, serverIds: ['a', 'a'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(harness.requests).toHaveLength(0);
    client.close();
  });

  it('an aborted call rejects with ABORTED and stops retrying', async () => {
    harness.fallback = hang;
    const { client } = makeClient(harness, { timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = client.batchResetPasswords({ password: PASSWORD, serverIds: IDS }, { signal: controller.signal });
    await waitFor(() => harness.requests.length === 1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', retryable: false });
    expect(harness.requests).toHaveLength(1);
    client.close();
  });
});

describe('no password or credential anywhere', () => {
  it('errors, causes, results and log lines of failing calls never contain the password, the SK or the signature', async () => {
    // A hostile server: echoes the password in its messages and internalError, then fails every way.
    const echo = `new_password ${PASSWORD} is invalid`;
    harness.script.push(
      json(400, { error: { code: 'Ecs.0011', message: echo } }),
      json(400, { error: { code: 'Ecs.0611', message: echo }, internalError: [{ id: IDS[0], error_code: 'Ecs.0610', error_message: echo }] }),
      resetConnection,
      raw(503, `<html>${PASSWORD}</html>`),
      hang,
      json(500, { error: { code: 'Common.0001', message: echo } }),
      json(401, { error_code: 'APIGW.0301', error_msg: echo, request_id: 'gw-x' }),
      json(403, { error: { code: 'Ecs.0003', message: echo } }),
    );
    const { client, logs } = makeClient(harness, { timeoutMs: 300, retry: { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: 4 } });
    const rendered: string[] = [];
    const r1 = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    const r2 = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    const r3 = await client.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    rendered.push(JSON.stringify([r1, r2, r3]), inspect([r1, r2, r3], { depth: 10 }));
    expect(r1.results[0]).toMatchObject({ kind: 'rejected', code: 'Ecs.0011' });
    expect(r2.results[0]).toMatchObject({ kind: 'rejected', code: 'Ecs.0610' });
    expect(r3.results[0]).toMatchObject({ kind: 'unknown', code: 'Common.0001' });
    const e401 = await catchError(client.batchResetPasswords({ password: PASSWORD, serverIds: IDS }));
    const e403 = await catchError(client.batchResetPasswords({ password: PASSWORD, serverIds: IDS }));
    rendered.push(everyRendering(e401), everyRendering(e403));
    // A network error keeps its cause: check the chain too.
    harness.script.push(resetConnection);
    const { client: once } = makeClient(harness, { retry: { ...DEFAULT_ECS_RETRY_POLICY, maxAttempts: 1 } });
    const r4 = await once.batchResetPasswords({ password: PASSWORD, serverIds: IDS });
    expect(r4.results[0]).toMatchObject({ kind: 'unknown', code: 'ECONNRESET' });
    harness.script.push(resetConnection);
    const eNet = await catchError(once.getServer(IDS[0]!));
    expect(eNet.cause).toBeDefined();
    rendered.push(everyRendering(eNet), JSON.stringify(r4));
    // Even a client printed by mistake shows no credential.
    rendered.push(inspect(client, { depth: 10, showHidden: true }), JSON.stringify(client), inspect(once, { depth: 10 }));
    const all = rendered.join('\n') + logs();
    expect(all).toContain('[REDACTED]');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(SK);
    expect(all).not.toMatch(/Signature=[0-9a-f]{64}/);
    expect(all).not.toContain('SDK-HMAC-SHA256 Access');
    client.close();
    once.close();
  });
});

describe('listServers', () => {
  it('pages with offset as a page number until offset*limit >= count (total not a multiple of the page size)', async () => {
    const all = Array.from({ length: 7 }, (_, i) => huaweiServer(`srv-${i}`));
    harness.fallback = (req, res) => {
      const limit = Number(new URLSearchParams(req.query).get('limit'));
      const page = Number(new URLSearchParams(req.query).get('offset'));
      json(200, { count: all.length, servers: all.slice((page - 1) * limit, page * limit) })(req, res);
    };
    const { client } = makeClient(harness);
    const ids: string[] = [];
    for await (const s of client.listServers({}, { pageSize: 3 })) ids.push(s.id);
    expect(ids).toEqual(all.map((s) => s.id));
    // Pages 2 and 3 are read ahead together once page 1 gave the count: any arrival order.
    expect(harness.requests.map((r) => new URLSearchParams(r.query).get('offset')).sort()).toEqual(['1', '2', '3']);
    expect(harness.requests.every(verifySignature)).toBe(true);
    client.close();
  });

  it('a server removed while the listing runs shifts the pages: the listing is read again, and no server is missed (found in review, 2026-12-02)', async () => {
    const fleet = Array.from({ length: 5 }, (_, i) => huaweiServer(`srv-${i + 1}`));
    let pageOneServed = false;
    harness.fallback = (req, res) => {
      const limit = Number(new URLSearchParams(req.query).get('limit'));
      const page = Number(new URLSearchParams(req.query).get('offset'));
      // srv-1 is deleted right after the first page was served: srv-3 moves onto page 1.
      if (page === 1 && !pageOneServed) pageOneServed = true;
      else if (fleet[0]!.id === 'srv-1') fleet.shift();
      json(200, { count: fleet.length, servers: fleet.slice((page - 1) * limit, page * limit) })(req, res);
    };
    const { client } = makeClient(harness);
    const ids: string[] = [];
    for await (const s of client.listServers({}, { pageSize: 2 })) ids.push(s.id);
    expect(ids.sort()).toEqual(['srv-1', 'srv-2', 'srv-3', 'srv-4', 'srv-5']);
    expect(new Set(ids).size).toBe(ids.length);
    client.close();
  });

  it(`a fleet that keeps changing is listed at most ${MAX_LIST_PASSES} times, with a warning`, async () => {
    let total = 10;
    harness.fallback = (req, res) => {
      const limit = Number(new URLSearchParams(req.query).get('limit'));
      const page = Number(new URLSearchParams(req.query).get('offset'));
      total += 1; // a new server on every request
      const all = Array.from({ length: total }, (_, i) => huaweiServer(`srv-${i}`));
      json(200, { count: total, servers: all.slice((page - 1) * limit, page * limit) })(req, res);
    };
    const { client, logs } = makeClient(harness);
    const ids: string[] = [];
    for await (const s of client.listServers({}, { pageSize: 5 })) ids.push(s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(harness.requests.filter((r) => new URLSearchParams(r.query).get('offset') === '1')).toHaveLength(MAX_LIST_PASSES);
    expect(logs()).toContain('kept changing while it was listed');
    client.close();
  });

  it(`reads up to ${LIST_READ_AHEAD} pages ahead, yields them in order, and never asks past the count`, async () => {
    const all = Array.from({ length: 95 }, (_, i) => huaweiServer(`srv-${String(i).padStart(3, '0')}`));
    let inFlight = 0;
    let mostInFlight = 0;
    harness.fallback = (req, res) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      const limit = Number(new URLSearchParams(req.query).get('limit'));
      const page = Number(new URLSearchParams(req.query).get('offset'));
      // Later pages answer sooner: order must come from the page number, not from arrival.
      setTimeout(() => {
        inFlight--;
        json(200, { count: all.length, servers: all.slice((page - 1) * limit, page * limit) })(req, res);
      }, 40 - page * 3);
    };
    const { client } = makeClient(harness);
    const ids: string[] = [];
    for await (const s of client.listServers({}, { pageSize: 10 })) ids.push(s.id);
    expect(ids).toEqual(all.map((s) => s.id));
    const offsets = harness.requests.map((r) => Number(new URLSearchParams(r.query).get('offset')));
    expect(offsets.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(LIST_READ_AHEAD);
    client.close();
  });

  it('stops at the first failed page: the error surfaces in order, after the pages before it', async () => {
    const all = Array.from({ length: 30 }, (_, i) => huaweiServer(`srv-${i}`));
    harness.fallback = (req, res) => {
      const limit = Number(new URLSearchParams(req.query).get('limit'));
      const page = Number(new URLSearchParams(req.query).get('offset'));
      if (page === 2) json(403, { error: { code: 'Ecs.0302', message: 'denied' } })(req, res);
      else json(200, { count: all.length, servers: all.slice((page - 1) * limit, page * limit) })(req, res);
    };
    const { client } = makeClient(harness);
    const ids: string[] = [];
    await expect((async () => {
      for await (const s of client.listServers({}, { pageSize: 10 })) ids.push(s.id);
    })()).rejects.toMatchObject({ httpStatus: 403 });
    expect(ids).toEqual(all.slice(0, 10).map((s) => s.id));
    client.close();
  });

  it('stops on an empty page even if count promises more', async () => {
    harness.script.push(json(200, { count: 50, servers: [huaweiServer('a')] }));
    harness.fallback = json(200, { count: 50, servers: [] });
    const { client } = makeClient(harness);
    const ids: string[] = [];
    for await (const s of client.listServers({}, { pageSize: 1 })) ids.push(s.id);
    expect(ids).toEqual(['a']);
    // Page 2 (empty) ends it; pages 3.. may have been read ahead, but no further.
    expect(harness.requests.length).toBeGreaterThanOrEqual(2);
    expect(harness.requests.length).toBeLessThanOrEqual(1 + LIST_READ_AHEAD);
    client.close();
  });

  it('maps Huawei fields and sends filters percent-encoded, signed as sent', async () => {
    harness.script.push(
      json(200, {
        count: 3,
        servers: [
          huaweiServer('w1', { name: 'web 01', metadata: { os_type: 'Windows' }, tags: ['env=prod', 'team=a&b', 'flag'], locked: true, enterprise_project_id: 'ep-1' }),
          huaweiServer('x1', { metadata: {}, tags: ['env=prod', 'team=a&b'], status: 'SHUTOFF' }),
          // Huawei may treat several tags as OR: the client keeps only servers matching all.
          huaweiServer('y1', { tags: ['env=prod'] }),
        ],
      }),
    );
    const { client } = makeClient(harness);
    const servers = [];
    for await (const s of client.listServers({ tags: { env: 'prod', team: 'a&b' }, name: 'web 01/ä', status: 'ACTIVE', enterpriseProjectId: 'ep-1' })) {
      servers.push(s);
    }
    expect(servers).toEqual([
      { id: 'w1', name: 'web 01', status: 'ACTIVE', osType: 'Windows', tags: { env: 'prod', team: 'a&b', flag: '' }, locked: true, enterpriseProjectId: 'ep-1' },
      { id: 'x1', name: 'ecs-x1', status: 'SHUTOFF', osType: undefined, tags: { env: 'prod', team: 'a&b' }, locked: false, enterpriseProjectId: '0' },
    ]);
    const req = harness.requests[0]!;
    expect(req.rawUrl).toContain('tags=env%3Dprod');
    expect(req.rawUrl).toContain('tags=team%3Da%26b');
    expect(req.rawUrl).toContain('name=web%2001%2F%C3%A4');
    expect(req.query).toEqual(
      expect.arrayContaining([['tags', 'team=a&b'], ['name', 'web 01/ä'], ['status', 'ACTIVE'], ['enterprise_project_id', 'ep-1'], ['limit', '100'], ['offset', '1']]),
    );
    expect(verifySignature(req)).toBe(true);
    client.close();
  });

  it('a malformed answer is a BAD_RESPONSE naming the field', async () => {
    harness.script.push(json(200, { count: 2, servers: [huaweiServer('a'), { ...huaweiServer('b'), id: 42 }] }));
    const { client } = makeClient(harness);
    const error = await catchError((async () => {
      for await (const _ of client.listServers({})) void _;
    })());
    expect(error.code).toBe('BAD_RESPONSE');
    expect(error.message).toContain('servers[1].id');
    harness.script.push(json(200, { servers: [] }));
    const error2 = await catchError((async () => {
      for await (const _ of client.listServers({})) void _;
    })());
    expect(error2.message).toContain('count');
    client.close();
  });

  it('refuses a page size outside 1..1000', async () => {
    const { client } = makeClient(harness);
    await expect((async () => {
      for await (const _ of client.listServers({}, { pageSize: 1001 })) void _;
    })()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('pageSize') });
    client.close();
  });
});

describe('getServer, getResetPasswordFlag, batchReboot, jobs', () => {
  it('getServer maps the server; 404 from ECS is undefined; a gateway 404 throws', async () => {
    harness.script.push(
      json(200, { server: huaweiServer(IDS[0]!) }),
      json(404, { error: { code: 'Ecs.0114', message: 'not found' } }),
      json(404, { error_code: 'APIGW.0101', error_msg: 'API not found', request_id: 'gw' }),
    );
    const { client } = makeClient(harness);
    expect(await client.getServer(IDS[0]!)).toMatchObject({ id: IDS[0], osType: 'Linux', tags: { rotate: 'true', env: 'prod' } });
    expect(harness.requests[0]!.path).toBe(`/v1/${PROJECT_ID}/cloudservers/${IDS[0]}`);
    expect(await client.getServer(IDS[1]!)).toBeUndefined();
    await expect(client.getServer(IDS[2]!)).rejects.toMatchObject({ code: 'APIGW.0101', httpStatus: 404 });
    client.close();
  });

  it('getServer with a 200 HTML answer is a BAD_RESPONSE', async () => {
    harness.script.push(raw(200, '<html>login</html>', { 'Content-Type': 'text/html' }));
    const { client } = makeClient(harness);
    const error = await catchError(client.getServer(IDS[0]!));
    expect(error).toMatchObject({ code: 'BAD_RESPONSE', httpStatus: 200 });
    expect(error.message).toContain('text/html');
    client.close();
  });

  it('getResetPasswordFlag reads the "True"/"False" strings and rejects anything else', async () => {
    harness.script.push(json(200, { resetpwd_flag: 'True' }), json(200, { resetpwd_flag: 'False' }), json(200, { resetpwd_flag: true }));
    const { client } = makeClient(harness);
    expect(await client.getResetPasswordFlag(IDS[0]!)).toBe(true);
    expect(await client.getResetPasswordFlag(IDS[0]!)).toBe(false);
    await expect(client.getResetPasswordFlag(IDS[0]!)).rejects.toMatchObject({ code: 'BAD_RESPONSE', message: expect.stringContaining('resetpwd_flag') });
    expect(harness.requests[0]!.path).toBe(`/v1/${PROJECT_ID}/cloudservers/${IDS[0]}/os-resetpwd-flag`);
    client.close();
  });

  it('batchReboot posts the reboot action and returns the job id; waitForJob polls until SUCCESS', async () => {
    harness.script.push(
      json(200, { job_id: 'job-1' }),
      json(200, { job_id: 'job-1', status: 'INIT', entities: {} }),
      json(200, { job_id: 'job-1', status: 'RUNNING', entities: { sub_jobs: [{ status: 'RUNNING', entities: { server_id: IDS[0] } }] } }),
      json(200, {
        job_id: 'job-1',
        status: 'SUCCESS',
        job_type: 'batchRebootServer',
        entities: { sub_jobs_total: 1, sub_jobs: [{ status: 'SUCCESS', entities: { server_id: IDS[0] }, fail_reason: null, error_code: null }] },
      }),
    );
    const { client, clock } = makeClient(harness);
    expect(await client.batchReboot([IDS[0]!], 'SOFT')).toEqual({ jobId: 'job-1' });
    expect(JSON.parse(harness.requests[0]!.body.toString())).toEqual({ reboot: { type: 'SOFT', servers: [{ id: IDS[0] }] } });
    expect(harness.requests[0]!.path).toBe(`/v1/${PROJECT_ID}/cloudservers/action`);
    const job = await client.waitForJob('job-1', { deadlineMs: 60_000, pollIntervalMs: 500 });
    expect(job).toEqual({
      jobId: 'job-1',
      status: 'SUCCESS',
      failReason: undefined,
      errorCode: undefined,
      subJobs: [{ serverId: IDS[0], status: 'SUCCESS', failReason: undefined, errorCode: undefined }],
    });
    expect(clock.sleeps).toEqual([500, 500]);
    expect(harness.requests[1]!.path).toBe(`/v1/${PROJECT_ID}/jobs/job-1`);
    client.close();
  });

  it('waitForJob throws JOB_DEADLINE when the job outlives the deadline', async () => {
    harness.fallback = json(200, { job_id: 'job-2', status: 'RUNNING' });
    let now = 1_000_000;
    const { client } = makeClient(harness, {
      clock: { now: () => now, sleep: async (ms) => void (now += ms) },
      credentials: { kind: 'token', token: 'tok' },
    });
    await expect(client.waitForJob('job-2', { deadlineMs: 5000, pollIntervalMs: 2000 })).rejects.toMatchObject({ code: 'JOB_DEADLINE' });
    // Polls at 0, 2, 4 and 5 s (the last sleep is cut to the deadline).
    expect(harness.requests).toHaveLength(4);
    client.close();
  });

  it('token credentials send X-Auth-Token and no signature', async () => {
    harness.script.push(json(200, { resetpwd_flag: 'True' }));
    const { client } = makeClient(harness, { credentials: { kind: 'token', token: 'project-token-xyz' } });
    await client.getResetPasswordFlag(IDS[0]!);
    const req = harness.requests[0]!;
    expect(req.headers['x-auth-token']).toBe('project-token-xyz');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers['x-project-id']).toBe(PROJECT_ID);
    client.close();
  });

  it('a credentials provider is asked on every request, so a refreshed token is used without a new client', async () => {
    harness.script.push(json(200, { resetpwd_flag: 'True' }), json(200, { resetpwd_flag: 'True' }));
    let token = 'token-before-refresh';
    const { client } = makeClient(harness, { credentials: () => ({ kind: 'token', token }) });
    await client.getResetPasswordFlag(IDS[0]!);
    token = 'token-after-refresh';
    await client.getResetPasswordFlag(IDS[0]!);
    expect(harness.requests.map((r) => r.headers['x-auth-token'])).toEqual(['token-before-refresh', 'token-after-refresh']);
    client.close();
  });

  it('a provider that cannot give credentials stops a reset before anything is sent', async () => {
    const { client } = makeClient(harness, {
      credentials: () => {
        throw new Error('HUAWEI_TOKEN_FILE: /run/secrets/token does not exist');
      },
    });
    const error = await catchError(client.batchResetPasswords({ password: PASSWORD, serverIds: IDS }));
    expect(error.code).toBe('CREDENTIALS_UNAVAILABLE');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('HUAWEI_TOKEN_FILE');
    expect(harness.requests).toHaveLength(0);
    client.close();
  });

  it('a security token is sent and signed with temporary credentials', async () => {
    harness.script.push(json(200, { resetpwd_flag: 'True' }));
    const { client } = makeClient(harness, { credentials: { kind: 'aksk', accessKey: AK, secretKey: SK, securityToken: 'sts-token' } });
    await client.getResetPasswordFlag(IDS[0]!);
    const req = harness.requests[0]!;
    expect(req.headers['x-security-token']).toBe('sts-token');
    expect(parseAuthorization(req.headers.authorization)?.signedHeaders).toContain('x-security-token');
    expect(verifySignature(req)).toBe(true);
    client.close();
  });

  it('rejects a bad endpoint or project id with a clear error', () => {
    expect(() => makeClient({ ...harness, url: 'ftp://x' })).toThrow(/endpoint: expected an http\(s\) URL/);
    expect(() => makeClient({ ...harness, url: 'not a url' })).toThrow(/endpoint/);
    expect(() => makeClient({ ...harness, url: `${harness.url}/v1` })).toThrow(/no path/);
    expect(() => makeClient(harness, { projectId: '../x' })).toThrow(/projectId/);
  });
});

async function waitFor(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setImmediate(r));
}
