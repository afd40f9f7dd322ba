/**
 * A minimal signed HTTP caller for the simulator's tests. Deliberately independent of the real ECS
 * client (src/adapters/huawei-ecs/, written separately): it signs with `signRequest` and sends with
 * node:http, which, unlike fetch, lets a test send a Host header other than the one it signed.
 */
import { request as httpRequest } from 'node:http';
import type { Credentials } from '../../src/adapters/huawei-ecs/signer.js';
import { percentEncode, signRequest } from '../../src/adapters/huawei-ecs/signer.js';
import type { Clock } from '../../src/ports/clock.js';

export interface WireRequest {
  method: string;
  /** Full path, e.g. `/v1/<project>/cloudservers/detail`. */
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body: string;
}

export interface SimCall {
  method?: string;
  /** Path after `/v1/{project_id}/` (e.g. `cloudservers/detail`), or a full path starting with `/`. */
  path: string;
  query?: [string, string][];
  /** Object → JSON; string sent as is. */
  body?: unknown;
  projectId: string;
  /** Sign with these (default: send unsigned unless `token`). */
  credentials?: Credentials;
  token?: string;
  /** Signing time. */
  nowMs?: number;
  /** Header overrides applied BEFORE signing (undefined removes). */
  headers?: Record<string, string | undefined>;
  /** Changes applied AFTER signing: what a tampering proxy would do. */
  tamper?: (wire: WireRequest) => void;
  signal?: AbortSignal;
}

export interface SimReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export function buildWire(baseUrl: string, call: SimCall): WireRequest {
  const url = new URL(baseUrl);
  const path = call.path.startsWith('/') ? call.path : `/v1/${call.projectId}/${call.path}`;
  const body = call.body === undefined ? '' : typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  let headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Host: url.host,
    'X-Project-Id': call.projectId,
  };
  for (const [k, v] of Object.entries(call.headers ?? {})) {
    const existing = Object.keys(headers).find((h) => h.toLowerCase() === k.toLowerCase());
    if (existing) delete headers[existing];
    if (v !== undefined) headers[k] = v;
  }
  const wire: WireRequest = { method: call.method ?? 'GET', path, query: call.query ?? [], headers, body };
  if (call.credentials) {
    headers = signRequest(wire, call.credentials, call.nowMs ?? Date.now());
    wire.headers = headers;
  }
  if (call.token) wire.headers['X-Auth-Token'] = call.token;
  return wire;
}

export function send(baseUrl: string, wire: WireRequest, signal?: AbortSignal): Promise<SimReply> {
  const url = new URL(baseUrl);
  const query = wire.query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: wire.method,
        path: query ? `${wire.path}?${query}` : wire.path,
        headers: { ...wire.headers, 'Content-Length': String(Buffer.byteLength(wire.body)) },
        agent: false,
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(wire.body);
  });
}

export function callSim(baseUrl: string, call: SimCall): Promise<SimReply> {
  const wire = buildWire(baseUrl, call);
  call.tamper?.(wire);
  return send(baseUrl, wire, call.signal);
}

/** A clock that only moves when told to; `sleep` advances it and yields, so latency never waits. */
export function manualClock(startMs = Date.UTC(2030, 0, 15, 12, 0, 0)): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = startMs;
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        now += ms;
        setImmediate(resolve);
      }),
    advance: (ms) => {
      now += ms;
    },
    set: (ms) => {
      now = ms;
    },
  };
}

/** Plain JSON call to the unauthenticated `/__sim/` endpoints. */
export async function simInspect(baseUrl: string, method: string, path: string, body?: unknown): Promise<SimReply> {
  return send(baseUrl, {
    method,
    path,
    query: [],
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? '' : JSON.stringify(body),
  });
}
