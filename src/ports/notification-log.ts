/** One delivery of a notification to a channel, as recorded (never the body, the URL or a secret). */
export interface DeliveryRecord {
  /** Milliseconds since the epoch, when the delivery ended. */
  at: number;
  notificationId: string;
  channel: string;
  event: string;
  target: string;
  delivered: boolean;
  attempts: number;
  status: number | undefined;
  error: string | undefined;
}

export interface NotificationLog {
  append(record: DeliveryRecord): Promise<void>;
  /** Newest first. */
  recent(limit: number): Promise<DeliveryRecord[]>;
}

/**
 * Which servers of each target were overdue at the last check, so that a check reports only
 * transitions. Each method returns only the ids whose state THIS call changed: with several
 * processes checking at once, each transition is claimed (and notified) by exactly one.
 */
export interface OverdueIndex {
  /** Marks `serverIds` overdue; returns those that were not. */
  markOverdue(target: string, serverIds: readonly string[]): Promise<string[]>;
  /** Every server marked overdue for `target`. */
  overdue(target: string): Promise<string[]>;
  /** Unmarks `serverIds`; returns those that were marked. */
  clear(target: string, serverIds: readonly string[]): Promise<string[]>;
}
