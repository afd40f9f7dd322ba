import { z } from 'zod';
import { SIM_APIS } from './api-names.js';
import type { SimApi } from './api-names.js';

/**
 * Faults the simulator injects into Huawei API calls (never into `/__sim/`). Decisions come from a
 * PRNG seeded with `seed`, so a run is reproducible given the same requests in the same order.
 */
export interface SimulatorFaults {
  /** Added to every faultable call: `fixed` ms plus uniform jitter in [0, `jitter`). @defaultValue {fixed: 0, jitter: 0} */
  latencyMs: { fixed: number; jitter: number };
  /**
   * Gateway throttling: a token bucket per API (all APIs, regardless of `apis`); over it, 429
   * `APIGW.0308`, with `Retry-After: retryAfterSeconds` when set. `null` disables throttling.
   * @defaultValue {ratePerSecond: 200, burst: 200} (Huawei's default gateway limit per API)
   */
  throttle: { ratePerSecond: number; burst: number; retryAfterSeconds?: number | undefined } | null;
  /** Probability of 500 `Common.0001`. @defaultValue 0 */
  error500Probability: number;
  /** Probability of 503 `Common.1503`. @defaultValue 0 */
  error503Probability: number;
  /** Probability that the connection is destroyed instead of answered. @defaultValue 0 */
  connectionResetProbability: number;
  /** Probability that the call is never answered (the client must time out). @defaultValue 0 */
  hangProbability: number;
  /**
   * Whether 500/503/reset/hang strike before the call is processed (no state change) or after
   * (state changed, answer lost: the client's outcome is unknown, the hard case).
   * @defaultValue 'after-processing'
   */
  faultTiming: 'before-processing' | 'after-processing';
  /** Probability, per accepted server, that a reset is answered as accepted but never applied (in-guest script failed). @defaultValue 0 */
  acceptedNotAppliedProbability: number;
  /** Servers whose resets are always accepted but never applied. @defaultValue [] */
  acceptedNotAppliedServers: string[];
  /** APIs that latency and the random faults apply to. @defaultValue every API */
  apis: SimApi[];
  /** Seed of the fault PRNG; setting it restarts the sequence. @defaultValue 1 */
  seed: number;
}

export function defaultFaults(): SimulatorFaults {
  return {
    latencyMs: { fixed: 0, jitter: 0 },
    throttle: { ratePerSecond: 200, burst: 200 },
    error500Probability: 0,
    error503Probability: 0,
    connectionResetProbability: 0,
    hangProbability: 0,
    faultTiming: 'after-processing',
    acceptedNotAppliedProbability: 0,
    acceptedNotAppliedServers: [],
    apis: [...SIM_APIS],
    seed: 1,
  };
}

const probability = z.number().min(0).max(1);
const faultsPatchSchema = z
  .object({
    latencyMs: z.object({ fixed: z.number().int().min(0), jitter: z.number().int().min(0) }).strict(),
    throttle: z
      .object({
        ratePerSecond: z.number().positive(),
        burst: z.number().int().min(1),
        retryAfterSeconds: z.number().int().min(0).optional(),
      })
      .strict()
      .nullable(),
    error500Probability: probability,
    error503Probability: probability,
    connectionResetProbability: probability,
    hangProbability: probability,
    faultTiming: z.enum(['before-processing', 'after-processing']),
    acceptedNotAppliedProbability: probability,
    acceptedNotAppliedServers: z.array(z.string()),
    apis: z.array(z.enum(SIM_APIS)),
    seed: z.number().int(),
  })
  .partial()
  .strict();

export type SimulatorFaultsPatch = Partial<SimulatorFaults>;

/** Validates a (partial) faults object; throws an Error naming the field and what was expected. */
export function parseFaultsPatch(input: unknown, sourceName = 'faults'): SimulatorFaultsPatch {
  const parsed = faultsPatchSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? `${sourceName}.${issue.path.join('.')}` : sourceName;
    throw new Error(`${path}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data as SimulatorFaultsPatch;
}

/** Checks what no single field can: the random faults share one draw, so they must fit in [0, 1]. */
export function checkFaults(faults: SimulatorFaults): void {
  const sum = faults.error500Probability + faults.error503Probability + faults.connectionResetProbability + faults.hangProbability;
  if (sum > 1) {
    throw new Error(`faults: error500Probability + error503Probability + connectionResetProbability + hangProbability must not exceed 1 (got ${sum})`);
  }
}

/** What to do with one faultable call, decided before it is processed. */
export type FaultDecision = 'none' | 'error500' | 'error503' | 'connection-reset' | 'hang';

/** One draw decides among the four random faults (probabilities are cumulative). */
export function decideFault(faults: SimulatorFaults, draw: number): FaultDecision {
  let edge = faults.connectionResetProbability;
  if (draw < edge) return 'connection-reset';
  edge += faults.hangProbability;
  if (draw < edge) return 'hang';
  edge += faults.error500Probability;
  if (draw < edge) return 'error500';
  edge += faults.error503Probability;
  if (draw < edge) return 'error503';
  return 'none';
}
