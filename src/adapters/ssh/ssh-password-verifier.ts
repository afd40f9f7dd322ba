import { createHash } from 'node:crypto';
import type { Client as SshClient } from 'ssh2';
import type { AnyAuthMethod, ClientErrorExtensions, ConnectConfig, KeyboardInteractiveAuthMethod, PasswordAuthMethod } from 'ssh2';
import { VerificationCode } from '../../domain/error-codes.js';
import type { Clock } from '../../ports/clock.js';
import type { HostKeyRecord, HostKeyStore, LoginOptions, LoginResult, LoginTarget, PasswordVerifier } from '../../ports/password-verifier.js';

export interface SshPasswordVerifierOptions {
  hostKeys: HostKeyStore;
  clock: Clock;
  /** Whole attempt, from connect to the end of authentication. @defaultValue 10000 */
  timeoutMs?: number | undefined;
}

export const DEFAULT_SSH_TIMEOUT_MS = 10_000;

/**
 * ssh2 is loaded at the first login, not when this module is imported: every worker builds a
 * verifier, and ssh2 costs a process that never verifies by login about 13 MB.
 */
let ssh2Client: Promise<typeof SshClient> | undefined;
function loadClient(): Promise<typeof SshClient> {
  ssh2Client ??= import('ssh2').then((m) => m.Client);
  return ssh2Client;
}

/**
 * Logs in over SSH with a password (method `password`, and `keyboard-interactive` answering every
 * prompt with it, as servers with PAM-only password logins ask), runs nothing, and disconnects.
 *
 * Host keys: trust on first use. The first key a server shows is recorded in the HostKeyStore;
 * afterwards a different key fails the attempt before any password is sent (ssh2 checks the host
 * key during the key exchange, before user authentication), as `unreachable` with code
 * `HOST_KEY_CHANGED`: it is not a login.
 *
 * Results never carry the password: reasons are built from codes, ssh2's error levels and the address.
 */
export class SshPasswordVerifier implements PasswordVerifier {
  readonly #hostKeys: HostKeyStore;
  readonly #clock: Clock;
  readonly #timeoutMs: number;

  constructor(options: SshPasswordVerifierOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_SSH_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new Error(`ssh verifier: timeoutMs must be an integer of at least 100, found ${timeoutMs}`);
    this.#hostKeys = options.hostKeys;
    this.#clock = options.clock;
    this.#timeoutMs = timeoutMs;
  }

  async tryLogin(target: LoginTarget, password: string, options?: LoginOptions): Promise<LoginResult> {
    const Client = await loadClient();
    const where = `${target.username}@${target.address}:${target.port}`;
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    return new Promise<LoginResult>((resolve) => {
      const client = new Client();
      let done = false;
      let hostKeyProblem: { code: string; reason: string } | undefined;
      let authenticating = false;
      const finish = (result: LoginResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        options?.signal?.removeEventListener('abort', onAbort);
        client.removeAllListeners('ready');
        // Keep an error listener: ssh2 may still emit while the socket closes.
        client.on('error', () => {});
        client.end();
        // end() waits for the peer; a hung server must not keep the socket (or the process) alive.
        setImmediate(() => client.destroy());
        resolve(result);
      };
      const timer = setTimeout(
        () =>
          finish({
            kind: 'unreachable',
            code: VerificationCode.timeout,
            reason: `${where}: no ${authenticating ? 'answer to the login' : 'SSH handshake'} within ${timeoutMs} ms`,
          }),
        timeoutMs,
      );
      const onAbort = (): void => finish({ kind: 'unreachable', code: VerificationCode.aborted, reason: `${where}: aborted` });
      if (options?.signal?.aborted) {
        onAbort();
        return;
      }
      options?.signal?.addEventListener('abort', onAbort, { once: true });

      const hostVerifier = (key: Buffer, verify: (valid: boolean) => void): void => {
        const seen: HostKeyRecord = { fingerprint: fingerprintOf(key), keyType: keyTypeOf(key), address: target.address, firstSeenAt: this.#clock.now() };
        this.#hostKeys.remember(target.serverId, seen).then(
          (known) => {
            if (known.fingerprint === seen.fingerprint) {
              authenticating = true;
              verify(true);
              return;
            }
            hostKeyProblem = {
              code: VerificationCode.hostKeyChanged,
              reason:
                `${where}: the host key changed (${seen.keyType} ${seen.fingerprint}; recorded ${known.keyType} ${known.fingerprint} ` +
                `at ${known.address} on ${new Date(known.firstSeenAt).toISOString()}); no password was sent. If the server was ` +
                `rebuilt, forget its key: rotator verify --forget-host-key ${target.serverId}`,
            };
            verify(false);
          },
          () => {
            hostKeyProblem = { code: VerificationCode.hostKeyStoreUnavailable, reason: `${where}: the recorded host key could not be read; no password was sent` };
            verify(false);
          },
        );
      };

      client.on('ready', () => finish({ kind: 'works' }));
      client.on('error', (error: Error & ClientErrorExtensions & { code?: string }) => {
        if (hostKeyProblem !== undefined) {
          finish({ kind: 'unreachable', ...hostKeyProblem });
          return;
        }
        if (error.level === 'client-authentication') {
          finish({ kind: 'refused', code: VerificationCode.loginRefused, reason: `${where}: the server refused the password` });
          return;
        }
        if (error.level === 'client-timeout') {
          finish({ kind: 'unreachable', code: VerificationCode.timeout, reason: `${where}: no SSH handshake within ${timeoutMs} ms` });
          return;
        }
        // Socket errors carry a code (ECONNREFUSED, EHOSTUNREACH, …); protocol errors a level. Neither carries the password.
        const code = typeof error.code === 'string' ? error.code : VerificationCode.sshError;
        finish({ kind: 'unreachable', code, reason: `${where}: ${code === VerificationCode.sshError ? `SSH ${error.level ?? 'protocol'} error` : code}` });
      });
      client.on('close', () => {
        if (hostKeyProblem !== undefined) finish({ kind: 'unreachable', ...hostKeyProblem });
        else finish({ kind: 'unreachable', code: VerificationCode.connectionClosed, reason: `${where}: the connection closed before the login finished` });
      });

      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.username,
        readyTimeout: timeoutMs,
        hostVerifier,
        // Only the password (both ways servers ask for it): never an agent or a key of this process.
        authHandler: passwordMethods(target.username, password),
        tryKeyboard: true,
        keepaliveInterval: 0,
      };
      try {
        client.connect(config);
      } catch (error) {
        const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : VerificationCode.sshError;
        finish({ kind: 'unreachable', code, reason: `${where}: could not start the connection (${code})` });
      }
    });
  }
}

function passwordMethods(username: string, password: string): AnyAuthMethod[] {
  const plain: PasswordAuthMethod = { type: 'password', username, password };
  const interactive: KeyboardInteractiveAuthMethod = {
    type: 'keyboard-interactive',
    username,
    prompt: (_name, _instructions, _lang, prompts, answer) => answer(prompts.map(() => password)),
  };
  return [plain, interactive];
}

/** OpenSSH's fingerprint format: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (uint32 length, then the name). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  if (length <= 0 || length > 64 || 4 + length > key.length) return 'unknown';
  const name = key.subarray(4, 4 + length).toString('ascii');
  return /^[\x21-\x7e]+$/.test(name) ? name : 'unknown';
}
