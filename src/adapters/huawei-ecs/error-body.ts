import type { EcsInternalError } from './ecs-api-error.js';

/**
 * Huawei's two error body formats, read leniently (an error answer must never crash the client):
 * - the ECS service: `{"error": {"code", "message", "details"?: [{code, message}]}, "internalError"?: [{id, error_code, error_message}]}`
 *   (entries are documented with `error_message`; some answers carry `error_msg`, the gateway's
 *   spelling, instead: both are read);
 * - the API gateway: `{"error_code", "error_msg", "request_id"}`.
 * Some ECS answers also put `code`/`message` at the top level; that is read too.
 */
export interface ParsedErrorBody {
  code: string | undefined;
  message: string | undefined;
  requestId: string | undefined;
  internalErrors: EcsInternalError[];
  details: { code: string; message: string }[];
}

/** Longest piece of remote text kept in an error (a gateway may answer a whole HTML page). */
const MAX_REMOTE_TEXT = 300;

/** Undefined when the body is not a JSON object (HTML, empty, truncated, …). */
export function parseErrorBody(text: string, secrets: readonly string[]): ParsedErrorBody | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(json)) return undefined;
  const scrub = (value: unknown): string | undefined => (typeof value === 'string' ? scrubRemoteText(value, secrets) : undefined);

  const nested = isObject(json.error) ? json.error : undefined;
  const code = scrub(nested?.code) ?? scrub(json.error_code) ?? scrub(json.code);
  const message = scrub(nested?.message) ?? scrub(json.error_msg) ?? scrub(json.message);
  const requestId = scrub(json.request_id);

  const internalErrors: EcsInternalError[] = [];
  const rawInternal = json.internalError ?? json.internal_error;
  if (Array.isArray(rawInternal)) {
    for (const entry of rawInternal) {
      if (!isObject(entry) || typeof entry.id !== 'string') continue;
      internalErrors.push({
        serverId: entry.id,
        code: scrub(entry.error_code) ?? scrub(entry.code) ?? code ?? 'UNKNOWN',
        message: scrub(entry.error_message) ?? scrub(entry.error_msg) ?? scrub(entry.message) ?? '',
      });
    }
  }
  const details: { code: string; message: string }[] = [];
  if (Array.isArray(nested?.details)) {
    for (const d of nested.details) {
      if (isObject(d)) details.push({ code: scrub(d.code) ?? '', message: scrub(d.message) ?? '' });
    }
  }
  if (code === undefined && message === undefined && internalErrors.length === 0) return undefined;
  return { code, message, requestId, internalErrors, details };
}

/**
 * Makes remote text safe to keep in an error or a log line: the request's secrets removed (should
 * Huawei, or a proxy, ever echo the password), control characters flattened, length bounded.
 */
export function scrubRemoteText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('[REDACTED]');
  }
  out = out.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return out.length > MAX_REMOTE_TEXT ? `${out.slice(0, MAX_REMOTE_TEXT)}…` : out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
