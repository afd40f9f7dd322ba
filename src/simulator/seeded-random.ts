/**
 * A small seeded PRNG (mulberry32) so that a simulator run is reproducible: the same seed gives the
 * same fleet and the same sequence of fault decisions. NOT cryptographic: never use it for anything
 * secret (the simulator's initial passwords and fingerprint salt come from node:crypto).
 */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** True with probability `p` (always draws, so the sequence does not depend on `p`). */
  chance(p: number): boolean;
}

export function createSeededRandom(seed: number): SeededRandom {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (maxExclusive) => Math.floor(next() * maxExclusive),
    chance: (p) => next() < p,
  };
}

/** A UUID-looking (version 4 layout) id drawn from the seeded PRNG, so fleets are reproducible. */
export function seededUuid(random: SeededRandom): string {
  const hex = Array.from({ length: 32 }, () => random.int(16).toString(16));
  const variant = ((random.int(4) + 8) as number).toString(16);
  hex[12] = '4';
  hex[16] = variant;
  // One join of single characters: a flat string. Slices and template literals of a longer string
  // would make V8 keep sliced/cons strings, several times the size, once per server of a 100k fleet.
  return [...hex.slice(0, 8), '-', ...hex.slice(8, 12), '-', ...hex.slice(12, 16), '-', ...hex.slice(16, 20), '-', ...hex.slice(20)].join('');
}
