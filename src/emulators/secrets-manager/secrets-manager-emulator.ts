/**
 * A local AWS Secrets Manager for tests, the demo and development: AWS JSON 1.1 over HTTP
 * (`X-Amz-Target: secretsmanager.<Operation>`), driven by the real AWS SDK with dummy credentials
 * and `endpoint` set to `url`. Signatures are not verified. State lives in memory only.
 *
 * Faults can be injected to exercise retry paths: throttling (HTTP 400 ThrottlingException, as
 * AWS answers), 500 InternalServiceError, AccessDeniedException, added latency, a connection
 * dropped before the operation runs, or dropped after it ran (the caller cannot know it succeeded).
 */
import { listen } from '../../http/listen.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SecretsManagerServiceError, SecretsManagerStore } from './secrets-manager-store.js';

export type SecretsManagerFaultKind =
  | 'throttle'
  | 'internal-error'
  | 'access-denied'
  | 'latency'
  | 'drop-before'
  | 'drop-after';

export interface SecretsManagerFault {
  kind: SecretsManagerFaultKind;
  /** Operation name (e.g. `PutSecretValue`) it applies to. @defaultValue every operation */
  operation?: string | undefined;
  /** How many matching requests it affects. @defaultValue unlimited */
  times?: number | undefined;
  /** For `latency`: the delay added before the answer. @defaultValue 100 */
  latencyMs?: number | undefined;
}

export interface SecretsManagerEmulatorOptions {
  /** @defaultValue '127.0.0.1' */
  host?: string | undefined;
  /** @defaultValue 0 (an ephemeral port) */
  port?: number | undefined;
  /** Faults active from the start. @defaultValue none */
  faults?: SecretsManagerFault[] | undefined;
  /** The region in ARNs when the request's credential scope names none. @defaultValue 'us-east-1' */
  region?: string | undefined;
  /** Time source for CreatedDate/LastChangedDate. @defaultValue Date.now */
  now?: (() => number) | undefined;
  /**
   * AWS's per-account request quotas, enforced with ThrottlingException as AWS answers: "PutSecretValue,
   * UpdateSecret, UpdateSecretVersionStage … 50 requests per second combined" and "CreateSecret: 50
   * per second" (Secrets Manager quotas page). Each bucket allows a burst of one second's worth (at least 1).
   * @defaultValue no quota
   */
  writesPerSecond?: number | undefined;
}

/** Operations sharing AWS's combined write quota (the other quota of this emulator is CreateSecret's own). */
export const SHARED_WRITE_QUOTA_OPERATIONS: readonly string[] = ['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage'];

/** One request as recorded (operation, secret id and outcome; never a body). */
export interface RecordedRequest {
  operation: string;
  secretId: string | undefined;
  status: number;
  /** The `__type` of an error answer, or the fault applied. */
  error: string | undefined;
  /** When it arrived, ms since the epoch (the emulator's clock). */
  at: number;
}

export interface SecretsManagerEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Replaces the active faults. */
  setFaults(faults: SecretsManagerFault[]): void;
  /** Every request so far, oldest first. */
  requests(): RecordedRequest[];
  /** Names of the stored secrets. */
  secretNames(): string[];
  close(): Promise<void>;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'secretsmanager.';

interface ActiveFault extends SecretsManagerFault {
  remaining: number;
}

function regionFromAuthorization(header: string | undefined): string | undefined {
  // Credential=AKID/20250101/eu-west-1/secretsmanager/aws4_request
  const match = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(header ?? '');
  return match?.[1];
}

export async function startSecretsManagerEmulator(
  options: SecretsManagerEmulatorOptions = {},
): Promise<SecretsManagerEmulator> {
  const defaultRegion = options.region ?? 'us-east-1';
  const now = options.now ?? Date.now;
  // One store per region, as AWS keeps secrets per region.
  const stores = new Map<string, SecretsManagerStore>();
  const storeFor = (region: string): SecretsManagerStore => {
    let store = stores.get(region);
    if (!store) {
      store = new SecretsManagerStore({ region, accountId: '123456789012', now });
      stores.set(region, store);
    }
    return store;
  };
  let faults: ActiveFault[] = [];
  const setFaults = (next: SecretsManagerFault[]): void => {
    faults = next.map((f) => ({ ...f, remaining: f.times ?? Number.POSITIVE_INFINITY }));
  };
  setFaults(options.faults ?? []);
  const recorded: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const quotaRate = options.writesPerSecond;
  const buckets = new Map<string, { tokens: number; at: number }>();
  /** False when the operation's quota bucket is empty (then AWS throttles). */
  const withinQuota = (operation: string): boolean => {
    if (quotaRate === undefined) return true;
    const bucketName = SHARED_WRITE_QUOTA_OPERATIONS.includes(operation) ? 'writes' : operation === 'CreateSecret' ? 'create' : undefined;
    if (bucketName === undefined) return true;
    const t = Date.now();
    const capacity = Math.max(1, quotaRate);
    const bucket = buckets.get(bucketName) ?? { tokens: capacity, at: t };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((t - bucket.at) / 1000) * quotaRate);
    bucket.at = t;
    buckets.set(bucketName, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  const takeFaults = (operation: string): ActiveFault[] => {
    const taken: ActiveFault[] = [];
    for (const fault of faults) {
      if (fault.remaining <= 0 || (fault.operation !== undefined && fault.operation !== operation)) continue;
      fault.remaining -= 1;
      taken.push(fault);
    }
    return taken;
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  };
  const sendError = (res: ServerResponse, status: number, type: string, message: string): void => {
    send(res, status, { __type: type, message });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrived = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = req.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const record = (secretId: string | undefined, status: number, error: string | undefined): void => {
      recorded.push({ operation, secretId, status, error, at: arrived });
    };
    if (req.method !== 'POST' || operation === '') {
      record(undefined, 400, 'UnknownOperationException');
      sendError(res, 400, 'UnknownOperationException', 'Expected POST with X-Amz-Target: secretsmanager.<Operation>.');
      return;
    }
    let input: Record<string, unknown>;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const parsed: unknown = text === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      input = parsed as Record<string, unknown>;
    } catch {
      // The body may hold a secret value: never echo it.
      record(undefined, 400, 'SerializationException');
      sendError(res, 400, 'SerializationException', 'The request body is not a JSON object.');
      return;
    }
    const secretId = typeof input['SecretId'] === 'string' ? input['SecretId'] : typeof input['Name'] === 'string' ? input['Name'] : undefined;

    let dropAfter = false;
    for (const fault of takeFaults(operation)) {
      switch (fault.kind) {
        case 'latency':
          await new Promise((resolve) => setTimeout(resolve, fault.latencyMs ?? 100));
          break;
        case 'throttle':
          record(secretId, 400, 'ThrottlingException');
          sendError(res, 400, 'ThrottlingException', 'Rate exceeded');
          return;
        case 'internal-error':
          record(secretId, 500, 'InternalServiceError');
          sendError(res, 500, 'InternalServiceError', 'An error occurred on the server side.');
          return;
        case 'access-denied':
          record(secretId, 400, 'AccessDeniedException');
          sendError(res, 400, 'AccessDeniedException', `User is not authorized to perform: secretsmanager:${operation}`);
          return;
        case 'drop-before':
          record(secretId, 0, 'drop-before');
          req.socket.destroy();
          return;
        case 'drop-after':
          dropAfter = true;
          break;
      }
    }

    if (!withinQuota(operation)) {
      record(secretId, 400, 'ThrottlingException');
      sendError(res, 400, 'ThrottlingException', 'Rate exceeded');
      return;
    }
    const region = regionFromAuthorization(req.headers.authorization) ?? defaultRegion;
    try {
      const output = storeFor(region).handle(operation, input);
      if (dropAfter) {
        record(secretId, 0, 'drop-after');
        req.socket.destroy();
        return;
      }
      record(secretId, 200, undefined);
      send(res, 200, output);
    } catch (error) {
      if (error instanceof SecretsManagerServiceError) {
        record(secretId, error.status, error.type);
        if (dropAfter) {
          req.socket.destroy();
          return;
        }
        sendError(res, error.status, error.type, error.message);
        return;
      }
      record(secretId, 500, 'InternalServiceError');
      sendError(res, 500, 'InternalServiceError', 'The emulator failed.');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'InternalServiceError', 'The emulator failed.');
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const { url } = await listen(server, options);

  return {
    url,
    setFaults,
    requests: () => recorded.slice(),
    secretNames: () => [...stores.values()].flatMap((s) => s.secretNames()),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections from SDK clients would hold close() open.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
