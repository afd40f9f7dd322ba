import { MAX_SERVERS_PER_CALL } from '../../domain/batch-limits.js';
import { EcsClientErrorCode } from '../../domain/error-codes.js';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type {
  BatchResetResult,
  CallOptions,
  EcsApi,
  EcsJob,
  RebootType,
  ServerFilter,
} from '../../ports/ecs-api.js';
import type { Clock } from '../../ports/clock.js';
import type { RandomSource } from '../../ports/random-source.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';
import type { EcsServer } from '../../domain/server.js';
import { EcsApiError } from './ecs-api-error.js';
import { parseErrorBody, readErrorBody, scrubRemoteText } from './error-body.js';
import { sendHttpRequest, TransportError } from './http-transport.js';
import type { HttpExchangeResponse } from './http-transport.js';
import { DEFAULT_ECS_RETRY_POLICY, isRetryableFailure, mayHaveBeenProcessed, parseRetryAfter, retryDelay } from './retry-policy.js';
import type { AttemptFailure, RetryPolicy } from './retry-policy.js';
import { percentEncode, signRequest } from './signer.js';
import { classifyBatchReset, mustStopRun } from './batch-reset-classification.js';
import {
  batchResetSuccessSchema,
  describeSchemaProblem,
  getServerSchema,
  jobIdSchema,
  jobSchema,
  listServersSchema,
  quickBatchResetSuccess,
  quickListServers,
  resetFlagSchema,
  toEcsJob,
  toEcsServer,
} from './ecs-responses.js';

/** AK/SK (signed requests, optionally temporary with a security token) or a project-scoped IAM token. */
export type EcsCredentials =
  | { kind: 'aksk'; accessKey: string; secretKey: string; securityToken?: string | undefined }
  | { kind: 'token'; token: string };

export interface HuaweiEcsClientOptions {
  /** `https://ecs.{region}.myhuaweicloud.com`, or plain `http://127.0.0.1:PORT` for the simulator. No path. */
  endpoint: string;
  projectId: string;
  region: string;
  /**
   * The credentials, or a function returning the current ones, called for every request: a
   * long-lived worker then picks up a rotated access key or a refreshed IAM token file (tokens live
   * 24 hours) without a restart. A function that throws fails the request before anything is sent.
   */
  credentials: EcsCredentials | (() => EcsCredentials);
  /** Per attempt, from connect to the last byte of the answer. @defaultValue 15000 */
  timeoutMs?: number | undefined;
  /** @defaultValue DEFAULT_ECS_RETRY_POLICY */
  retry?: RetryPolicy | undefined;
  /** Every attempt (retries included) takes a token first. */
  rateLimiter: RateLimiter;
  /** Signing date, backoff sleeps and job deadlines. */
  clock: Clock;
  /** Backoff jitter. */
  random: RandomSource;
  /** Receives one line per failed attempt: operation, attempt, status, code, request id, delay. Never bodies or headers. */
  logger: Logger;
  /**
   * Largest answer read from a server list page (1000 servers with tags and metadata are a few MB).
   * Every other answer (reset, reboot, job, flag, one server) is capped at the smaller of this and
   * {@link MAX_SMALL_RESPONSE_BYTES}. A larger answer fails with code `RESPONSE_TOO_LARGE`: reading
   * stops at the cap and the connection is destroyed, so a garbage body from a proxy costs at most
   * the cap in memory and in JSON parse time, never a stall of the worker's event loop.
   * @defaultValue 16 MiB
   */
  maxResponseBytes?: number | undefined;
  /** Connections kept open per client. @defaultValue 64 */
  maxSockets?: number | undefined;
}

/** Largest `limit` of the list API. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
/** List pages requested ahead of the one being consumed (see `listServers`). */
export const LIST_READ_AHEAD = 4;
/** Listings of one `listServers` call at most, while the fleet keeps changing under it (see there). */
export const MAX_LIST_PASSES = 3;
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Default cap of a server list page answer. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/**
 * Cap of every answer other than a list page. The largest legitimate one is a 1000-server reset
 * answer with an `internalError` entry per server (about 300 KB); 1 MiB leaves room and keeps a
 * JSON parse of it in the low milliseconds.
 */
export const MAX_SMALL_RESPONSE_BYTES = 1024 * 1024;

interface ApiRequest {
  operation: string;
  method: 'GET' | 'PUT' | 'POST';
  /** Path after `/v1/{project_id}/`, segments already percent-encoded. */
  path: string;
  query?: ReadonlyArray<readonly [string, string]>;
  body?: unknown;
  /** Strings to scrub from anything remote we keep (the password of a reset call). */
  secrets?: readonly string[];
  signal?: AbortSignal | undefined;
  /** Only the server list reads answers larger than MAX_SMALL_RESPONSE_BYTES. */
  large?: boolean;
  /**
   * Set to true when an attempt failed in a way Huawei may have carried out (`mayHaveBeenProcessed`):
   * what a later attempt's answer says about the request is then not the whole story.
   */
  attempts?: { mayHaveBeenProcessed: boolean };
}

/**
 * The signed Huawei ECS client. Every call is rate limited, signed afresh per attempt (the
 * `X-Sdk-Date` must stay within 15 minutes of Huawei's clock even after long backoffs), bounded
 * by a timeout, and retried on transient failures per its `RetryPolicy` with the same body bytes.
 * Failures are `EcsApiError`s that never carry the request's body or headers.
 */
export class HuaweiEcsClient implements EcsApi {
  private readonly base: URL;
  private readonly projectId: string;
  readonly region: string;
  // A #private field: util.inspect, JSON.stringify and loggers never see it, even if someone logs the client.
  readonly #credentials: EcsCredentials | (() => EcsCredentials);
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly rateLimiter: RateLimiter;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly logger: Logger;
  private readonly maxResponseBytes: number;
  // #private too: its sockets keep the last request's header block (Authorization included) in memory.
  readonly #agent: http.Agent;

  constructor(options: HuaweiEcsClientOptions) {
    let base: URL;
    try {
      base = new URL(options.endpoint);
    } catch {
      throw invalidArgument(`endpoint: expected an http(s) URL, found ${JSON.stringify(options.endpoint)}`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw invalidArgument(`endpoint: expected an http(s) URL, found protocol ${base.protocol}`);
    }
    if ((base.pathname !== '/' && base.pathname !== '') || base.search || base.username || base.password) {
      throw invalidArgument('endpoint: expected scheme, host and port only (no path, query or user info)');
    }
    if (!/^[A-Za-z0-9_-]+$/.test(options.projectId)) {
      throw invalidArgument(`projectId: expected letters, digits, "-" or "_", found ${JSON.stringify(options.projectId)}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalidArgument(`timeoutMs: expected a positive number, found ${timeoutMs}`);
    const retry = options.retry ?? DEFAULT_ECS_RETRY_POLICY;
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
      throw invalidArgument(`retry.maxAttempts: expected an integer >= 1, found ${retry.maxAttempts}`);
    }
    this.base = base;
    this.projectId = options.projectId;
    this.region = options.region;
    this.#credentials = options.credentials;
    this.timeoutMs = timeoutMs;
    this.retry = retry;
    this.rateLimiter = options.rateLimiter;
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 1024) {
      throw invalidArgument(`maxResponseBytes: expected an integer of at least 1024, found ${maxResponseBytes}`);
    }
    this.maxResponseBytes = maxResponseBytes;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.#agent = base.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** Closes idle keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.#agent.destroy();
  }

  async batchResetPasswords(
    input: { password: string | undefined; serverIds: readonly string[]; dryRun?: boolean },
    options?: CallOptions,
  ): Promise<BatchResetResult> {
    const operation = 'batchResetPasswords';
    const dryRun = input.dryRun ?? false;
    checkServerIds(operation, input.serverIds);
    if (!dryRun && (input.password === undefined || input.password === '')) {
      throw invalidArgument('password: required unless dryRun is true', operation);
    }
    const body: Record<string, unknown> = {};
    if (input.password !== undefined) body.new_password = input.password;
    body.dry_run = dryRun;
    body.servers = input.serverIds.map((id) => ({ id }));

    let answer: Parameters<typeof classifyBatchReset>[1];
    const attempts = { mayHaveBeenProcessed: false };
    try {
      const res = await this.send({
        operation,
        method: 'PUT',
        path: 'cloudservers/os-reset-passwords',
        body,
        secrets: input.password ? [input.password] : [],
        signal: options?.signal,
        attempts,
      });
      // A 2xx answer may also carry `internalError` (a partial failure in the 200 mode).
      const json = parseJsonOrThrow(operation, res);
      const parsed = validate(operation, res, batchResetSuccessSchema, json, quickBatchResetSuccess);
      const extra = readErrorBody(json, input.password ? [input.password] : []);
      answer = {
        kind: 'answered',
        acceptedIds: parsed.response.map((r) => r.id),
        internalErrors: extra?.internalErrors ?? [],
        requestId: requestIdOf(res),
      };
    } catch (error) {
      if (!(error instanceof EcsApiError) || error.code === EcsClientErrorCode.aborted) throw error;
      if (mustStopRun(error)) throw error;
      answer = { kind: 'failed', error };
    }
    return {
      // A dry run changes nothing, so an earlier attempt cannot have changed what its answer says.
      results: classifyBatchReset(input.serverIds, answer, { earlierAttemptMayHaveBeenProcessed: !dryRun && attempts.mayHaveBeenProcessed }),
      requestId: answer.kind === 'answered' ? answer.requestId : answer.error.requestId,
    };
  }

  async *listServers(filter: ServerFilter, options?: CallOptions & { pageSize?: number }): AsyncIterable<EcsServer> {
    const operation = 'listServers';
    const limit = options?.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw invalidArgument(`pageSize: expected an integer from 1 to ${MAX_PAGE_SIZE}, found ${limit}`, operation);
    }
    const filters: [string, string][] = [];
    const wantedTags = Object.entries(filter.tags ?? {});
    // One `tags=key=value` parameter per pair. Huawei documents the single-pair form only; every
    // returned server is checked against all pairs below, so the result is right whatever Huawei
    // does with several (AND, OR, or only the first).
    for (const [key, value] of wantedTags) filters.push(['tags', `${key}=${value}`]);
    if (filter.name) filters.push(['name', filter.name]);
    if (filter.status) filters.push(['status', filter.status]);
    if (filter.enterpriseProjectId) filters.push(['enterprise_project_id', filter.enterpriseProjectId]);

    // `offset` is a page NUMBER starting at 1, not a row offset.
    const fetchPage = async (page: number) => {
      const res = await this.send({
        operation,
        method: 'GET',
        path: 'cloudservers/detail',
        large: true,
        query: [['limit', String(limit)], ['offset', String(page)], ...filters],
        signal: options?.signal,
      });
      const parsed = validate(operation, res, listServersSchema, parseJsonOrThrow(operation, res), quickListServers);
      // Converted on arrival: a page read ahead then waits as 1000 small servers, not as Huawei's
      // full objects (addresses, metadata, flavor...), which outlived young-generation collections
      // and were copied into the old generation, garbage for the next full collection.
      return { count: parsed.count, servers: parsed.servers.map(toEcsServer) };
    };
    // Read-ahead: once the first page gives `count`, up to LIST_READ_AHEAD further pages are in
    // flight while this one is consumed. A 100k fleet is 100 pages of 1000: one after another at
    // 50-100 ms each, the listing alone would take 5-10 s. Pages are still yielded in order, the
    // rate limiter still paces every request, and the end is still decided page by page
    // (an empty page, or page * limit >= that page's count), as without read-ahead.
    // Pages are numbered, so a server removed from (or added to) the matching set while the listing
    // runs shifts every later server by one place: a removal moves the first server of the next
    // page onto a page already read, and it would be missed, silently left out of the run. Each
    // page reports the total (`count`); when it changed during a pass, the listing is read again
    // (at most MAX_LIST_PASSES times) and only servers not yielded yet are yielded.
    const yielded = new Set<string>();
    for (let pass = 1; ; pass += 1) {
      let firstCount: number | undefined;
      let changed = false;
      const inFlight = new Map<number, ReturnType<typeof fetchPage>>();
      let lastKnownPage = 1;
      const request = (page: number): ReturnType<typeof fetchPage> => {
        let pending = inFlight.get(page);
        if (pending === undefined) {
          pending = fetchPage(page);
          // A page fetched ahead and never consumed (the listing ended early, or the consumer
          // stopped) must not become an unhandled rejection; a consumed one rethrows when awaited.
          pending.catch(() => undefined);
          inFlight.set(page, pending);
        }
        return pending;
      };
      for (let page = 1; ; page += 1) {
        const parsed = await request(page);
        inFlight.delete(page);
        if (firstCount === undefined) firstCount = parsed.count;
        else if (parsed.count !== firstCount) changed = true;
        lastKnownPage = Math.max(lastKnownPage, Math.ceil(parsed.count / limit));
        if (parsed.servers.length > 0) {
          for (let ahead = page + 1; ahead <= Math.min(lastKnownPage, page + LIST_READ_AHEAD); ahead++) void request(ahead);
        }
        for (const server of parsed.servers) {
          if (yielded.has(server.id) || !wantedTags.every(([k, v]) => server.tags[k] === v)) continue;
          yielded.add(server.id);
          yield server;
        }
        if (parsed.servers.length === 0 || page * limit >= parsed.count) break;
      }
      if (!changed) return;
      if (pass >= MAX_LIST_PASSES) {
        this.logger.warn({ operation, passes: pass }, 'ECS listServers: the fleet kept changing while it was listed; a server that moved between pages may be missing from this listing');
        return;
      }
    }
  }

  async getServer(serverId: string, options?: CallOptions): Promise<EcsServer | undefined> {
    const operation = 'getServer';
    checkId(operation, 'serverId', serverId);
    try {
      const res = await this.send({ operation, method: 'GET', path: `cloudservers/${percentEncode(serverId)}`, signal: options?.signal });
      return toEcsServer(validate(operation, res, getServerSchema, parseJsonOrThrow(operation, res)).server);
    } catch (error) {
      // 404 from ECS (Ecs.0114/0614, or no code) means "no such server"; a gateway 404 (APIGW.*)
      // means a wrong endpoint or path, which must not look like a missing server.
      if (error instanceof EcsApiError && error.httpStatus === 404 && !error.huaweiCode?.startsWith('APIGW.')) return undefined;
      throw error;
    }
  }

  async getResetPasswordFlag(serverId: string, options?: CallOptions): Promise<boolean> {
    const operation = 'getResetPasswordFlag';
    checkId(operation, 'serverId', serverId);
    const res = await this.send({
      operation,
      method: 'GET',
      path: `cloudservers/${percentEncode(serverId)}/os-resetpwd-flag`,
      signal: options?.signal,
    });
    return validate(operation, res, resetFlagSchema, parseJsonOrThrow(operation, res)).resetpwd_flag.toLowerCase() === 'true';
  }

  async batchReboot(serverIds: readonly string[], type: RebootType, options?: CallOptions): Promise<{ jobId: string }> {
    const operation = 'batchReboot';
    checkServerIds(operation, serverIds);
    if (type !== 'SOFT' && type !== 'HARD') throw invalidArgument(`type: expected SOFT or HARD, found ${String(type)}`, operation);
    // Retried like every call: a second reboot request after a lost answer is refused by Huawei
    // while the first runs (Ecs.0603/Ecs.0100), or reboots once more, which is harmless here.
    const res = await this.send({
      operation,
      method: 'POST',
      path: 'cloudservers/action',
      body: { reboot: { type, servers: serverIds.map((id) => ({ id })) } },
      signal: options?.signal,
    });
    return { jobId: validate(operation, res, jobIdSchema, parseJsonOrThrow(operation, res)).job_id };
  }

  async getJob(jobId: string, options?: CallOptions): Promise<EcsJob> {
    const operation = 'getJob';
    checkId(operation, 'jobId', jobId);
    const res = await this.send({ operation, method: 'GET', path: `jobs/${percentEncode(jobId)}`, signal: options?.signal });
    return toEcsJob(validate(operation, res, jobSchema, parseJsonOrThrow(operation, res)));
  }

  async waitForJob(jobId: string, options: CallOptions & { deadlineMs: number; pollIntervalMs?: number }): Promise<EcsJob> {
    const pollIntervalMs = options.pollIntervalMs ?? 2000;
    const deadline = this.clock.now() + options.deadlineMs;
    for (;;) {
      const job = await this.getJob(jobId, options);
      if (job.status === 'SUCCESS' || job.status === 'FAIL') return job;
      const now = this.clock.now();
      if (now >= deadline) {
        throw new EcsApiError({
          code: EcsClientErrorCode.jobDeadline,
          message: `ECS job ${jobId} still ${job.status} after ${options.deadlineMs} ms`,
          retryable: true,
          operation: 'waitForJob',
        });
      }
      await this.sleep(Math.min(pollIntervalMs, deadline - now), options.signal, 'waitForJob');
    }
  }

  /** One API call with rate limiting, signing, timeout and retries; resolves with a 2xx answer only. */
  private async send(request: ApiRequest): Promise<HttpExchangeResponse> {
    const { operation } = request;
    const query = request.query ?? [];
    const path = `/v1/${this.projectId}/${request.path}`;
    const url = new URL(path, this.base);
    // Encoded exactly as the canonical query string encodes it, so what we sign is what we send.
    url.search = query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
    // Serialised once: every retry sends these same bytes (same password, same signature input).
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
    const secrets = request.secrets ?? [];

    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.rateLimiter.acquire(request.signal);
      } catch {
        throw aborted(operation);
      }
      let res: HttpExchangeResponse | undefined;
      let error: EcsApiError;
      let failure: AttemptFailure;
      try {
        res = await sendHttpRequest({
          method: request.method,
          url,
          headers: this.headersFor(request.method, path, query, body),
          body,
          timeoutMs: this.timeoutMs,
          signal: request.signal,
          agent: this.#agent,
          maxResponseBytes: request.large === true ? this.maxResponseBytes : Math.min(this.maxResponseBytes, MAX_SMALL_RESPONSE_BYTES),
        });
      } catch (thrown) {
        if (!(thrown instanceof TransportError)) throw thrown;
        if (thrown.code === EcsClientErrorCode.aborted) throw aborted(operation);
        failure = { kind: 'network', code: thrown.code };
        error = new EcsApiError({
          code: thrown.code,
          message: `ECS ${operation} failed: ${thrown.message}`,
          retryable: isRetryableFailure(this.retry, failure),
          operation,
          cause: thrown,
        });
      }
      if (res !== undefined) {
        if (res.status >= 200 && res.status < 300) return res;
        error = this.errorFromResponse(operation, res, secrets);
        failure = { kind: 'http', status: res.status, code: error.huaweiCode, retryAfterMs: error.retryAfterMs };
      }
      const delay = retryDelay(this.retry, failure!, attempt, this.random);
      // Only an attempt that another follows: the last one's own answer is what gets classified.
      if (delay !== undefined && request.attempts !== undefined && mayHaveBeenProcessed(failure!)) request.attempts.mayHaveBeenProcessed = true;
      this.logger.warn(
        {
          operation,
          attempt,
          maxAttempts: this.retry.maxAttempts,
          httpStatus: error!.httpStatus,
          code: error!.code,
          requestId: error!.requestId,
          retryInMs: delay,
        },
        delay === undefined ? `ECS ${operation} failed: ${error!.code}` : `ECS ${operation} failed: ${error!.code}, retrying`,
      );
      if (delay === undefined) throw attempt > 1 ? error!.withAttempts(attempt) : error!;
      await this.sleep(delay, request.signal, operation);
    }
  }

  private headersFor(
    method: string,
    path: string,
    query: ReadonlyArray<readonly [string, string]>,
    body: Buffer | undefined,
  ): Record<string, string> {
    const base: Record<string, string> = {
      'Content-Type': 'application/json',
      // URL.host omits the default port, which is exactly what the gateway expects to be signed.
      Host: this.base.host,
      'X-Project-Id': this.projectId,
    };
    let headers: Record<string, string>;
    const credentials = this.currentCredentials();
    if (credentials.kind === 'aksk') {
      headers = signRequest({ method, path, query, headers: base, body: body ?? '' }, credentials, this.clock.now());
    } else {
      headers = { ...base, 'X-Auth-Token': credentials.token };
    }
    headers['User-Agent'] = 'rotator-ecs-client';
    return headers;
  }

  private currentCredentials(): EcsCredentials {
    const source = this.#credentials;
    if (typeof source !== 'function') return source;
    try {
      return source();
    } catch (error) {
      // Say which credentials and why (the provider's message names the variables), never their values.
      const why = error instanceof Error ? error.message : 'unknown error';
      throw new EcsApiError({ code: EcsClientErrorCode.credentialsUnavailable, message: `ECS credentials unavailable: ${why}`, retryable: false });
    }
  }

  private errorFromResponse(operation: string, res: HttpExchangeResponse, secrets: readonly string[]): EcsApiError {
    const text = res.body.toString('utf8');
    const parsed = parseErrorBody(text, secrets);
    const requestId = requestIdOf(res) ?? parsed?.requestId;
    const retryAfterMs = parseRetryAfter(headerString(res.headers['retry-after']), this.clock.now());
    const code = parsed?.code ?? (text.trim() === '' ? `HTTP_${res.status}` : 'BAD_RESPONSE');
    const failure: AttemptFailure = { kind: 'http', status: res.status, code: parsed?.code, retryAfterMs };
    const what = parsed
      ? `${parsed.code ?? 'no code'}${parsed.message ? `: ${parsed.message}` : ''}`
      : text.trim() === ''
        ? 'empty body'
        : `unreadable body (${describeContentType(res)}, ${res.body.length} bytes)`;
    return new EcsApiError({
      code,
      message: `ECS ${operation} failed: HTTP ${res.status} ${what}${requestId ? ` (request id ${requestId})` : ''}`,
      retryable: isRetryableFailure(this.retry, failure),
      retryAfterMs,
      httpStatus: res.status,
      requestId,
      huaweiCode: parsed?.code,
      huaweiMessage: parsed?.message,
      operation,
      internalErrors: parsed?.internalErrors,
      details: parsed?.details,
    });
  }

  private async sleep(ms: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
    if (ms <= 0) return;
    try {
      await this.clock.sleep(ms, signal);
    } catch {
      throw aborted(operation);
    }
  }
}

function checkServerIds(operation: string, serverIds: readonly string[]): void {
  if (serverIds.length === 0) {
    throw new EcsApiError({ code: EcsClientErrorCode.batchEmpty, message: `ECS ${operation}: serverIds is empty (expected 1 to ${MAX_SERVERS_PER_CALL} ids)`, retryable: false, operation });
  }
  if (serverIds.length > MAX_SERVERS_PER_CALL) {
    throw new EcsApiError({
      code: EcsClientErrorCode.batchTooLarge,
      message: `ECS ${operation}: ${serverIds.length} serverIds (expected at most ${MAX_SERVERS_PER_CALL}; split the batch)`,
      retryable: false,
      operation,
    });
  }
  const seen = new Set<string>();
  serverIds.forEach((id, i) => {
    checkId(operation, `serverIds[${i}]`, id);
    if (seen.has(id)) throw invalidArgument(`serverIds[${i}]: duplicate id ${id}`, operation);
    seen.add(id);
  });
}

function checkId(operation: string, field: string, value: string): void {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 128) {
    throw invalidArgument(`${field}: expected a non-empty id of at most 128 characters`, operation);
  }
}

function invalidArgument(message: string, operation?: string): EcsApiError {
  return new EcsApiError({ code: EcsClientErrorCode.invalidArgument, message: operation ? `ECS ${operation}: ${message}` : `ECS client: ${message}`, retryable: false, operation });
}

function aborted(operation: string): EcsApiError {
  return new EcsApiError({ code: EcsClientErrorCode.aborted, message: `ECS ${operation} aborted by the caller`, retryable: false, operation });
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function requestIdOf(res: HttpExchangeResponse): string | undefined {
  const id = headerString(res.headers['x-request-id']);
  return id ? scrubRemoteText(id, []) : undefined;
}

function describeContentType(res: HttpExchangeResponse): string {
  return scrubRemoteText(headerString(res.headers['content-type']) ?? 'no content-type', []).slice(0, 60);
}

function badResponse(operation: string, res: HttpExchangeResponse, problem: string): EcsApiError {
  const requestId = requestIdOf(res);
  return new EcsApiError({
    code: EcsClientErrorCode.badResponse,
    message: `ECS ${operation}: unexpected answer to HTTP ${res.status}: ${problem}${requestId ? ` (request id ${requestId})` : ''}`,
    // Not retried: a proxy answering HTML with 200 will do it again; the caller decides.
    retryable: false,
    httpStatus: res.status,
    requestId,
    operation,
  });
}

function parseJsonOrThrow(operation: string, res: HttpExchangeResponse): unknown {
  const text = res.body.toString('utf8');
  if (text.trim() === '') throw badResponse(operation, res, 'empty body, expected JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw badResponse(operation, res, `body is not JSON (${describeContentType(res)}, ${res.body.length} bytes)`);
  }
}

/**
 * The answer as `schema` reads it; a BAD_RESPONSE naming the field otherwise. `quick`, when given,
 * accepts the common case without zod (ecs-responses.ts): only values the schema accepts as they are.
 */
function validate<T extends z.ZodType>(operation: string, res: HttpExchangeResponse, schema: T, json: unknown, quick?: (json: unknown) => boolean): z.infer<T> {
  if (quick?.(json) === true) return json as z.infer<T>;
  const result = schema.safeParse(json);
  if (!result.success) throw badResponse(operation, res, `field ${describeSchemaProblem(result.error)}`);
  return result.data;
}
