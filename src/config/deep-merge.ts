/**
 * Layers an override document over a base: mappings merge key by key, everything else (lists
 * included) replaces. Lists replace rather than concatenate so that an operator's `accounts:` is the
 * whole list of accounts, not the demo account plus theirs.
 */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (!isMapping(base) || !isMapping(override)) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Whether `doc` provides the value at `path`. Reaching a list counts as providing everything below
 * it, since a list replaces the base's list whole.
 */
export function provides(doc: unknown, path: readonly PropertyKey[]): boolean {
  let current = doc;
  for (const segment of path) {
    if (Array.isArray(current)) return true;
    if (!isMapping(current) || !(String(segment) in current)) return false;
    current = current[String(segment)];
  }
  return true;
}

/** Freezes plain objects and arrays recursively; returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && (Array.isArray(value) || isPlain(value))) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
