/**
 * What worker-crash.test.ts and its child (worker-crash-child.ts) exchange: the targets the child
 * serves and where it must stop. Passed as JSON in the environment; never a password.
 */

/** One target as the child's worker sees it (selector: explicit ids). */
export interface ChildTarget {
  name: string;
  serverIds: string[];
  batchSize: number;
  uniquePerServer: boolean;
  restartPolicy: 'none' | 'soft' | 'hard';
}

/**
 * Stop before or after the `nth` call of `op` made by the child process (`*`: the nth
 * side-effecting call of any kind; `op` calls of `target` only, when given). Ops: ensureSecret, putPending, promote,
 * moveLabel:<PENDING|UNCONFIRMED|ACTIVE>, removeLabel:<PENDING|UNCONFIRMED|ACTIVE>,
 * batchResetPasswords, batchReboot, recordOutcomes, releaseLocks.
 */
export interface CrashSpec {
  when: 'before' | 'after';
  op: string;
  nth: number;
  /** Count only the calls made for this target's batches. @defaultValue every target */
  target?: string;
}
