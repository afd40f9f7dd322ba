/**
 * Removes secrets from anything about to be logged, at any depth.
 *
 * pino's `redact` only covers the paths it is given (and one-level wildcards), so a password nested
 * one level deeper than anyone listed, say inside an SDK error's `$response.body`, would be printed.
 * This scrubber is the second line: it walks the whole value and replaces the value of every key that
 * looks like a secret, serialises errors itself (cause chains and own properties included) so that
 * nothing reaches pino's error serializer unscrubbed, and masks `key=value` / `"key":"value"` pairs and
 * URL passwords inside strings (JSON parse errors and HTTP libraries quote bodies in messages).
 */

export const REDACTED = '[Redacted]';

/** Keys whose value is a secret: password, secret, token and other credential-like names; see test/unit/logger.test.ts. */
export const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|authorization|^sk$|cookie|credential|private_?key|api_?key|signature/i;

const MAX_DEPTH = 12;
const MAX_STRING = 16_384;

// `"new_password":"x"`, `password=x`, `X-Auth-Token: x`, `Authorization: SDK-HMAC-SHA256 ...`. The key
// part reuses SECRET_KEY's words; the value runs to the next quote, comma, ampersand or line end.
const INLINE_PAIR =
  /((?:["']?)[\w.-]*(?:pass(?:word|wd|phrase)?|secret|token|authorization|credential|api_?key|private_?key)[\w.-]*["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,&;}]+(?:[ \t]+[^\s,&;}]+)*)/gi;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi;

/** Masks secrets that appear inside free text. */
export function scrubText(text: string): string {
  const cut = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…[truncated]` : text;
  return cut.replace(URL_PASSWORD, '$1***@').replace(INLINE_PAIR, (_match, key: string, value: string) => {
    const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    return `${key}${quote}${REDACTED}${quote}`;
  });
}

/** A deep copy of `value` with every secret replaced; never mutates its argument. */
export function scrubSecrets(value: unknown): unknown {
  return scrub(value, 0, new WeakSet());
}

function scrub(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  // A Buffer or typed array may hold key material or a raw request body: never print its bytes.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  seen.add(value);
  try {
    if (value instanceof Error) return scrubError(value, depth, seen);
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1, seen));
    if (value instanceof Map) return scrubEntries([...value.entries()].map(([k, v]) => [String(k), v]), depth, seen);
    if (value instanceof Set) return [...value].map((item) => scrub(item, depth + 1, seen));
    return scrubEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function scrubEntries(entries: [string, unknown][], depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries) {
    out[key] = SECRET_KEY.test(key) && child !== undefined && child !== null ? REDACTED : scrub(child, depth + 1, seen);
  }
  return out;
}

/** Like pino's error serializer (type, message, stack, own properties, cause), but scrubbed. */
function scrubError(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.constructor?.name ?? error.name,
    message: scrubText(error.message),
    stack: typeof error.stack === 'string' ? scrubText(error.stack) : undefined,
  };
  for (const [key, child] of Object.entries(error)) {
    if (key in out) continue;
    out[key] = SECRET_KEY.test(key) && child !== undefined && child !== null ? REDACTED : scrub(child, depth + 1, seen);
  }
  if (error.cause !== undefined) out.cause = scrub(error.cause, depth + 1, seen);
  if (error instanceof AggregateError) out.errors = scrub(error.errors, depth + 1, seen);
  return out;
}
