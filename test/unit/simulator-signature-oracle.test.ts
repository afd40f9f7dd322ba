/**
 * The simulator's gateway verification (src/simulator/gateway-auth.ts + gateway-signature.ts,
 * written from Huawei's document, not from our client's signer) against requests signed by
 * Huawei's official Node SDK signer: thousands of random requests put on the wire as the SDK's HTTP
 * client sends them must be accepted, and each with one thing tampered after signing refused.
 * The seed is printed; SIGNING_SEED=<seed> replays it.
 */
import { describe, expect, it } from 'vitest';
import { GatewayAuth, type ReceivedRequest } from '../../src/simulator/gateway-auth.js';
import { canonicalQueryOfReceived, canonicalUriOfReceived } from '../../src/simulator/gateway-signature.js';
import { parseQuery } from '../../src/simulator/http-io.js';
import {
  requestGenerator,
  sdkWireBody,
  sdkWireQuery,
  signingSeed,
  signWithOfficialSdk,
  type GeneratedRequest,
} from '../helpers/signing-oracle.js';
import { manualClock } from '../helpers/simulator-client.js';

const REQUESTS = 3000;

/** What reaches the gateway when the SDK sends `request`: WHATWG-encoded path, querystring query, lowercase header names. */
function onTheWire(request: GeneratedRequest, signedHeaders: Record<string, string>): ReceivedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signedHeaders)) headers[name.toLowerCase()] = value;
  return {
    method: request.method,
    rawPath: new URL(`${request.origin}${request.path}`).pathname,
    query: parseQuery(sdkWireQuery(request)),
    headers,
    body: sdkWireBody(request),
  };
}

function gatewayFor(request: GeneratedRequest, received: ReceivedRequest): GatewayAuth {
  return new GatewayAuth(
    [{ accessKey: request.accessKey, secretKey: request.secretKey, securityToken: received.headers['x-security-token'] }],
    [],
    received.headers['x-project-id']!,
    manualClock(request.nowMs),
  );
}

type Tamper = { name: string; apply: (r: ReceivedRequest) => ReceivedRequest };

const TAMPERS: Tamper[] = [
  { name: 'method', apply: (r) => ({ ...r, method: r.method === 'GET' ? 'DELETE' : 'GET' }) },
  { name: 'path', apply: (r) => ({ ...r, rawPath: `${r.rawPath}x` }) },
  { name: 'extra query pair', apply: (r) => ({ ...r, query: [...r.query, ['limit', '1']] }) },
  {
    name: 'query value',
    apply: (r) => (r.query.length === 0 ? { ...r, query: [['a', '']] } : { ...r, query: r.query.map(([k, v], i) => (i === 0 ? [k, `${v}~`] : [k, v])) }),
  },
  { name: 'signed header value', apply: (r) => ({ ...r, headers: { ...r.headers, 'content-type': `${r.headers['content-type']}x` } }) },
  { name: 'body', apply: (r) => ({ ...r, body: Buffer.concat([r.body, Buffer.from(' ')]) }) },
  {
    name: 'signature',
    apply: (r) => ({
      ...r,
      headers: { ...r.headers, authorization: r.headers['authorization']!.replace(/Signature=(.)/, (_m, c: string) => `Signature=${c === '0' ? '1' : '0'}`) },
    }),
  },
];

describe("the simulator's gateway verifies what Huawei's official SDK signs", () => {
  it(`accepts ${REQUESTS} random SDK-signed requests and refuses each one tampered after signing`, () => {
    const seed = signingSeed();
    console.log(`gateway verification oracle property test: seed ${seed} (replay with SIGNING_SEED=${seed})`);
    const next = requestGenerator(seed);
    const refusedBy = new Map<string, number>();
    for (let i = 0; i < REQUESTS; i += 1) {
      const request = next();
      const received = onTheWire(request, signWithOfficialSdk(request));
      const verdict = gatewayFor(request, received).authenticate(received);
      if (!verdict.ok) expect({ seed, index: i, request, verdict }).toEqual({ seed, index: i, request, verdict: { ok: true } });

      // The wire order of the query is not signed: a proxy reordering it changes nothing.
      const reordered = { ...received, query: [...received.query].reverse() };
      expect(gatewayFor(request, reordered).authenticate(reordered).ok).toBe(true);

      const tamper = TAMPERS[i % TAMPERS.length]!;
      const tampered = tamper.apply(received);
      const refused = gatewayFor(request, tampered).authenticate(tampered);
      if (refused.ok) expect({ seed, index: i, tamper: tamper.name, request }).toBe('refused');
      expect(refused).toMatchObject({ ok: false, status: 401, code: 'APIGW.0301' });
      refusedBy.set(tamper.name, (refusedBy.get(tamper.name) ?? 0) + 1);
    }
    expect([...refusedBy.keys()].sort()).toEqual(TAMPERS.map((t) => t.name).sort());
  });

  it('re-encodes what senders leave raw: !\'()* in the query and UTF-8 in the path', () => {
    expect(canonicalQueryOfReceived(parseQuery("name=web!(x)'*&tags=team%3Da&tags=team-owner%3Db"))).toBe(
      'name=web%21%28x%29%27%2A&tags=team-owner%3Db&tags=team%3Da',
    );
    expect(canonicalUriOfReceived('/v1/p/a%20b/%C3%A4')).toBe('/v1/p/a%20b/%C3%A4/');
    expect(canonicalUriOfReceived('/v1/p/a!b')).toBe('/v1/p/a%21b/');
  });
});
