/**
 * Random requests for the signing property tests, and Huawei's official Node SDK signer
 * (`@huaweicloud/huaweicloud-sdk-core` `AKSKSigner`, a pinned dev dependency) as the oracle that is
 * not us. Only the signer module is loaded, not the SDK's entry point (whose User-Agent code writes
 * ~/.huaweicloud/application_id); the ECS client test that does load it points HOME elsewhere.
 *
 * What is generated, and why some inputs are left out (each a documented quirk of the SDK, not a
 * choice of the gateway):
 * - paths: segments of unreserved characters, sub-delimiters and UTF-8, never `%`, `'` or the other
 *   characters Node's legacy `url.parse` (which the SDK signs from) escapes by itself: the SDK encodes
 *   the path as given, without decoding it first; no `.`/`..` segments (clients resolve them);
 * - header names of `[a-z0-9-]`: the SDK orders its canonical headers with `localeCompare` but its
 *   SignedHeaders list by code unit; both agree on those characters (and disagree on `_`);
 * - header values without leading or trailing spaces: the document trims them, the SDK does not;
 * - bodies are JSON objects: the SDK hashes `JSON.stringify(request.data)`.
 * Query names and values are unrestricted: repeated names, empty values, reserved characters,
 * `%`, `+`, spaces and UTF-8 (astral planes included), which is where the bug was.
 */
import { createRequire } from 'node:module';
import { stringify as querystringStringify } from 'node:querystring';
import type { RandomSource } from '../../src/ports/random-source.js';
import { seededRandom } from './seeded-random.js';

interface SdkSigner {
  sign(
    request: { endpoint: string; method: string; headers: Record<string, string>; queryParams: Record<string, string | string[]>; data?: unknown },
    credential: { getAk(): string; getSk(): string },
  ): Record<string, string>;
}

const require = createRequire(import.meta.url);
const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js') as { AKSKSigner: SdkSigner };

/** A seed from SIGNING_SEED (to replay a failure) or a fresh one; printed by the tests. */
export function signingSeed(): number {
  const fromEnv = process.env['SIGNING_SEED'];
  return fromEnv !== undefined ? Number.parseInt(fromEnv, 10) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

export interface GeneratedRequest {
  method: string;
  /** `http://host[:port]` */
  origin: string;
  /** Unencoded path, as the client's code holds it. */
  path: string;
  /** Decoded pairs in generation order (a name may repeat). */
  query: [string, string][];
  /** Signed headers other than host (X-Sdk-Date included), names in mixed case. */
  headers: Record<string, string>;
  /** A JSON object, or undefined for no body. */
  data: Record<string, unknown> | undefined;
  accessKey: string;
  secretKey: string;
  sdkDate: string;
  nowMs: number;
}

const PATH_CHARS = [...'abcXYZ019-._~!$&()*+,;=:@', 'ä', 'é', '中', '文', '😀'];
const TEXT_CHARS = [
  ...'abcxyzABCXYZ0189-._~ !"#$%&\'()*+,/:;<=>?@[\\]^`{|}',
  '=',
  '-',
  '%',
  '+',
  ' ',
  'ä',
  'ß',
  '中',
  '😀',
  '\u00a0',
];
const QUERY_NAMES = ['tags', 'not-tags', 'limit', 'offset', 'name', 'a', 'a.b', 'a-b', 'A', 'team', 'server_id', 'ä'];
const TAG_VALUES = ['team=a', 'team-owner=b', 'app=x', 'app.name=y', 'app_name=z', 'env=prod', 'env', ''];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const HEADER_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789-'];
const HEADER_VALUE_CHARS = [...'abcXYZ0189 -._~!"#$%&\'()*+,/:;<=>?@[\\]^`{|}'];

function pick<T>(rng: RandomSource, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function text(rng: RandomSource, alphabet: readonly string[], min: number, max: number): string {
  const length = min + rng.int(max - min + 1);
  let out = '';
  for (let i = 0; i < length; i += 1) out += pick(rng, alphabet);
  return out;
}

function randomCase(rng: RandomSource, name: string): string {
  return [...name].map((c) => (rng.int(2) === 0 ? c.toUpperCase() : c)).join('');
}

function sdkDateOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function requestGenerator(seed: number): () => GeneratedRequest {
  const rng = seededRandom(seed);
  return () => {
    const method = pick(rng, METHODS);
    const origin = rng.int(2) === 0 ? `http://ecs.${text(rng, [...'abcxyz'], 2, 6)}.example.com` : `http://127.0.0.1:${1024 + rng.int(60000)}`;
    // No `.` or `..` segments: HTTP clients resolve them before sending, so no signer sees them.
    const segments = Array.from({ length: rng.int(4) }, () => text(rng, PATH_CHARS, 1, 8).replace(/^\.+$/, 'd$&'));
    const path = `/v1/${text(rng, [...'0123456789abcdef'], 32, 32)}/${segments.join('/')}`;

    const query: [string, string][] = [];
    const pairs = rng.int(7);
    for (let i = 0; i < pairs; i += 1) {
      const name = rng.int(4) === 0 ? text(rng, TEXT_CHARS, 1, 6) : pick(rng, QUERY_NAMES);
      const value = rng.int(3) === 0 ? pick(rng, TAG_VALUES) : text(rng, TEXT_CHARS, 0, 10);
      query.push([name, value]);
      // Repeated names are the interesting case: often add a second value for the same name.
      if (rng.int(3) === 0) query.push([name, rng.int(2) === 0 ? pick(rng, TAG_VALUES) : text(rng, TEXT_CHARS, 0, 10)]);
    }

    const nowMs = Date.UTC(2020, 0, 1) + rng.int(2 ** 31) * 1000;
    const sdkDate = sdkDateOf(nowMs);
    const headers: Record<string, string> = {
      [randomCase(rng, 'content-type')]: pick(rng, ['application/json', 'application/json;charset=UTF-8', 'text/plain']),
      [randomCase(rng, 'x-project-id')]: text(rng, [...'0123456789abcdef'], 32, 32),
      // The SDK looks X-Sdk-Date up with exactly this spelling.
      'X-Sdk-Date': sdkDate,
    };
    if (rng.int(3) === 0) headers[randomCase(rng, 'x-security-token')] = text(rng, HEADER_VALUE_CHARS.filter((c) => c !== ' '), 20, 60);
    const extra = rng.int(4);
    for (let i = 0; i < extra; i += 1) {
      const name = `x-${text(rng, HEADER_CHARS, 1, 10)}`;
      if (Object.keys(headers).some((n) => n.toLowerCase() === name)) continue;
      const inner = text(rng, HEADER_VALUE_CHARS, 0, 20);
      headers[randomCase(rng, name)] = `v${inner}v`;
    }

    let data: Record<string, unknown> | undefined;
    if (method !== 'GET' && rng.int(4) !== 0) {
      data = { new_password: text(rng, TEXT_CHARS, 0, 26), dry_run: rng.int(2) === 0, servers: [{ id: text(rng, [...'0123456789abcdef-'], 36, 36) }], note: text(rng, TEXT_CHARS, 0, 30) };
    }
    return {
      method,
      origin,
      path,
      query,
      headers,
      data,
      accessKey: text(rng, [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'], 20, 20),
      secretKey: text(rng, [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'], 40, 40),
      sdkDate,
      nowMs,
    };
  };
}

/** The query as the SDK takes it: an object whose repeated names hold arrays. */
export function sdkQueryParams(query: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of query) {
    const existing = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
    if (existing === undefined) out[name] = value;
    else out[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

/** The headers (Authorization included) Huawei's official SDK signer produces for `request`. */
export function signWithOfficialSdk(request: GeneratedRequest): Record<string, string> {
  return AKSKSigner.sign(
    {
      endpoint: `${request.origin}${request.path}`,
      method: request.method,
      headers: { ...request.headers },
      queryParams: sdkQueryParams(request.query),
      ...(request.data !== undefined ? { data: request.data } : {}),
    },
    { getAk: () => request.accessKey, getSk: () => request.secretKey },
  );
}

/** The query string the SDK's HTTP client puts on the wire (its paramsSerializer is querystring). */
export function sdkWireQuery(request: GeneratedRequest): string {
  return querystringStringify(sdkQueryParams(request.query));
}

/** The body bytes the SDK sends and hashes. */
export function sdkWireBody(request: GeneratedRequest): Buffer {
  return request.data === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(request.data), 'utf8');
}
