import type { Clock } from '../ports/clock.js';

/**
 * The wall clock, the simulator's default. Tests inject their own clock instead (for the AK
 * lock-out, the 15-minute date window and reboot jobs) so that they never wait for real time.
 */
export function createRealClock(): Clock {
  return {
    now: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}
