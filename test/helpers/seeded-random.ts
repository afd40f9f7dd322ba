import type { RandomSource } from '../../src/ports/random-source.js';

/**
 * A deterministic RandomSource for tests ONLY (never for passwords that reach a server): the same
 * seed gives the same sequence, so a failing distribution or property test can be replayed.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, well regarded
 * in PractRand testing), seeded through splitmix32 so that nearby seeds give unrelated streams. Bounded
 * integers use rejection of the top partial range, so every value in [0, max) is exactly equally
 * likely: a biased helper would make the distribution tests lie.
 */
export function seededRandom(seed: number): RandomSource {
  let splitState = seed >>> 0;
  const splitmix32 = (): number => {
    splitState = (splitState + 0x9e3779b9) >>> 0;
    let z = splitState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let counter = 1;
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + counter) >>> 0;
    counter = (counter + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  // Discard the first outputs: sfc32's recommended warm-up.
  for (let i = 0; i < 15; i += 1) next32();

  return {
    int(maxExclusive: number): number {
      if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 2 ** 32) {
        throw new RangeError(`maxExclusive must be a whole number from 1 to 2^32, got ${String(maxExclusive)}`);
      }
      // Accept only values below the largest multiple of maxExclusive that fits in 2^32.
      const limit = 2 ** 32 - (2 ** 32 % maxExclusive);
      for (;;) {
        const value = next32();
        if (value < limit) return value % maxExclusive;
      }
    },
  };
}
