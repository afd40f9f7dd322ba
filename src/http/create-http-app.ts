/**
 * The HTTP surface of the dashboard role (express 5):
 * - `/healthz` (the process answers) and `/readyz` (Redis answers): no auth, for probes;
 * - `/ui`: bull-board over the `runs` and `batches` queues, read-only unless `readOnly: false`;
 * - `/api/status`: JSON, per-target outcome counts from the outcome store and queue counts;
 * - `/metrics`: the same figures for Prometheus (plus process metrics);
 * - `POST /api/targets/:target/runs` `{serverIds?, dryRun?, restartPolicy?}`: enqueue a manual run (only when not
 *   `readOnly`: then 405), answered `202 {runId}`.
 * - `POST /api/targets/:target/verify` `{serverIds?}`: verification by login on its own, run by this process when it
 *   has the worker role (else 501); answered `200 {target, servers: [{serverId, result, versionId?, labels?, code?, reason?}]}`.
 *   It moves labels (a verified password frees older candidates), so it is refused when `readOnly` (405).
 * Nothing served here can hold a password: job data, return values and progress carry ids and
 * outcome codes only (src/queue/job-schemas.ts), and the outcome store holds no secret.
 *
 * Guards, in order, on every request (each in its own module of this directory, reused by the
 * status page): security headers on every answer (./security-headers.ts); the Host allow-list
 * (./host-allow-list.ts; the probes are exempt); the cross-site write check on Origin and
 * Sec-Fetch-Site (./origin-check.ts); token auth when configured (./token-auth.ts: Basic for reads
 * only); JSON-only, size-capped bodies on write endpoints (./json-body.ts); bull-board's job-writing
 * actions disabled and its external font link dropped (./bull-board-guard.ts); client errors
 * answered 4xx and logged at warn (./client-errors.ts).
 */
import express from 'express';
import type { Express, Request, Response } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Registry } from 'prom-client';
import type { OutcomeKind } from '../domain/outcome.js';
import type { Clock } from '../ports/clock.js';
import type { OutcomeStore } from '../ports/outcome-store.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { RunHistory } from '../ports/run-history.js';
import { createCsrfGuard } from './status-form-csrf.js';
import { createStatusPages } from './status-pages.js';
import type { RotationQueues } from '../queue/rotation-queues.js';
import { describeIssues } from '../queue/job-schemas.js';
import { blockJobWrites, withoutExternalAssets } from './bull-board-guard.js';
import { clientErrorHandler } from './client-errors.js';
import { defaultAllowedHosts, hostAllowList } from './host-allow-list.js';
import { jsonBody } from './json-body.js';
import { createMetricsRegistry } from './metrics.js';
import { RotatorError } from '../domain/rotator-error.js';
import type { ServerVerificationReport } from '../rotation/verify-target.js';
import { originCheck } from './origin-check.js';
import { securityHeaders } from './security-headers.js';
import { tokenAuth } from './token-auth.js';

/** Largest body of a manual run request: 100,000 server ids of up to 64 characters fit in it. */
const MANUAL_RUN_BODY_LIMIT = '8mb';

const ManualRunBody = z.strictObject({
  serverIds: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an ECS server id'))
    .min(1)
    .max(100_000)
    .optional(),
  dryRun: z.boolean().optional(),
  restartPolicy: z.enum(['none', 'soft', 'hard']).optional(),
});

const VerifyBody = z.strictObject({
  serverIds: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an ECS server id'))
    .min(1)
    .max(10_000)
    .optional(),
});

/** Options of {@link createHttpApp}. */
export interface HttpAppOptions {
  queues: RotationQueues;
  /** The read side the status endpoint, the metrics and the status page need. */
  outcomes: Pick<OutcomeStore, 'listTargets' | 'countTarget' | 'listTarget' | 'getServer'>;
  /** Names of the configured targets (listed even before their first run). */
  targets: readonly {
    name: string;
    enabled: boolean;
    schedule: string;
    timezone: string;
    maxPasswordAgeDays?: number | undefined;
    restartPolicy?: 'none' | 'soft' | 'hard' | undefined;
  }[];
  /** The audit trail (server pages of the status page). */
  audit?: Pick<AuditLog, 'readServerHistory'> | undefined;
  /** Finished runs (last successful run per target for the metrics). */
  runHistory?: RunHistory | undefined;
  /** The process's metrics registry (src/observability/service-metrics.ts); fleet gauges are added to it. */
  metricsRegistry?: Registry | undefined;
  clock?: Pick<Clock, 'now'> | undefined;
  /** bull-board without retry/clean/remove buttons. @defaultValue true */
  readOnly?: boolean;
  /** `{ mode: 'token', token }` protects `/ui` and `/api`. @defaultValue `{ mode: 'none' }` */
  auth?: { mode: 'none' } | { mode: 'token'; token: string };
  /** Resolves true when dependencies (Redis) answer. */
  ready(): Promise<boolean>;
  /** Verification by login on its own; undefined in a process without the worker role (no vault here). */
  verifyTarget?: ((target: string, serverIds: readonly string[] | undefined) => Promise<ServerVerificationReport[]>) | undefined;
  /**
   * Host names (no port) the server answers to. @defaultValue `defaultAllowedHosts('127.0.0.1')`:
   * localhost, 127.0.0.1 and ::1. The service passes the bind address's defaults plus `http.allowedHosts`.
   */
  allowedHosts?: readonly string[];
  /** Origins besides the server's own allowed to write (config `http.allowedOrigins`). @defaultValue none */
  allowedOrigins?: readonly string[];
  logger: Logger;
}

export interface StatusResponse {
  targets: {
    name: string;
    configured: boolean;
    enabled: boolean | undefined;
    schedule: string | undefined;
    timezone: string | undefined;
    counts: Record<OutcomeKind, number>;
  }[];
  queues: Record<'runs' | 'batches', Record<string, number>>;
}

export function createHttpApp(options: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  const readOnly = options.readOnly ?? true;
  const log = options.logger;

  app.use(securityHeaders({ cacheablePrefixes: ['/ui/static/'] }));
  const probes = new Set(['/healthz', '/readyz']);
  app.use(
    hostAllowList({
      allowed: options.allowedHosts ?? defaultAllowedHosts('127.0.0.1'),
      // Probes reveal nothing and orchestrators send them with the pod's address as Host.
      exempt: (req) => probes.has(req.path),
      onRefused: (req, host) => log.warn({ path: req.path, host: host.slice(0, 100) }, 'http: request for another host name refused'),
    }),
  );
  app.use(
    originCheck({
      allowedOrigins: options.allowedOrigins ?? [],
      onRefused: (req, reason) => log.warn({ path: req.path, method: req.method, reason }, 'http: cross-site write refused'),
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ok = await options.ready().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not-ready' });
  });

  let guard: ReturnType<typeof tokenAuth> | undefined;
  if (options.auth?.mode === 'token') {
    guard = tokenAuth(options.auth.token);
    app.use('/ui', guard);
    app.use('/api', guard);
    app.use('/metrics', guard);
  }

  const metrics = createMetricsRegistry({
    queues: options.queues,
    outcomes: options.outcomes,
    targets: options.targets,
    runHistory: options.runHistory,
    clock: options.clock,
    registry: options.metricsRegistry,
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  const board = new ExpressAdapter();
  board.setBasePath('/ui');
  // bull-board's own express app re-enables X-Powered-By for its answers.
  board.getRouter().disable('x-powered-by');
  createBullBoard({
    queues: [
      new BullMQAdapter(options.queues.runs, { readOnlyMode: readOnly, description: 'one job per run of a target' }),
      new BullMQAdapter(options.queues.batches, { readOnlyMode: readOnly, description: 'one job per batch of servers' }),
    ],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'rotator' } },
  });
  app.use('/ui', blockJobWrites(), withoutExternalAssets(), board.getRouter());

  app.get('/api/status', async (_req, res) => {
    const configured = new Map(options.targets.map((t) => [t.name, t]));
    const names = new Set([...configured.keys(), ...(await options.outcomes.listTargets())]);
    const targets: StatusResponse['targets'] = [];
    for (const name of [...names].sort()) {
      const t = configured.get(name);
      targets.push({
        name,
        configured: t !== undefined,
        enabled: t?.enabled,
        schedule: t?.schedule,
        timezone: t?.timezone,
        counts: await options.outcomes.countTarget(name),
      });
    }
    const states = ['waiting', 'active', 'delayed', 'waiting-children', 'completed', 'failed'] as const;
    const body: StatusResponse = {
      targets,
      queues: {
        runs: await options.queues.runs.getJobCounts(...states),
        batches: await options.queues.batches.getJobCounts(...states),
      },
    };
    res.json(body);
  });

  /** The `:target` of a write endpoint when writes are allowed and it names an enabled target; else answers 405/404. */
  const writableTarget = (req: Request, res: Response, readOnlyWhy: string): string | undefined => {
    if (readOnly) {
      res.status(405).json({ error: 'read-only', message: `http.readOnly is true: ${readOnlyWhy}` });
      return undefined;
    }
    const name = String(req.params.target);
    const target = options.targets.find((t) => t.name === name);
    if (!target || !target.enabled) {
      res.status(404).json({ error: 'unknown-target', message: `target: ${JSON.stringify(name)} is not a configured, enabled target` });
      return undefined;
    }
    return name;
  };

  app.post('/api/targets/:target/runs', ...jsonBody({ limit: MANUAL_RUN_BODY_LIMIT }), async (req, res) => {
    const name = writableTarget(req, res, 'runs cannot be enqueued over HTTP');
    if (name === undefined) return;
    const body = ManualRunBody.safeParse(req.body ?? {});
    if (!body.success) {
      res.status(400).json({ error: 'bad-request', message: describeIssues(body.error) });
      return;
    }
    const { runId } = await options.queues.enqueueManualRun(name, {
      serverIds: body.data.serverIds,
      dryRun: body.data.dryRun ?? false,
      restartPolicy: body.data.restartPolicy,
    });
    options.logger.info({ runId, via: 'http' }, 'http: manual run enqueued');
    res.status(202).json({ runId });
  });

  app.post('/api/targets/:target/verify', ...jsonBody({ limit: '4mb' }), async (req, res) => {
    const name = writableTarget(req, res, 'verification moves labels and cannot be started over HTTP');
    if (name === undefined) return;
    if (options.verifyTarget === undefined) {
      res.status(501).json({ error: 'no-worker', message: 'this process has no worker role (no vault): send the request to a process that has it' });
      return;
    }
    const body = VerifyBody.safeParse(req.body ?? {});
    if (!body.success) {
      res.status(400).json({ error: 'bad-request', message: describeIssues(body.error) });
      return;
    }
    try {
      const servers = await options.verifyTarget(name, body.data.serverIds);
      options.logger.info({ target: name, servers: servers.length, via: 'http' }, 'http: verification finished');
      res.json({ target: name, servers });
    } catch (error) {
      if (error instanceof RotatorError && !error.retryable) {
        res.status(400).json({ error: error.code, message: error.message });
        return;
      }
      throw error;
    }
  });

  // The status page (`/`, `/targets/…`, `/servers/…`): behind the token when auth is on. Its "rotate
  // now" form exists only when runs may be started over HTTP and a token identifies the operator.
  const clock = options.clock ?? { now: () => Date.now() };
  const pages = createStatusPages({
    outcomes: options.outcomes,
    runHistory: options.runHistory ?? { recent: async () => [] },
    audit: options.audit ?? { readServerHistory: async () => [] },
    targets: options.targets,
    clock,
    rotate:
      !readOnly && options.auth?.mode === 'token'
        ? {
            csrf: createCsrfGuard({ secret: options.auth.token, now: () => clock.now() }),
            enqueue: async (target, run) => {
              const enqueued = await options.queues.enqueueManualRun(target, { dryRun: run.dryRun, restartPolicy: run.restartPolicy });
              options.logger.info({ runId: enqueued.runId, via: 'status page', dryRun: run.dryRun }, 'http: manual run enqueued');
              return enqueued;
            },
          }
        : undefined,
  });
  // The form's CSRF check runs before the token auth: it is what lets Basic credentials write.
  if (pages.verifyRotateForm) app.post('/targets/:target/rotate', ...pages.verifyRotateForm);
  if (guard) app.use(['/targets', '/servers'], guard);
  if (guard) app.get('/', guard);
  app.use(pages.router);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not-found', message: 'no such page or endpoint' });
  });
  // Errors: client mistakes 4xx at warn, the rest 500 at error; a fixed message, never a stack.
  app.use(clientErrorHandler(log));
  return app;
}
