/**
 * A source of uniformly distributed integers. Production code passes the cryptographic one
 * (`cryptoRandom` in src/adapters/crypto-random.ts); tests may pass a seeded one.
 */
export interface RandomSource {
  /** A uniformly distributed integer in [0, maxExclusive). `maxExclusive` is between 1 and 2^32. */
  int(maxExclusive: number): number;
}
