import { SIMULATOR_ENDPOINT, type AccountConfig, type ServiceConfig } from './service-schema.js';

/**
 * The base URL an ECS client uses for `account`: its endpoint, or for `simulator` the simulator's
 * `http://host:port` (a wildcard bind address is reached through loopback).
 */
export function accountEndpointUrl(account: AccountConfig, service: Pick<ServiceConfig, 'simulator'>): string {
  if (account.endpoint !== SIMULATOR_ENDPOINT) return account.endpoint;
  const { host, port } = service.simulator;
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${reachable}:${port}`;
}
