/**
 * The parent's handle on one worker child (worker-crash-child.ts): start it, wait for its crash
 * point or its readiness, SIGKILL it, and keep everything it printed for the secret scan.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ChildTarget, CrashSpec } from './worker-crash-protocol.js';

export interface WorkerChildEnv {
  PREFIX: string;
  VAULT_PATH: string;
  VAULT_KEY: string;
  SIM_URL: string;
  REGION: string;
  PROJECT_ID: string;
  LOCK_MS: string;
  STALLED_MS: string;
  /** The simulator's SSH port: the child's targets verify by login through it. */
  SSH_PORT: string;
}

export interface WorkerChild {
  readonly pid: number | undefined;
  /** Resolves once the child's workers listen. */
  readonly ready: Promise<void>;
  /** Resolves at its first side-effecting call. */
  readonly firstCall: Promise<void>;
  /** Resolves with the `at:` line (without `at:`) when the child stops at its crash point. */
  readonly stopped: Promise<string>;
  /** Rejects when the child exits before we kill it (a crash of its own: a bug, or a bad setup). */
  readonly died: Promise<never>;
  /** The last side-effecting call it announced (`<n>:<op>:<target>:b<batch>`), if any. */
  lastCall(): string | undefined;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

export function startWorkerChild(env: WorkerChildEnv, targets: readonly ChildTarget[], crash: CrashSpec | undefined): WorkerChild {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'worker-crash-child.ts')],
    {
      env: { ...process.env, ...env, TARGETS: JSON.stringify(targets), ...(crash ? { CRASH: JSON.stringify(crash) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let partial = '';
  let last: string | undefined;
  let killing = false;
  let onReady: () => void = () => undefined;
  let onStopped: (line: string) => void = () => undefined;
  let onFirstCall: () => void = () => undefined;
  const firstCall = new Promise<void>((resolve) => (onFirstCall = resolve));
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const stopped = new Promise<string>((resolve) => (onStopped = resolve));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const died = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) => {
      if (!killing) reject(new Error(`worker child exited on its own (code ${code}, signal ${signal}); stderr tail:\n${err.slice(-3000)}`));
    });
  });
  // Unobserved until a step races on it; a late rejection must not become an unhandled one.
  died.catch(() => undefined);

  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    out += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') onReady();
      else if (line.startsWith('call:')) {
        last = line.slice('call:'.length);
        onFirstCall();
      }
      else if (line.startsWith('at:')) onStopped(line.slice('at:'.length));
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));

  return {
    pid: child.pid,
    ready,
    firstCall,
    stopped,
    died,
    lastCall: () => last,
    output: () => `${out}\n${err}`,
    async kill() {
      killing = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
