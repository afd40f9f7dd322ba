/**
 * The gateway's side of Huawei's `SDK-HMAC-SHA256` signature: rebuilds the canonical request from a
 * request AS RECEIVED and computes the signature it should carry. Written from
 * ../../../shared/docs/huawei-ecs-api.md ("Authentication", steps 1 to 11) and deliberately NOT from
 * the client's signer (src/adapters/huawei-ecs/signer.ts): a test double that shares the code it
 * checks cannot catch that code's mistakes. test/unit/simulator-signature-oracle.test.ts checks this
 * file against requests signed by Huawei's official SDK.
 *
 * A verifier differs from a signer in what it starts from: the path arrives percent-encoded (each
 * segment is decoded, then encoded again the canonical way), the query arrives as the sender wrote
 * it (senders leave `!'()*` raw, so it is decoded and re-encoded, never compared as sent), and the
 * signed headers are the ones the request's own `SignedHeaders` names.
 */
import { createHash, createHmac } from 'node:crypto';

/** Bytes that stay as they are: RFC 3986 "unreserved" (ALPHA / DIGIT / "-" / "." / "_" / "~"). */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

/** Percent-encodes the UTF-8 bytes of `text`, uppercase hex, unreserved bytes kept. */
function rfc3986(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes `%XX` sequences (a malformed one is kept literally, as the text it is). */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Step 3: each received segment decoded and re-encoded; a trailing `/` appended when missing. */
export function canonicalUriOfReceived(rawPath: string): string {
  const joined = rawPath
    .split('/')
    .map((segment) => rfc3986(percentDecode(segment)))
    .join('/');
  return joined.endsWith('/') ? joined : `${joined}/`;
}

/**
 * Step 4: names sorted raw, then the values of a repeated name sorted raw, by UTF-16 code unit
 * (JavaScript's default sort); then both encoded and joined `k=v` with `&`.
 */
export function canonicalQueryOfReceived(decodedPairs: ReadonlyArray<readonly [string, string]>): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of decodedPairs) {
    const values = byName.get(name);
    if (values) values.push(value);
    else byName.set(name, [value]);
  }
  const parts: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    for (const value of byName.get(name)!.sort()) parts.push(`${rfc3986(name)}=${rfc3986(value)}`);
  }
  return parts.join('&');
}

/** Steps 5 and 6 over the names the request itself lists, lowercase, sorted. */
function canonicalHeadersOfReceived(
  headers: Readonly<Record<string, string>>,
  signedHeaderNames: readonly string[],
): { block: string; list: string } {
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) lower.set(name.toLowerCase(), value);
  const names = signedHeaderNames.map((n) => n.toLowerCase()).sort();
  return {
    block: names.map((n) => `${n}:${(lower.get(n) ?? '').trim()}\n`).join(''),
    list: names.join(';'),
  };
}

export interface ReceivedForSignature {
  method: string;
  /** The path as received, still percent-encoded, without the query. */
  rawPath: string;
  /** The query pairs as received, percent-decoded (a name may repeat). */
  decodedQuery: ReadonlyArray<readonly [string, string]>;
  headers: Readonly<Record<string, string>>;
  body: Uint8Array;
}

/** Step 8. */
export function canonicalRequestOfReceived(request: ReceivedForSignature, signedHeaderNames: readonly string[]): string {
  const headers = canonicalHeadersOfReceived(request.headers, signedHeaderNames);
  return [
    request.method.toUpperCase(),
    canonicalUriOfReceived(request.rawPath),
    canonicalQueryOfReceived(request.decodedQuery),
    headers.block,
    headers.list,
    createHash('sha256').update(request.body).digest('hex'),
  ].join('\n');
}

/** Steps 9 and 10: the hex signature the request should carry for `secretKey`. */
export function expectedSignature(secretKey: string, sdkDate: string, canonicalRequest: string): string {
  const hashed = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  const toSign = `SDK-HMAC-SHA256\n${sdkDate}\n${hashed}`;
  return createHmac('sha256', Buffer.from(secretKey, 'utf8')).update(toSign, 'utf8').digest('hex');
}

export interface AuthorizationFields {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

/** Step 11, read back: `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>`. */
export function readAuthorization(value: string | undefined): AuthorizationFields | undefined {
  if (value === undefined) return undefined;
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})\s*$/.exec(value);
  if (!m) return undefined;
  return { accessKey: m[1]!, signedHeaders: m[2]!.split(';'), signature: m[3]!.toLowerCase() };
}

/** Step 1, read back: epoch ms of `YYYYMMDDTHHmmssZ`; undefined when malformed. */
export function readSdkDate(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(ms);
  // Reject impossible dates (20191345T…) rather than let Date.UTC roll them over.
  if (back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return undefined;
  return ms;
}
