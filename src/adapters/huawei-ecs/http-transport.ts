import { EcsClientErrorCode } from '../../domain/error-codes.js';
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * One HTTP exchange over node:http/https, with a per-attempt timeout and an abort signal.
 *
 * Why not global fetch: fetch (undici) treats `Host` as its own and does not let us sign exactly the
 * header that goes on the wire; its failures arrive as `TypeError('fetch failed')` with the real code
 * buried in `cause`; and it may follow redirects. node:http sends the headers and body bytes we
 * signed, and its failures carry `err.code` (ECONNRESET, ECONNREFUSED, …) that the retry policy
 * classifies directly.
 */
export interface HttpExchangeRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** Whole exchange, from connect to the last body byte. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  agent?: http.Agent | undefined;
  /** Larger answers are refused (a list page of 1000 servers is a few MB). */
  maxResponseBytes: number;
}

export interface HttpExchangeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A failure below HTTP: no complete response. `code` is a Node network code, `TIMEOUT`, `ABORTED`
 * (the caller's signal) or `RESPONSE_TOO_LARGE`. The message names only the code and the address:
 * never headers or body.
 */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
  }
}

export function sendHttpRequest(request: HttpExchangeRequest): Promise<HttpExchangeResponse> {
  return new Promise((resolve, reject) => {
    const { url } = request;
    const where = `${request.method} ${url.host}${url.pathname}`;
    if (request.signal?.aborted) {
      reject(new TransportError('ABORTED', `${where}: aborted by the caller`));
      return;
    }
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (error: TransportError): void => {
      settle(() => reject(error));
      req.destroy();
    };

    const req = lib.request(url, {
      method: request.method,
      headers: { ...request.headers, ...(request.body ? { 'Content-Length': String(request.body.length) } : {}) },
      agent: request.agent,
    });
    const timer = setTimeout(
      () => fail(new TransportError('TIMEOUT', `${where}: no complete answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    const onAbort = (): void => fail(new TransportError('ABORTED', `${where}: aborted by the caller`));
    request.signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (error: NodeJS.ErrnoException) => {
      // Node's socket errors carry a code and an address, nothing of the request itself.
      const code = typeof error.code === 'string' ? error.code : EcsClientErrorCode.networkError;
      settle(() => reject(new TransportError(code, `${where}: network error ${code}`, { cause: error })));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxResponseBytes) {
          fail(new TransportError('RESPONSE_TOO_LARGE', `${where}: answer larger than ${request.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (error: NodeJS.ErrnoException) => {
        // The connection broke mid-body (e.g. Content-Length not reached): a network failure, retryable.
        const code = typeof error.code === 'string' ? error.code : 'ECONNRESET';
        settle(() => reject(new TransportError(code, `${where}: connection lost while reading the answer (${code})`, { cause: error })));
      });
      res.on('end', () => {
        if (!res.complete) {
          settle(() => reject(new TransportError('ECONNRESET', `${where}: connection closed before the answer was complete`)));
          return;
        }
        settle(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
    });
    req.end(request.body);
  });
}
