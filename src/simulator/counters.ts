/** Request counts per API and outcome, for tests and the `/__sim/counters` endpoint. */
export interface SimulatorCounters {
  /** api (or `unrouted`) → HTTP status (or `connection-reset`, `hang`) → count. */
  requests: Record<string, Record<string, number>>;
  /** Resets answered "accepted" whose password was not applied (fault `acceptedNotApplied*`). */
  acceptedNotApplied: number;
  total: number;
}

export class CounterBook {
  private readonly requests = new Map<string, Map<string, number>>();
  private total = 0;

  record(api: string, outcome: number | 'connection-reset' | 'hang'): void {
    let byOutcome = this.requests.get(api);
    if (!byOutcome) this.requests.set(api, (byOutcome = new Map()));
    const key = String(outcome);
    byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
    this.total += 1;
  }

  /** `acceptedNotApplied` is counted by the fleet state, which knows it. */
  snapshot(acceptedNotApplied: number): SimulatorCounters {
    const requests: Record<string, Record<string, number>> = {};
    for (const [api, byOutcome] of this.requests) requests[api] = Object.fromEntries(byOutcome);
    return { requests, acceptedNotApplied, total: this.total };
  }
}
