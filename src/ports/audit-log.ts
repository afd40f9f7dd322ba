/** The steps of one batch, named after the AWS rotation protocol (see rotation-design.md). */
export const AUDIT_STEPS = ['plan', 'createSecret', 'setSecret', 'finishSecret', 'restart', 'verify', 'record'] as const;
export type AuditStep = (typeof AUDIT_STEPS)[number];

/** One event per step and server. Ids, codes and outcomes only: never a password. */
export interface AuditEvent {
  /** Milliseconds since the epoch. */
  ts: number;
  runId: string;
  target: string;
  batchIndex: number;
  step: AuditStep;
  serverId: string;
  /** What the step concluded for the server, e.g. `accepted`, `stored`, `promoted`, or an outcome kind. */
  outcome: string;
  code?: string | undefined;
  versionId?: string | undefined;
  requestId?: string | undefined;
  /** Short human-readable detail (never a password). */
  detail?: string | undefined;
}

export interface StoredAuditEvent extends AuditEvent {
  /** The log's own id for the event (a Redis stream id). */
  id: string;
}

export interface AuditLog {
  append(events: readonly AuditEvent[]): Promise<void>;
  /** The latest events of one server, newest first, at most `limit`. The search is bounded (see adapter). */
  readServerHistory(serverId: string, limit: number): Promise<StoredAuditEvent[]>;
}
