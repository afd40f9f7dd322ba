/**
 * At most `limit` read attempts in flight, the others waiting in call order.
 *
 * Why: a batch asks for all its descriptions at once, and several batches plan at the same time. Let
 * loose together, their thousands of reads advance side by side (signing, sending, parsing all
 * interleaved), so every batch's plan ends when the last read of any batch ends, and the write quota
 * sits idle until then. Served first come, first served, the first batch's reads end first and its
 * writes start while the later batches still read. Writes never wait here: they are paced by the
 * write limiter.
 */
export class ReadGate {
  readonly #limit: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit: expected an integer >= 1, found ${limit}`);
    this.#limit = limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#inFlight += 1;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next caller in line, or is given back.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#inFlight -= 1;
    }
  }
}
