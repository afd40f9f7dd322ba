import type { SimulatorCounters } from './counters.js';
import type { PartialFailureMode } from './ecs-handlers.js';
import type { LoginProbe } from './fleet-state.js';
import type { SimulatorFaults, SimulatorFaultsPatch } from './faults.js';
import { parseFaultsPatch } from './faults.js';
import type { SimResponse } from './http-io.js';
import type { SimServerView } from './sim-server.js';

/** What the inspection endpoints need from the simulator. None of it can return a password or a hash of one. */
export interface InspectionTarget {
  info(): Record<string, unknown>;
  servers(): SimServerView[];
  server(id: string): SimServerView | undefined;
  updateServer(id: string, patch: ServerPatch): SimServerView | undefined;
  restart(id: string): SimServerView | undefined;
  login(serverId: string, password: string): LoginProbe | undefined;
  counters(): SimulatorCounters;
  faults(): SimulatorFaults;
  setFaults(patch: SimulatorFaultsPatch): SimulatorFaults;
  setPartialFailureMode(mode: PartialFailureMode): void;
}

/** State a test may change under the rotator's feet (lock a server, remove its plug-in, stop it). */
export interface ServerPatch {
  status?: string;
  locked?: boolean;
  plugin?: boolean;
}

const bad = (message: string): SimResponse => ({ status: 400, body: { error: 'bad-request', message } });
const notFound = (message: string): SimResponse => ({ status: 404, body: { error: 'not-found', message } });

function jsonBody(body: Buffer): Record<string, unknown> | SimResponse {
  try {
    const data: unknown = JSON.parse(body.toString('utf8'));
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data as Record<string, unknown>;
  } catch {
    // fall through; the parser's message may quote the body (a password on /__sim/login).
  }
  return bad('expected a JSON object body');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const isResponse = (x: unknown): x is SimResponse => typeof x === 'object' && x !== null && 'status' in x && 'body' in x;

/**
 * `/__sim/...`: outside Huawei's path space, unauthenticated (the simulator binds to loopback).
 * - `GET  /__sim/info`                      project, region, access keys (never a secret key)
 * - `POST /__sim/login {serverId, password}` → `{now, afterRestart}` (the login probe)
 * - `GET  /__sim/servers`, `GET /__sim/servers/{id}`, `PATCH /__sim/servers/{id} {status?, locked?, plugin?}`
 * - `POST /__sim/servers/{id}/restart`       out-of-band restart: the staged password takes effect
 * - `GET  /__sim/counters`, `GET|PUT /__sim/faults`, `PUT /__sim/partial-failure-mode {mode}`
 */
export function handleInspection(method: string, path: string, body: Buffer, sim: InspectionTarget): SimResponse {
  const parts = path.split('/').slice(2).map(safeDecode);
  const [first, id, action] = parts;
  if (method === 'GET' && first === 'info' && parts.length === 1) return { status: 200, body: sim.info() };
  if (method === 'GET' && first === 'counters' && parts.length === 1) return { status: 200, body: sim.counters() };
  if (first === 'faults' && parts.length === 1) {
    if (method === 'GET') return { status: 200, body: sim.faults() };
    if (method === 'PUT') {
      const data = jsonBody(body);
      if (isResponse(data)) return data;
      try {
        return { status: 200, body: sim.setFaults(parseFaultsPatch(data)) };
      } catch (error) {
        return bad(error instanceof Error ? error.message : 'invalid faults');
      }
    }
  }
  if (method === 'PUT' && first === 'partial-failure-mode' && parts.length === 1) {
    const data = jsonBody(body);
    if (isResponse(data)) return data;
    if (data.mode !== '200-subset' && data.mode !== '400-internal-error') return bad('mode: expected "200-subset" or "400-internal-error"');
    sim.setPartialFailureMode(data.mode);
    return { status: 200, body: { mode: data.mode } };
  }
  if (method === 'POST' && first === 'login' && parts.length === 1) {
    const data = jsonBody(body);
    if (isResponse(data)) return data;
    if (typeof data.serverId !== 'string') return bad('serverId: expected a string');
    if (typeof data.password !== 'string') return bad('password: expected a string');
    const probe = sim.login(data.serverId, data.password);
    return probe ? { status: 200, body: probe } : notFound(`server ${data.serverId} does not exist`);
  }
  if (first === 'servers') {
    if (method === 'GET' && parts.length === 1) return { status: 200, body: { servers: sim.servers() } };
    if (id !== undefined && parts.length === 2 && method === 'GET') {
      const view = sim.server(id);
      return view ? { status: 200, body: view } : notFound(`server ${id} does not exist`);
    }
    if (id !== undefined && parts.length === 2 && method === 'PATCH') {
      const data = jsonBody(body);
      if (isResponse(data)) return data;
      const patch: ServerPatch = {};
      for (const [k, v] of Object.entries(data)) {
        if (k === 'status' && typeof v === 'string' && v !== '') patch.status = v;
        else if ((k === 'locked' || k === 'plugin') && typeof v === 'boolean') patch[k] = v;
        else return bad(`${k}: expected status (string), locked (boolean) or plugin (boolean)`);
      }
      const view = sim.updateServer(id, patch);
      return view ? { status: 200, body: view } : notFound(`server ${id} does not exist`);
    }
    if (id !== undefined && action === 'restart' && parts.length === 3 && method === 'POST') {
      const view = sim.restart(id);
      return view ? { status: 200, body: view } : notFound(`server ${id} does not exist`);
    }
  }
  return notFound(`no simulator endpoint ${method} ${path}`);
}
