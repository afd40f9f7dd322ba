import { createHash, createHmac } from 'node:crypto';

/**
 * Huawei's `SDK-HMAC-SHA256` request signing (APIG signature v2), as documented in
 * ../../../../shared/docs/huawei-ecs-api.md ("Authentication"). The client's side only: the
 * simulator's gateway verifies with its own canonicalisation (src/simulator/gateway-signature.ts),
 * written separately from the same document, so that a mistake here cannot hide in both.
 * test/unit/huawei-signer-oracle.test.ts checks this file against Huawei's official SDK signer.
 */
export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';

export interface SignableRequest {
  method: string;
  /** The path as sent, without query (e.g. `/v1/abc/cloudservers/detail`). */
  path: string;
  /** Decoded query parameters; a name may repeat. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Header names in any case; only those listed in `signedHeaders` are used. */
  headers: Readonly<Record<string, string>>;
  body: string | Uint8Array;
}

/** RFC 3986 percent-encoding: unreserved characters kept, everything else as uppercase %XX. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function canonicalUri(path: string): string {
  const encoded = path
    .split('/')
    .map((segment) => percentEncode(safeDecode(segment)))
    .join('/');
  return encoded.endsWith('/') ? encoded : `${encoded}/`;
}

/**
 * Sorts the RAW (decoded) pairs by name, then by value for a repeated name, and only then
 * percent-encodes them. The order matters: for `tags=team=a&tags=team-owner=b`, raw
 * `team-owner=b` sorts first (`-` < `=`) but encoded `team%3Da` does (`%` < `-`); Huawei's gateway
 * and official signers sort raw, so sorting the encoded strings signs another string and the
 * gateway answers 401 APIGW.0301 (and locks the AK after more than 5). Comparison is by UTF-16
 * code unit, as JavaScript's default sort in the official SDK's `CanonicalQueryString`.
 */
export function canonicalQueryString(query: ReadonlyArray<readonly [string, string]>): string {
  return [...query]
    .sort(([ak, av], [bk, bv]) => compareCodeUnits(ak, bk) || compareCodeUnits(av, bv))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function headerValue(headers: Readonly<Record<string, string>>, lowerName: string): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === lowerName) return value;
  }
  return undefined;
}

export function canonicalRequest(request: SignableRequest, signedHeaders: readonly string[]): string {
  const names = [...signedHeaders].map((n) => n.toLowerCase()).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(headerValue(request.headers, n) ?? '').trim()}\n`).join('');
  return [
    request.method.toUpperCase(),
    canonicalUri(request.path),
    canonicalQueryString(request.query),
    canonicalHeaders,
    names.join(';'),
    sha256Hex(request.body),
  ].join('\n');
}

export function stringToSign(sdkDate: string, canonical: string): string {
  return `${SIGNING_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

export function signature(secretKey: string, toSign: string): string {
  return createHmac('sha256', Buffer.from(secretKey, 'utf8')).update(toSign).digest('hex');
}

/** `20191115T033655Z` */
export function formatSdkDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface Credentials {
  accessKey: string;
  secretKey: string;
  /** With temporary credentials. */
  securityToken?: string | undefined;
}

/**
 * Returns the request's headers with `X-Sdk-Date` (unless already present) and `Authorization` added.
 * Every header passed in is signed except `user-agent` and `authorization`; the caller passes
 * `content-type`, `host` and `x-project-id`.
 */
export function signRequest(request: SignableRequest, credentials: Credentials, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = { ...request.headers };
  if (headerValue(headers, 'x-sdk-date') === undefined) headers['X-Sdk-Date'] = formatSdkDate(nowMs);
  if (credentials.securityToken && headerValue(headers, 'x-security-token') === undefined) {
    headers['X-Security-Token'] = credentials.securityToken;
  }
  const signed = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .filter((n) => n !== 'user-agent' && n !== 'authorization')
    .sort();
  const canonical = canonicalRequest({ ...request, headers }, signed);
  const sig = signature(credentials.secretKey, stringToSign(headerValue(headers, 'x-sdk-date')!, canonical));
  headers.Authorization = `${SIGNING_ALGORITHM} Access=${credentials.accessKey}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
  return headers;
}

export interface ParsedAuthorization {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

export function parseAuthorization(value: string | undefined): ParsedAuthorization | undefined {
  if (!value) return undefined;
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$/.exec(value);
  if (!m) return undefined;
  return { accessKey: m[1]!, signedHeaders: m[2]!.split(';'), signature: m[3]!.toLowerCase() };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
