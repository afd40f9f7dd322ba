import { listen } from '../http/listen.js';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../ports/clock.js';
import type { SimApi } from './api-names.js';
import { CounterBook } from './counters.js';
import type { SimulatorCounters } from './counters.js';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_REGION, DEMO_TOKEN } from './demo-credentials.js';
import { matchRoute } from './ecs-handlers.js';
import type { PartialFailureMode } from './ecs-handlers.js';
import { checkFaults, decideFault, defaultFaults, parseFaultsPatch } from './faults.js';
import type { FaultDecision, SimulatorFaults, SimulatorFaultsPatch } from './faults.js';
import { resolveFleet } from './fleet.js';
import type { FleetSource } from './fleet.js';
import { FleetState } from './fleet-state.js';
import type { LoginProbe } from './fleet-state.js';
import { GatewayAuth } from './gateway-auth.js';
import type { SimCredentials, SimToken } from './gateway-auth.js';
import { BodyTooLargeError, ecsError, flatHeaders, gatewayError, parseQuery, readBody, sendJson } from './http-io.js';
import type { SimResponse } from './http-io.js';
import { handleInspection } from './inspection.js';
import type { InspectionTarget, ServerPatch } from './inspection.js';
import { createRealClock } from './real-clock.js';
import { createSeededRandom } from './seeded-random.js';
import type { SeededRandom } from './seeded-random.js';
import { viewOf } from './sim-server.js';
import type { SimServerView } from './sim-server.js';
import { TokenBucket } from './token-bucket.js';
import { startSshEndpoints } from './ssh-endpoints.js';
import type { SshEndpoints } from './ssh-endpoints.js';

export interface SimulatorOptions {
  /** Interface to bind. Keep loopback unless a container network needs otherwise. @defaultValue '127.0.0.1' */
  host?: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** The one project the simulator serves. @defaultValue DEMO_PROJECT_ID */
  projectId?: string;
  /** Shown in server details (availability zone). @defaultValue DEMO_REGION */
  region?: string;
  /** AK/SK pairs accepted. @defaultValue [DEMO_CREDENTIALS] */
  credentials?: readonly SimCredentials[];
  /** IAM tokens accepted in `X-Auth-Token`. @defaultValue [DEMO_TOKEN] */
  tokens?: readonly (string | SimToken)[];
  /** The fleet: generated from a seed, loaded from a JSON/YAML file, or given. @defaultValue 50 generated servers, seed 1 */
  fleet?: FleetSource;
  /** A reboot job goes INIT → RUNNING → SUCCESS over this time, then the staged password is active. @defaultValue 3000 */
  rebootDurationMs?: number;
  /** How a reset some servers refused is answered (see `PartialFailureMode`). @defaultValue '400-internal-error' */
  partialFailureMode?: PartialFailureMode;
  /** Initial faults, merged over `defaultFaults()`. */
  faults?: SimulatorFaultsPatch;
  /** @defaultValue the wall clock */
  clock?: Clock;
  /**
   * SSH endpoints for the Linux servers (ssh-endpoints.ts): each on its own loopback address (its
   * fixed address in the ECS detail), all on `port`, accepting `root` with the password in effect now.
   * @defaultValue off
   */
  ssh?: { port?: number | undefined } | undefined;
}

export interface RunningSimulator {
  /** `http://host:port`, the endpoint to give the ECS client. */
  readonly url: string;
  readonly port: number;
  readonly projectId: string;
  readonly region: string;
  /** Stops listening, drops open (also hung) connections, resolves when closed. */
  close(): Promise<void>;
  /** Merges `patch` into the current faults; returns the result. Throws on invalid values, naming the field. */
  setFaults(patch: SimulatorFaultsPatch): SimulatorFaults;
  faults(): SimulatorFaults;
  setPartialFailureMode(mode: PartialFailureMode): void;
  counters(): SimulatorCounters;
  /** Inspection: state only, never a password. */
  servers(): SimServerView[];
  /** Counts over the fleet, without building a view per server (a 100k fleet's views weigh ~100 MB). */
  fleetSummary(): { servers: number; windows: number; locked: number; withoutPlugin: number; shutoff: number };
  server(id: string): SimServerView | undefined;
  /** Changes a server's status / lock / plug-in (a test's way to pull the rug). */
  updateServer(id: string, patch: ServerPatch): SimServerView | undefined;
  /** Out-of-band restart: the staged password takes effect. */
  restart(id: string): SimServerView | undefined;
  /** The login probe: does `password` log in now, and after the next restart? undefined for an unknown server. */
  login(serverId: string, password: string): LoginProbe | undefined;
  /** Whether the server ever received `password` in an accepted reset. */
  wasReceived(serverId: string, password: string): boolean;
  /**
   * Passwords a server received, as ordinals of distinct passwords (`[1, 1, 2]`), so a test can
   * assert "never two different passwords for one unknown outcome" without seeing any password.
   */
  receivedSequence(serverId: string): { password: number; applied: boolean; at: number }[];
  /** The SSH endpoints, when started with `ssh`. */
  readonly ssh: SshEndpoints | undefined;
}

/** Starts a local, faithful-enough Huawei ECS API on `http://host:port`. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const clock = options.clock ?? createRealClock();
  const projectId = options.projectId ?? DEMO_PROJECT_ID;
  const region = options.region ?? DEMO_REGION;
  const rebootDurationMs = options.rebootDurationMs ?? 3000;
  if (!(Number.isFinite(rebootDurationMs) && rebootDurationMs >= 0)) {
    throw new Error(`rebootDurationMs: expected a non-negative number of milliseconds, got ${rebootDurationMs}`);
  }
  let partialFailureMode: PartialFailureMode = options.partialFailureMode ?? '400-internal-error';
  if (partialFailureMode !== '200-subset' && partialFailureMode !== '400-internal-error') {
    throw new Error(`partialFailureMode: expected "200-subset" or "400-internal-error", got ${String(partialFailureMode)}`);
  }
  let faults: SimulatorFaults = { ...defaultFaults(), ...parseFaultsPatch(options.faults ?? {}) };
  checkFaults(faults);
  let faultRandom: SeededRandom = createSeededRandom(faults.seed);
  let buckets = new Map<SimApi, TokenBucket>();

  const specs = await resolveFleet(options.fleet);
  const fleetSeed = options.fleet && (options.fleet.kind ?? 'generated') === 'generated' ? ((options.fleet as { seed?: number }).seed ?? 1) : 1;
  const state = new FleetState(specs, clock.now(), createSeededRandom(fleetSeed ^ 0x5eed));
  const auth = new GatewayAuth(
    options.credentials ?? [DEMO_CREDENTIALS],
    (options.tokens ?? [DEMO_TOKEN]).map((t) => (typeof t === 'string' ? { token: t } : t)),
    projectId,
    clock,
  );
  const counters = new CounterBook();
  // Aborted on close so that latency sleeps on the real clock do not keep the process alive.
  const closing = new AbortController();

  const setFaults = (patch: SimulatorFaultsPatch): SimulatorFaults => {
    const next = { ...faults, ...parseFaultsPatch(patch) };
    checkFaults(next);
    if (patch.seed !== undefined) faultRandom = createSeededRandom(next.seed);
    if (patch.throttle !== undefined) buckets = new Map();
    faults = next;
    return structuredClone(faults);
  };

  const findServer = (id: string) => {
    state.settle(clock.now());
    return state.servers.get(id);
  };

  const core: InspectionTarget & Omit<RunningSimulator, 'url' | 'port' | 'projectId' | 'region' | 'close' | 'ssh'> = {
    info: () => ({ projectId, region, accessKeys: (options.credentials ?? [DEMO_CREDENTIALS]).map((c) => c.accessKey), partialFailureMode }),
    servers: () => {
      state.settle(clock.now());
      return state.order.map(viewOf);
    },
    fleetSummary: () => {
      state.settle(clock.now());
      const summary = { servers: state.order.length, windows: 0, locked: 0, withoutPlugin: 0, shutoff: 0 };
      for (const s of state.order) {
        if (s.osType === 'Windows') summary.windows += 1;
        if (s.locked) summary.locked += 1;
        if (!s.plugin) summary.withoutPlugin += 1;
        if (s.status === 'SHUTOFF') summary.shutoff += 1;
      }
      return summary;
    },
    server: (id) => {
      const s = findServer(id);
      return s && viewOf(s);
    },
    updateServer: (id, patch) => {
      const s = findServer(id);
      if (!s) return undefined;
      if (patch.status !== undefined) s.status = patch.status;
      if (patch.locked !== undefined) s.locked = patch.locked;
      if (patch.plugin !== undefined) s.plugin = patch.plugin;
      s.updatedAt = clock.now();
      return viewOf(s);
    },
    restart: (id) => {
      const s = findServer(id);
      if (!s) return undefined;
      state.activateStaged(s, clock.now());
      return viewOf(s);
    },
    login: (serverId, password) => {
      const s = findServer(serverId);
      return s && state.login(s, password);
    },
    wasReceived: (serverId, password) => {
      const s = findServer(serverId);
      return s !== undefined && state.wasReceived(s, password);
    },
    receivedSequence: (serverId) => {
      const s = findServer(serverId);
      return s ? state.receivedSequence(s) : [];
    },
    counters: () => counters.snapshot(state.order.reduce((n, s) => n + s.received.filter((r) => !r.applied).length, 0)),
    faults: () => structuredClone(faults),
    setFaults,
    setPartialFailureMode: (mode) => {
      if (mode !== '200-subset' && mode !== '400-internal-error') throw new Error(`partialFailureMode: expected "200-subset" or "400-internal-error"`);
      partialFailureMode = mode;
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID().replace(/-/g, '');
    res.setHeader('X-Request-Id', requestId);
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    const rawQuery = q < 0 ? '' : target.slice(q + 1);

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(res, ecsError(400, 'Ecs.0005', error.message));
        req.socket.destroy();
      }
      return;
    }

    if (rawPath.startsWith('/__sim/')) {
      sendJson(res, handleInspection(method, rawPath, body, core));
      return;
    }

    const match = matchRoute(method, rawPath);
    if (!match) {
      counters.record('unrouted', 404);
      sendJson(res, gatewayError(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment', requestId));
      return;
    }
    const api = match.route.api;
    const reply = (response: SimResponse): void => {
      counters.record(api, response.status);
      sendJson(res, response);
    };

    const now = clock.now();
    state.settle(now);
    const headers = flatHeaders(req);
    const authResult = auth.authenticate({ method, rawPath, query: parseQuery(rawQuery), headers, body });
    if (!authResult.ok) {
      reply(gatewayError(authResult.status, authResult.code, authResult.message, requestId));
      return;
    }
    if (match.projectId !== projectId) {
      reply(gatewayError(403, 'APIGW.0302', 'The IAM user is not authorized for the project in the request path', requestId));
      return;
    }
    if ((method === 'PUT' || method === 'POST') && !/^application\/json\b/i.test(headers['content-type'] ?? '')) {
      reply(ecsError(400, 'Ecs.0005', 'Content-Type: expected application/json'));
      return;
    }

    if (faults.throttle) {
      let bucket = buckets.get(api);
      if (!bucket) buckets.set(api, (bucket = new TokenBucket(faults.throttle.ratePerSecond, faults.throttle.burst, now)));
      if (!bucket.take(now)) {
        const retryAfter = faults.throttle.retryAfterSeconds;
        reply({
          ...gatewayError(429, 'APIGW.0308', 'The throttling threshold has been reached: policy user over ratelimit', requestId),
          ...(retryAfter === undefined ? {} : { headers: { 'Retry-After': String(retryAfter) } }),
        });
        return;
      }
    }

    let decision: FaultDecision = 'none';
    const active = faults;
    if (active.apis.includes(api)) {
      const latency = active.latencyMs.fixed + (active.latencyMs.jitter > 0 ? faultRandom.int(active.latencyMs.jitter) : 0);
      decision = decideFault(active, faultRandom.next());
      if (latency > 0) {
        try {
          await clock.sleep(latency, closing.signal);
        } catch {
          return; // closing
        }
      }
    }
    const strike = (): boolean => {
      switch (decision) {
        case 'none':
          return false;
        case 'connection-reset':
          counters.record(api, 'connection-reset');
          req.socket.destroy();
          return true;
        case 'hang':
          // Never answered; close() drops the connection.
          counters.record(api, 'hang');
          return true;
        case 'error500':
          reply(ecsError(500, 'Common.0001', 'Internal server error'));
          return true;
        case 'error503':
          reply(ecsError(503, 'Common.1503', 'ECS flow control: the service is busy, try again later'));
          return true;
      }
    };
    if (active.faultTiming === 'before-processing' && strike()) return;
    const response = match.route.handle({
      state,
      now: clock.now(),
      projectId,
      region,
      body,
      query: parseQuery(rawQuery),
      params: match.params,
      partialFailureMode,
      faults: active,
      faultRandom,
      rebootDurationMs,
    });
    if (active.faultTiming === 'after-processing' && strike()) return;
    reply(response);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // Never echo an unexpected error: it could carry request content.
      if (!res.headersSent) sendJson(res, ecsError(500, 'Common.0001', 'Internal server error'));
    });
  });
  const ssh =
    options.ssh === undefined
      ? undefined
      : await startSshEndpoints({
          servers: state.order.flatMap((s, index) => (s.osType === 'Linux' ? [{ id: s.id, index }] : [])),
          check: (serverId, password) => core.login(serverId, password)?.now === true,
          port: options.ssh.port,
        });
  let listening: { url: string; port: number };
  try {
    listening = await listen(server, options);
  } catch (error) {
    await ssh?.close();
    throw error;
  }
  const { url, port } = listening;

  let closed: Promise<void> | undefined;
  return {
    ...core,
    url,
    port,
    projectId,
    region,
    ssh,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => ssh?.close())),
  };
}
