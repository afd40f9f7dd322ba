/**
 * The verifier port: does a candidate password log in to a server now? This is the only proof the
 * rotation accepts that a password is in effect (a reboot job that succeeded is not: Huawei's
 * in-guest reset can fail without telling the API caller). Implemented over SSH in
 * src/adapters/ssh/; the password goes to the server's login and nowhere else (no log, no error,
 * no stored state).
 */

/** Where and as whom to log in. The address comes from the server's ECS detail. */
export interface LoginTarget {
  serverId: string;
  address: string;
  port: number;
  username: string;
}

export type LoginResult =
  /** The server let us in with this password: it is in effect now. */
  | { kind: 'works' }
  /** The server answered and refused this password (or every method we offered). */
  | { kind: 'refused'; code: string; reason: string }
  /**
   * No answer about the password: connection refused or timed out, handshake failed, or the host
   * key differs from the one recorded on first contact (`HOST_KEY_CHANGED`: the password was not sent).
   */
  | { kind: 'unreachable'; code: string; reason: string };

export interface LoginOptions {
  signal?: AbortSignal | undefined;
  /** This attempt's limit, connect to authenticated (the target's `verify.timeoutMs`); else the adapter's default. */
  timeoutMs?: number | undefined;
}

export interface PasswordVerifier {
  /**
   * One login attempt with `password`; never throws for a per-server problem (those are results),
   * only on a bug. Runs nothing on the server. Resolves within the adapter's timeout.
   */
  tryLogin(target: LoginTarget, password: string, options?: LoginOptions): Promise<LoginResult>;
}

/** What the verifier remembers of a server's SSH host key (trust on first use). No secret. */
export interface HostKeyRecord {
  /** OpenSSH style: `SHA256:` and the unpadded base64 of the SHA-256 of the key blob. */
  fingerprint: string;
  /** e.g. `ssh-ed25519`. */
  keyType: string;
  /** The address the key was first seen at. */
  address: string;
  /** Milliseconds since the epoch. */
  firstSeenAt: number;
}

export interface HostKeyStore {
  /** Stores `record` for `serverId` unless one exists; resolves with the record in force (the earlier one wins). */
  remember(serverId: string, record: HostKeyRecord): Promise<HostKeyRecord>;
  get(serverId: string): Promise<HostKeyRecord | undefined>;
  /** Forgets a server's key (after a legitimate rebuild): the next contact records the new one. */
  forget(serverId: string): Promise<void>;
}
