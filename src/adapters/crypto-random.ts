import { randomInt } from 'node:crypto';
import type { RandomSource } from '../ports/random-source.js';

/** The largest bound the RandomSource port allows (and node:crypto randomInt handles: max - min < 2^48). */
const MAX_BOUND = 2 ** 32;

/**
 * The production RandomSource: node:crypto `randomInt`, which draws from the OS CSPRNG and rejects
 * out-of-range values instead of reducing modulo the bound, so every integer in [0, max) is exactly
 * equally likely (no modulo bias).
 */
export const cryptoRandom: RandomSource = {
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > MAX_BOUND) {
      throw new RangeError(`maxExclusive must be a whole number from 1 to 2^32, got ${String(maxExclusive)}`);
    }
    // randomInt(1) would also work (always 0) but requires min < max; keep the port's contract for 1.
    return maxExclusive === 1 ? 0 : randomInt(maxExclusive);
  },
};
