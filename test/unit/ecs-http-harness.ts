/**
 * A scripted HTTP server on port 0 for the ECS client tests: each request is answered by the next
 * responder of the script (or the fallback), and recorded (method, path, query, headers, raw body).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { HuaweiEcsClient } from '../../src/adapters/huawei-ecs/huawei-ecs-client.js';
import type { HuaweiEcsClientOptions } from '../../src/adapters/huawei-ecs/huawei-ecs-client.js';
import type { RetryPolicy } from '../../src/adapters/huawei-ecs/retry-policy.js';
import { DEFAULT_ECS_RETRY_POLICY } from '../../src/adapters/huawei-ecs/retry-policy.js';
import type { Clock } from '../../src/ports/clock.js';

export interface RecordedRequest {
  method: string;
  /** Raw path and query as received. */
  rawUrl: string;
  path: string;
  query: [string, string][];
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Responder = (req: RecordedRequest, res: http.ServerResponse) => void;

export interface Harness {
  url: string;
  requests: RecordedRequest[];
  /** Responders used in order, one per request; `fallback` afterwards. */
  script: Responder[];
  fallback: Responder;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const requests: RecordedRequest[] = [];
  const harness: Harness = {
    url: '',
    requests,
    script: [],
    fallback: (_req, res) => json(500, { error: { code: 'Common.0001', message: 'unscripted request' } })(_req, res),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        rawUrl: req.url ?? '',
        path: url.pathname,
        query: [...url.searchParams.entries()],
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      const responder = harness.script.shift() ?? harness.fallback;
      responder(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  harness.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  harness.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return harness;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Responder {
  return (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': `req-${status}-${Math.floor(Math.random() * 1e6)}`, ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

export function raw(status: number, text: string, headers: Record<string, string> = {}): Responder {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(text);
  };
}

/** Kills the connection without an answer (ECONNRESET / "socket hang up" on the client). */
export const resetConnection: Responder = (_req, res) => {
  res.socket?.destroy();
};

/** Never answers; the client's timeout must fire. The socket is destroyed when the harness closes. */
export const hang: Responder = () => {};

/** A clock whose sleeps return at once and are recorded; `now` is the real time (signatures stay valid). */
export function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => Date.now(),
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
    },
  };
}

export function captureLogger(): { logger: Logger; lines: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines: () => out };
}

export const PROJECT_ID = '0123456789abcdef0123456789abcdef';
export const AK = 'TESTACCESSKEY0000001';
export const SK = 'test-secret-key-do-not-log-0123456789abcd';

export function makeClient(
  harness: Harness,
  overrides: Partial<HuaweiEcsClientOptions> & { retry?: RetryPolicy } = {},
): { client: HuaweiEcsClient; clock: ReturnType<typeof recordingClock>; logs: () => string } {
  const clock = recordingClock();
  const { logger, lines } = captureLogger();
  const client = new HuaweiEcsClient({
    endpoint: harness.url,
    projectId: PROJECT_ID,
    region: 'test-region-1',
    credentials: { kind: 'aksk', accessKey: AK, secretKey: SK },
    timeoutMs: 2000,
    retry: DEFAULT_ECS_RETRY_POLICY,
    rateLimiter: { acquire: async () => {} },
    clock,
    random: { int: (n) => n - 1 },
    logger,
    ...overrides,
  });
  return { client, clock, logs: lines };
}

/** A server as Huawei's list/detail APIs describe it. */
export function huaweiServer(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `ecs-${id}`,
    status: 'ACTIVE',
    metadata: { os_type: 'Linux', image_name: 'CentOS' },
    tags: ['rotate=true', 'env=prod'],
    locked: false,
    enterprise_project_id: '0',
    'OS-EXT-STS:vm_state': 'active',
    ...extra,
  };
}
