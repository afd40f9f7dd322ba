/**
 * An exclusive lock between processes on ONE host, without native dependencies.
 *
 * Why a lock file: Node has no flock/fcntl binding, and a native module would complicate the image.
 * Creating a file that must not exist yet (here `link()` of a prepared temp file, which fails with
 * EEXIST like O_CREAT|O_EXCL) is atomic on local file systems, so exactly one process creates the
 * lock file, already holding its pid, host name and a random nonce; it removes it on release.
 *
 * Stale locks: a holder SIGKILLed between acquire and release leaves the file behind. A waiter that
 * sees a lock whose pid is no longer alive ON THIS HOST breaks it. Two waiters may judge the same
 * lock stale at once; if both simply unlinked it, the second could delete the lock the first has
 * just taken. So breaking happens under a second, short-lived "break" lock (`<lock>.break`, also
 * taken with 'wx'): its holder re-reads the lock, checks that it still holds the very nonce judged
 * stale, and only then unlinks it. The break lock is held for a few microseconds; one older than
 * BREAK_LOCK_STALE_MS whose holder is gone was left by a process killed inside that window and is
 * removed. One whose holder lives is left alone (its holder was paused inside that window, and
 * resumed it would delete a lock taken meanwhile): waiters wait, as for a held lock.
 *
 * The file operations are synchronous: each is one short system call on a local file system (the
 * only kind this lock supports), while the promise forms cost a thread-pool round trip each, many
 * times that on the event loop, and a commit takes and releases the lock (about ten of them).
 *
 * Limits (documented in the README): same host only. Different hosts (NFS, shared volumes across
 * machines) are NOT supported: O_EXCL is unreliable on old NFS and a remote pid cannot be checked;
 * a lock held by another host name is never broken, and waiters time out with VAULT_LOCK_TIMEOUT.
 * Containers sharing a volume have separate pid namespaces but normally distinct host names, so the
 * same rule keeps them safe (they time out instead of breaking a live lock). A reused pid makes a
 * stale lock look alive: waiters time out with a clear error naming the lock file to remove.
 *
 * Except for the commonest reuse, our own pid: a container restarted after its process died holding
 * the lock (OOM, SIGKILL, power loss) runs the service as pid 1 again, under the same host name, and
 * would otherwise wait on a lock "held by a live process" (itself) on every start, for ever. A
 * process knows which locks it holds (HELD_NONCES), so a lock naming this pid and host under a nonce
 * this process does not hold was left by an earlier process with the same pid, and is stale.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, linkSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { FileTooLargeError, readFileBoundedSync } from '../../config/bounded-read.js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.js';
import { VaultErrorCode } from '../../domain/error-codes.js';
import { ioError, vaultError } from './vault-errors.js';
import { isProcessAlive } from './process-alive.js';

const BREAK_LOCK_STALE_MS = 10_000;

/** The nonces of the locks this process holds now (any path): see "our own pid" above. */
const HELD_NONCES = new Set<string>();

/** Whether `owner` (a lock on this host) is held by a live process: not ours unless we hold its nonce. */
function ownerAlive(owner: LockOwner): boolean {
  if (owner.pid === process.pid) return HELD_NONCES.has(owner.nonce);
  return isProcessAlive(owner.pid);
}
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 100;

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
  acquiredAt: number;
}

export interface FileLockOptions {
  /** The lock file, e.g. `<vault>.lock`. */
  path: string;
  /** How long `acquire` waits for another holder before failing with VAULT_LOCK_TIMEOUT. */
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
}

/** A held lock; `release` is idempotent. */
export interface HeldLock {
  release(): Promise<void>;
}


/** Removes `path`, ignoring every failure (a temp file already gone, or left for start-up to clear). */
function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // see above
  }
}

function readOwner(path: string): LockOwner | undefined | 'unreadable' {
  let text: string;
  try {
    // A lock file holds a small JSON owner (about 120 bytes); anything bigger is not ours (read at most 4 KiB of it).
    text = readFileBoundedSync(path, 4 * 1024).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof FileTooLargeError) return 'unreadable';
    throw ioError('reading lock', path, error);
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.nonce === 'string') return owner;
  } catch {
    // fall through
  }
  // Created but not yet written (the holder is between open and write), or a foreign file.
  return 'unreadable';
}

/**
 * Creates `path` exclusively, already holding `content`; false when it already exists.
 * The content goes to a temp file first, which is then hard-linked to `path`: link() fails with
 * EEXIST like O_EXCL, but the lock never exists empty, so a holder killed at any instant leaves a
 * lock naming its pid (which the next waiter can judge) rather than an anonymous empty file.
 */
function createExclusive(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      const bytes = Buffer.from(content, 'utf8');
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError('creating lock', path, error);
  } finally {
    unlinkQuietly(temp);
  }
}

export async function acquireFileLock(options: FileLockOptions): Promise<HeldLock> {
  const { path, timeoutMs, clock, logger } = options;
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex'), acquiredAt: clock.now() };
  const content = JSON.stringify(me);
  const deadline = clock.now() + timeoutMs;
  let backoff = FIRST_BACKOFF_MS;
  let lastOwner: LockOwner | 'unreadable' | undefined;
  for (;;) {
    if (createExclusive(path, content)) {
      HELD_NONCES.add(me.nonce);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          HELD_NONCES.delete(me.nonce);
          // Only remove the lock if it is still ours (it cannot be otherwise unless someone
          // deleted it by hand; then deleting another holder's lock would be worse).
          const owner = readOwner(path);
          if (owner !== undefined && owner !== 'unreadable' && owner.nonce === me.nonce) {
            try {
              unlinkSync(path);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('removing lock', path, error);
            }
          }
        },
      };
    }
    lastOwner = readOwner(path);
    if (lastOwner !== undefined && lastOwner !== 'unreadable' && lastOwner.host === me.host && !ownerAlive(lastOwner)) {
      // Another breaker at work: wait like any waiter (its break lock may stay, see breakStaleLock).
      if (await breakStaleLock(path, lastOwner, clock, logger)) continue;
    } else if (lastOwner === 'unreadable' && isOld(path, clock)) {
      // Not written by this code (which never leaves an empty or partial lock): judge it by age.
      if (await breakStaleLock(path, 'unreadable', clock, logger)) continue;
    }
    if (clock.now() >= deadline) {
      const holder =
        lastOwner === undefined || lastOwner === 'unreadable'
          ? 'an unknown holder'
          : `pid ${lastOwner.pid} on ${lastOwner.host} since ${new Date(lastOwner.acquiredAt).toISOString()}`;
      throw vaultError(
        VaultErrorCode.lockTimeout,
        `file vault: lock ${path} still held by ${holder} after ${timeoutMs} ms (if that process is gone, remove the lock file)`,
        true,
      );
    }
    // Full jitter keeps several waiting processes from retrying in lock-step.
    await clock.sleep(Math.min(randomInt(backoff + 1), Math.max(0, deadline - clock.now())));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

/** Whether the break lock at `path` names a live process of this host (unreadable: judged by age alone). */
function breakerAlive(path: string): boolean {
  const owner = readOwner(path);
  if (owner === undefined || owner === 'unreadable') return false;
  if (owner.host !== hostname()) return true; // never judged from another host
  // This process never leaves its own break lock behind (taken and removed without a pause in
  // between), so one naming its pid was left by an earlier process with that pid.
  return owner.pid !== process.pid && isProcessAlive(owner.pid);
}

function isOld(path: string, clock: Clock): boolean {
  try {
    return clock.now() - statSync(path).mtimeMs > BREAK_LOCK_STALE_MS;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError('checking lock', path, error);
  }
}

/**
 * Removes the lock at `path` if it still is the one judged stale (same nonce, or still unreadable
 * and old). False when another breaker's break lock was in the way (and left in place).
 */
async function breakStaleLock(path: string, stale: LockOwner | 'unreadable', clock: Clock, logger: Logger): Promise<boolean> {
  const breakPath = `${path}.break`;
  const breaker = JSON.stringify({ pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex'), acquiredAt: clock.now() });
  if (!createExclusive(breakPath, breaker)) {
    // Someone else is breaking it. Their break lock is only ever held for microseconds; if it is
    // old and its holder is gone, that holder died inside that window. Old but alive, the holder
    // was paused (a stopped process, a frozen VM) between reading the stale lock and removing it:
    // removing its break lock would let it, once resumed, delete a lock taken meanwhile.
    if (isOld(breakPath, clock) && !breakerAlive(breakPath)) {
      unlinkQuietly(breakPath);
      return true;
    }
    return false;
  }
  try {
    const owner = readOwner(path);
    const stillStale =
      stale === 'unreadable'
        ? owner === 'unreadable' && isOld(path, clock)
        : owner !== undefined && owner !== 'unreadable' && owner.nonce === stale.nonce;
    if (stillStale) {
      unlinkSync(path);
      logger.warn(
        { lock: path, deadPid: stale === 'unreadable' ? undefined : stale.pid },
        'file vault: removed a stale lock left by a process that died',
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('breaking stale lock', path, error);
  } finally {
    unlinkQuietly(breakPath);
  }
  return true;
}
