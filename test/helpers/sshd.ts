/**
 * A real OpenSSH server for tests (Debian's openssh-server): `/usr/sbin/sshd -D -f <own config> -p
 * <free loopback port>` with its own ed25519 host key in a temporary directory, and a throwaway
 * user with a password, created with useradd/chpasswd and removed afterwards. Needs root (sshd must
 * run as root to check passwords, and only root creates users); `sshdUnavailableReason()` says why
 * it cannot run elsewhere. `.ci/run` installs openssh-server when it is missing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';

export const SSHD_PATH = '/usr/sbin/sshd';

/** Undefined when a real sshd can run here; otherwise the reason, to print with the skip. */
export function sshdUnavailableReason(): string | undefined {
  if (!existsSync(SSHD_PATH)) return `${SSHD_PATH} is not installed (apt-get install openssh-server; .ci/run does it)`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root: sshd needs root to check passwords and to create the throwaway user';
  for (const tool of ['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/sbin/chpasswd', '/usr/bin/ssh-keygen']) {
    if (!existsSync(tool)) return `${tool} is missing`;
  }
  return undefined;
}

export interface RealSshd {
  port: number;
  user: string;
  password: string;
  /** sshd's own log (LogLevel VERBOSE): which logins it saw. */
  log(): string;
  /** Stops sshd (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

export interface ThrowawayUser {
  user: string;
  password: string;
  remove(): void;
}

/** A local user with a random password, locked home-less, removed by `remove()`. The password goes through chpasswd's stdin, never argv. */
export function createThrowawayUser(): ThrowawayUser {
  const user = `rtv${randomBytes(4).toString('hex')}`;
  // Huawei-like: upper, lower, digit, special.
  const password = `Tv-${randomBytes(9).toString('base64url')}9a!`;
  execFileSync('/usr/sbin/useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user], { stdio: 'pipe' });
  try {
    execFileSync('/usr/sbin/chpasswd', [], { input: `${user}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    execFileSync('/usr/sbin/userdel', [user], { stdio: 'pipe' });
    throw error;
  }
  return {
    user,
    password,
    remove: () => {
      try {
        execFileSync('/usr/sbin/userdel', [user], { stdio: 'pipe' });
      } catch {
        // Already gone.
      }
    },
  };
}

/** Starts sshd for `user` on a free loopback port with a fresh host key; resolves once it accepts connections. */
export async function startSshd(user: string, password: string): Promise<RealSshd> {
  // sshd's privilege separation directory; Debian's init creates it, a container may not have it.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'rotator-sshd-'));
  chmodSync(dir, 0o700);
  const hostKey = join(dir, 'host');
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey], { stdio: 'pipe' });
  const logFile = join(dir, 'sshd.log');
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      // Passwords are checked against /etc/shadow directly: no PAM session modules in a container.
      'UsePAM no',
      'MaxAuthTries 6',
      'LoginGraceTime 30',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const port = await freePort();
  const child: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', config, '-p', String(port), '-E', logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;

  const deadline = Date.now() + 15_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 50))]);
    if (early !== 'running') {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd exited with ${early} before accepting connections: ${log()}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`sshd did not accept connections on 127.0.0.1:${port} within 15 s: ${log()}`);
    }
  }
  return {
    port,
    user,
    password,
    log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
