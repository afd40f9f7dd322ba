import type { OutcomeKind, ServerOutcome } from '../domain/outcome.js';

/** The last known rotation state of one server (what `rotator status` shows). Never holds a password. */
export interface ServerState {
  serverId: string;
  /** The target of the run that last touched the server. */
  target: string;
  runId: string;
  status: OutcomeKind;
  /** Milliseconds since the epoch. */
  lastAttemptAt: number;
  /** Last time the outcome was `rotated` or `pending-restart` (the reset was accepted). */
  lastSuccessAt: number | undefined;
  versionId: string | undefined;
  errorCode: string | undefined;
  reason: string | undefined;
  requestId: string | undefined;
  /** Outcomes `failed` or `unknown` in a row; reset by an accepted reset. */
  consecutiveFailures: number;
  /** The first `failed`/`unknown` attempt of the current run of failures; undefined after a success. */
  failingSince: number | undefined;
}

export interface OutcomeRecord {
  target: string;
  runId: string;
  /** Milliseconds since the epoch. */
  at: number;
  outcome: ServerOutcome;
}

export interface OutcomeStore {
  /** Stores each server's new state (and indexes it under its target), in order. */
  recordMany(records: readonly OutcomeRecord[]): Promise<void>;
  getServer(serverId: string): Promise<ServerState | undefined>;
  /** States of every server recorded under `target`, streamed in pages. */
  listTarget(target: string): AsyncIterable<ServerState>;
  /** How many servers of `target` are in each state. */
  countTarget(target: string): Promise<Record<OutcomeKind, number>>;
  /** Every target with at least one recorded server. */
  listTargets(): Promise<string[]>;
}
