/**
 * Positions in a list as ranges (`0-997,999`): how a batch's return value names its accepted
 * servers, by their place in the batch job's `serverIds`, so that a return value kept three times
 * in Redis does not repeat a thousand server ids the job already holds.
 */

/** Ascending, distinct positions ≥ 0 as `a-b,c` (an empty list: ''). */
export function formatRanges(positions: readonly number[]): string {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i] as number;
    i++;
    parts.push(end === start ? String(start) : `${start}-${end}`);
  }
  return parts.join(',');
}

/** What {@link formatRanges} accepts back; checked by the job schema before any parse. */
export const RANGES_PATTERN = /^(?:\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)?$/;

/** The positions of `ranges`, ascending; throws on a malformed or descending range. */
export function parseRanges(ranges: string): number[] {
  if (!RANGES_PATTERN.test(ranges)) throw new Error(`position ranges: expected like 0-997,999, found ${JSON.stringify(ranges.slice(0, 40))}`);
  const out: number[] = [];
  for (const part of ranges === '' ? [] : ranges.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    if (b < a || b - a > 100_000) throw new Error(`position ranges: bad range ${part}`);
    for (let p = a; p <= b; p++) out.push(p);
  }
  return out;
}

/** How many positions `ranges` names, without listing them. */
export function countRanges(ranges: string): number {
  if (!RANGES_PATTERN.test(ranges)) throw new Error(`position ranges: expected like 0-997,999, found ${JSON.stringify(ranges.slice(0, 40))}`);
  let n = 0;
  for (const part of ranges === '' ? [] : ranges.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    n += Math.max(0, b - a + 1);
  }
  return n;
}
