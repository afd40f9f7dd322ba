import type { EcsServer } from '../domain/server.js';

/** How one requested server fared in a batch reset call. */
export type ServerResetResult =
  /** Listed in the 200 `response`: Huawei accepted the request (not: the password changed). */
  | { serverId: string; kind: 'accepted' }
  /** Definitely refused, with Huawei's code (from `internalError`, or the whole call's error). */
  | { serverId: string; kind: 'rejected'; code: string; message: string }
  /** Sent, but no definite answer: in neither list, or retries ran out on a transient failure. */
  | { serverId: string; kind: 'unknown'; code: string; message: string };

export interface BatchResetResult {
  /** Exactly one entry per requested server id, in request order. */
  results: ServerResetResult[];
  /** `X-Request-Id` of the last response received, if any. */
  requestId: string | undefined;
}

export interface ServerFilter {
  /** `tags=key=value` filters (all must match). */
  tags?: Record<string, string> | undefined;
  /** Huawei matches `name` as a regular-expression-like fuzzy match. */
  name?: string | undefined;
  status?: string | undefined;
  enterpriseProjectId?: string | undefined;
}

export type RebootType = 'SOFT' | 'HARD';

export type EcsJobStatus = 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';

export interface EcsJob {
  jobId: string;
  status: EcsJobStatus;
  failReason: string | undefined;
  errorCode: string | undefined;
  subJobs: { serverId: string | undefined; status: EcsJobStatus; failReason: string | undefined; errorCode: string | undefined }[];
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/**
 * The Huawei ECS operations the rotation uses. Implemented by the signed HTTP client in
 * src/adapters/huawei-ecs/; failures are `EcsApiError` (a `RotatorError`).
 */
export interface EcsApi {
  /**
   * `PUT /v1/{project_id}/cloudservers/os-reset-passwords`, one password for all `serverIds`
   * (1 to 1000; more is refused before sending). Transient failures (throttling, 5xx, network,
   * timeout) are retried with the same body. Returns a classification of every server:
   * a whole-call definite rejection (e.g. 400 `Ecs.0011`) marks every server `rejected` with that
   * code; retries exhausted marks every server not already classified `unknown`.
   * Throws `EcsApiError` only when the run must stop: authentication or permission failures
   * (401/403), and request errors that no server can cause (`Ecs.0118`, malformed request).
   * With `dryRun`, Huawei checks the request and changes nothing; `password` may then be omitted.
   *
   * `rejected` needs a definite statement from Huawei (the server listed in `internalError`, or a 4xx
   * refusing the whole call); a server in neither list of a partial failure (a 400 `Ecs.0611` lists
   * only the refused servers, the others may well be changed), a 2xx that does not list it, or an
   * unreadable answer is `unknown`; so is a refusal of a resend after an attempt Huawei may have
   * carried out (a 5xx, a timeout, a dropped connection), since the first attempt may have caused it
   * (`REFUSED_AFTER_UNCERTAIN_ATTEMPT`). An abort through `options.signal` rejects with code `ABORTED`:
   * every server's outcome is then unknown to the caller.
   * The rules in full: src/adapters/huawei-ecs/batch-reset-classification.ts.
   */
  batchResetPasswords(
    input: { password: string | undefined; serverIds: readonly string[]; dryRun?: boolean },
    options?: CallOptions,
  ): Promise<BatchResetResult>;

  /** Every server matching the filter, fetched page by page (`offset` is a page number). */
  listServers(filter: ServerFilter, options?: CallOptions & { pageSize?: number }): AsyncIterable<EcsServer>;

  /** One server, or undefined when Huawei answers 404. */
  getServer(serverId: string, options?: CallOptions): Promise<EcsServer | undefined>;

  /** Whether the one-click reset plug-in is usable on the server (`resetpwd_flag`). */
  getResetPasswordFlag(serverId: string, options?: CallOptions): Promise<boolean>;

  /** Batch reboot (1 to 1000 servers); returns the job id to poll. */
  batchReboot(serverIds: readonly string[], type: RebootType, options?: CallOptions): Promise<{ jobId: string }>;

  getJob(jobId: string, options?: CallOptions): Promise<EcsJob>;

  /** Polls `getJob` until SUCCESS or FAIL, or throws `EcsApiError` code `JOB_DEADLINE` after `deadlineMs`. */
  waitForJob(jobId: string, options: CallOptions & { deadlineMs: number; pollIntervalMs?: number }): Promise<EcsJob>;
}
