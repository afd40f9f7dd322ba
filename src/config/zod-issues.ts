/**
 * Turns zod's issues into operator-facing `ConfigIssue`s: "file: field: expected X, found Y".
 *
 * Schemas in this directory attach their own "expected" wording where a generic one would be vague
 * (`an integer from 1 to 1000`); `expectedText` below words the rest. Values found are echoed only
 * through `describeFound`, and never for keys that look like secrets.
 */
import type { z } from 'zod';
import { configIssue, describeFound, SECRET_KEY_PATTERN, type ConfigIssue } from './config-issue.js';

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

const KNOWN_KEYS_LEAD = 'only the known keys ';

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

/** Error map passed to `safeParse`: words the "expected" half of every issue without its own message. */
export const expectedText: z.core.$ZodErrorMap = (issue: RawIssue) => {
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `at most ${String(issue.maximum)} characters`
        : issue.origin === 'array'
          ? `at most ${String(issue.maximum)} items`
          : `a number ${issue.inclusive === false ? 'below' : 'at most'} ${String(issue.maximum)}`;
    case 'too_small':
      return issue.origin === 'string'
        ? Number(issue.minimum) === 1
          ? 'a non-empty string'
          : `at least ${String(issue.minimum)} characters`
        : issue.origin === 'array'
          ? `at least ${String(issue.minimum)} item${Number(issue.minimum) === 1 ? '' : 's'}`
          : `a number ${issue.inclusive === false ? 'above' : 'at least'} ${String(issue.minimum)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? JSON.stringify(issue.values[0])
        : `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'unrecognized_keys': {
      const known = knownKeys(issue.inst);
      return known.length > 0 ? `${KNOWN_KEYS_LEAD}${known.join(', ')}` : 'no other keys';
    }
    case 'invalid_format':
      return issue.format === 'url' ? 'a URL' : `text in the format ${issue.format}`;
    case 'invalid_union':
      return 'one of the accepted forms';
    default:
      return undefined;
  }
};

function knownKeys(inst: unknown): string[] {
  // zod 4 keeps an object schema's shape at `_zod.def.shape`; read defensively (internal layout).
  const shape = (inst as { _zod?: { def?: { shape?: unknown } } } | undefined)?._zod?.def?.shape;
  return shape !== null && typeof shape === 'object' ? Object.keys(shape) : [];
}

/** `accounts[0].region`, `selector.tags["a.b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** Translates every issue of a failed parse; `prefix` is prepended to each path. */
export function toConfigIssues(file: string, issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      // The error map above listed the schema's keys in the message; suggest the nearest one.
      const known = issue.message.startsWith(KNOWN_KEYS_LEAD) ? issue.message.slice(KNOWN_KEYS_LEAD.length).split(', ') : [];
      for (const key of issue.keys) {
        if (SECRET_KEY_PATTERN.test(key)) {
          out.push(
            configIssue(
              file,
              formatPath([...path, key]),
              'no credentials in configuration files (set them in the environment, e.g. HUAWEI_AK/HUAWEI_SK or their _FILE forms; see README "Credentials")',
              `the key ${JSON.stringify(key)} (value not shown)`,
            ),
          );
          continue;
        }
        const suggestion = closest(key, known);
        out.push(
          configIssue(
            file,
            formatPath([...path, key]),
            issue.message,
            `the unknown key ${JSON.stringify(key)}${suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`}`,
          ),
        );
      }
      continue;
    }
    const params = issue.code === 'custom' ? (issue.params as { found?: unknown } | undefined) : undefined;
    // `awsSecretsManager` is a section name, not a secret; any other secret-looking segment hides the value.
    const secretPath = path.some((segment) => typeof segment === 'string' && segment !== 'awsSecretsManager' && SECRET_KEY_PATTERN.test(segment));
    const found =
      typeof params?.found === 'string'
        ? params.found
        : secretPath
          ? 'a value (not shown)'
          : describeFound(issue.input);
    out.push(configIssue(file, formatPath(path), issue.message, found));
  }
  return out;
}

/** The candidate nearest to `key` (case-insensitive edit distance ≤ 2, or same letters ignoring case). */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of new Set(candidates)) {
    if (candidate === '' || candidate === key) continue;
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
