import type { IncomingMessage, ServerResponse } from 'node:http';

/** A response the simulator is about to send. */
export interface SimResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Above this the request is refused; 1000 ids with a password stay far below it. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body larger than ${MAX_BODY_BYTES} bytes`);
  }
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, response: SimResponse): void {
  if (res.destroyed || res.writableEnded) return;
  const text = response.body === undefined ? '' : JSON.stringify(response.body);
  res.writeHead(response.status, {
    'Content-Type': 'application/json;charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
    ...response.headers,
  });
  res.end(text);
}

/** `{error: {code, message}}`: the ECS service's error body. */
export function ecsError(status: number, code: string, message: string): SimResponse {
  return { status, body: { error: { code, message } } };
}

/** `{error_code, error_msg, request_id}`: the API gateway's error body (auth, throttling, routing). */
export function gatewayError(status: number, code: string, message: string, requestId: string): SimResponse {
  return { status, body: { error_code: code, error_msg: message, request_id: requestId } };
}

/** Splits a raw query string into decoded pairs, keeping `+` literal (RFC 3986, as the signer encodes it). */
export function parseQuery(rawQuery: string): [string, string][] {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      return [safeDecode(name), safeDecode(value)];
    });
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Header values flattened to strings (node lower-cases the names). */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
