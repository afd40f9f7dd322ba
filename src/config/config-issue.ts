/**
 * One problem found in the configuration. The loader collects every issue from every file before
 * reporting, so an operator fixes all of them in one pass instead of one per restart.
 */
export interface ConfigIssue {
  /** The file the problem is in, relative to the working directory when inside it; or an env variable name. */
  file: string;
  /** Dotted field path inside the file (`selector.tags.rotate`, `accounts[0].region`); `line L, column C` for a YAML syntax error; "" for the file itself. */
  path: string;
  /** What was expected, e.g. `an integer from 1 to 1000`. */
  expected: string;
  /** What was found, e.g. `5000`. Never a secret: values at secret-looking paths are not echoed. */
  found: string;
  /** The whole line: `jobs/web.yaml: batchSize: expected an integer from 1 to 1000, found 5000`. */
  message: string;
}

export function configIssue(file: string, path: string, expected: string, found: string): ConfigIssue {
  const where = path === '' ? file : `${file}: ${path}`;
  return { file, path, expected, found, message: `${where}: expected ${expected}, found ${found}` };
}

/** Thrown by `loadConfig` callers (and by the accessors of a loaded config) when config cannot be used. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly retryable = false;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `  ${issue.message}`).join('\n');
    super(`configuration has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Keys whose values are never echoed back in an issue, and which YAML may never hold. */
export const SECRET_KEY_PATTERN = /pass(word)?|secret|token|authorization|credential|^sk$|^ak$|access_?key|private_?key/i;

/**
 * A short, safe description of a value for the `found` part of a message: scalars verbatim
 * (strings quoted and cut at 60 characters), containers by kind. URL passwords are masked so that a
 * malformed `redis.url` does not print its password.
 */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') {
    const masked = maskUrlPassword(value);
    const cut = masked.length > 60 ? `${masked.slice(0, 57)}...` : masked;
    return value === '' ? 'an empty string' : JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** `redis://user:pw@host` → `redis://user:***@host`; leaves other strings alone. */
export function maskUrlPassword(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, '$1***@');
}
