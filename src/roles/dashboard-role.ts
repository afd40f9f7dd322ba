import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/index.js';
import { createHttpApp } from '../http/create-http-app.js';
import { defaultAllowedHosts } from '../http/host-allow-list.js';
import { startHttpServer } from '../http/http-server.js';
import type { RunningHttpServer } from '../http/http-server.js';
import type { Registry } from 'prom-client';
import type { AuditLog } from '../ports/audit-log.js';
import type { Clock } from '../ports/clock.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { RunHistory } from '../ports/run-history.js';
import type { RotationQueues } from '../queue/rotation-queues.js';

/** The dashboard role: bull-board, health, metrics, the status page and the JSON API over HTTP. */
export async function startDashboardRole(deps: {
  config: LoadedConfig;
  queues: RotationQueues;
  outcomes: OutcomeStore;
  redis: Redis;
  logger: Logger;
  /** Set when `http.auth.mode` is token (checked before start). */
  httpToken: string | undefined;
  /** Overrides `http.port`. */
  port?: number | undefined;
  /** Finished runs (status page, last successful run metric). */
  runHistory: RunHistory;
  /** The audit trail (server pages). */
  audit: Pick<AuditLog, 'readServerHistory'>;
  /** The process's metrics registry; the fleet gauges are added to it. */
  metricsRegistry: Registry;
  clock: Pick<Clock, 'now'>;
}): Promise<RunningHttpServer> {
  const { config, redis, logger } = deps;
  const app = createHttpApp({
    queues: deps.queues,
    outcomes: deps.outcomes,
    targets: config.targets,
    runHistory: deps.runHistory,
    audit: deps.audit,
    metricsRegistry: deps.metricsRegistry,
    clock: deps.clock,
    readOnly: config.service.http.readOnly,
    auth: deps.httpToken === undefined ? { mode: 'none' } : { mode: 'token', token: deps.httpToken },
    ready: async () => (await redis.ping()) === 'PONG',
    logger,
    allowedHosts: [...defaultAllowedHosts(config.service.http.host), ...config.service.http.allowedHosts],
    allowedOrigins: config.service.http.allowedOrigins,
  });
  const http = await startHttpServer(app, { host: config.service.http.host, port: deps.port ?? config.service.http.port });
  logger.info({ url: `${http.url}/`, jobs: `${http.url}/ui` }, 'dashboard: listening (status page and jobs)');
  return http;
}
