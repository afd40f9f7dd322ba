import type { AddressInfo } from 'node:net';
import type ssh2Module from 'ssh2';
import type { Connection } from 'ssh2';

type Ssh2 = typeof ssh2Module;

/**
 * ssh2 is loaded when SSH endpoints start, not when this module is imported: the worker imports the
 * simulator (for `simulator.enabled`), and ssh2 costs a service that never starts it about 13 MB.
 */
async function loadSsh2(): Promise<Ssh2> {
  return (await import('ssh2')).default;
}

/**
 * The simulated servers' SSH endpoints, so that verification by login can be exercised end to end.
 *
 * Design: every Linux server has its own loopback address (127.77.x.y, see `simAddressOf`; the whole
 * 127.0.0.0/8 block reaches the loopback interface on Linux), reported as its fixed address in the
 * ECS detail, and all listen on ONE port. So a target's `verify.port` is one number, as on a real
 * fleet, and the verifier finds each server by the address in its ECS detail, as it would in a VPC.
 * Each server has its own ed25519 host key (trust on first use is meaningful), which
 * `replaceHostKey` changes (a rebuilt server, or a machine in the middle).
 *
 * An endpoint accepts user `root` with exactly the password in effect now (the login probe's `now`)
 * and nothing else; it runs no command (sessions are accepted and closed at once).
 */
export interface SshEndpointsOptions {
  /** Linux servers to serve, with their index (which gives the address). */
  servers: readonly { id: string; index: number }[];
  /** Does `password` log in to `serverId` now? */
  check: (serverId: string, password: string) => boolean;
  /** Port shared by every endpoint. @defaultValue 0: the first free one */
  port?: number | undefined;
}

export interface SshEndpoints {
  readonly port: number;
  /** Connections that reached the password check (accepted or not), per server. */
  attempts(serverId: string): number;
  /** Gives the server a new host key (its listener is restarted on the same address and port). */
  replaceHostKey(serverId: string): Promise<void>;
  /** Delays every answer to a password by `ms` (a slow or overloaded server). */
  setLoginDelay(ms: number): void;
  close(): Promise<void>;
}

/** Servers that get an address: 127.77.0.1 up to 127.254.255.255 (the whole block is loopback on Linux). */
const MAX_SIM_ADDRESSES = (255 - 77) * 0x10000 - 1;

/**
 * The loopback address of the simulated server at `index` (0-based): 127.77.0.1, 127.77.0.2, …,
 * 127.77.255.255, 127.78.0.0, … (a fleet of 100k and more gets an address for every server).
 */
export function simAddressOf(index: number): string {
  const n = index + 1;
  if (!Number.isInteger(index) || index < 0 || n > MAX_SIM_ADDRESSES) {
    throw new Error(`simulated server index ${index} has no loopback address (0 to ${MAX_SIM_ADDRESSES - 1})`);
  }
  return `127.${77 + (n >>> 16)}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

export const SIM_SSH_USER = 'root';

/**
 * A fresh ed25519 host key in OpenSSH format. ssh2 1.17's own generator makes, about once in 500
 * keys, one that its parser then rejects ("Malformed OpenSSH private key"): such a key is made again.
 */
function newHostKey(utils: Ssh2['utils']): string {
  for (let attempt = 1; ; attempt++) {
    const key = utils.generateKeyPairSync('ed25519').private;
    if (!(utils.parseKey(key) instanceof Error)) return key;
    if (attempt >= 20) throw new Error('simulator SSH: could not generate a usable ed25519 host key');
  }
}

export async function startSshEndpoints(options: SshEndpointsOptions): Promise<SshEndpoints> {
  const { Server, utils } = await loadSsh2();
  const listeners = new Map<string, InstanceType<typeof Server>>();
  const addresses = new Map(options.servers.map((s) => [s.id, simAddressOf(s.index)] as const));
  const attempts = new Map<string, number>();
  const connections = new Set<Connection>();
  let loginDelayMs = 0;
  let port = options.port ?? 0;

  const listen = (serverId: string): Promise<InstanceType<typeof Server>> => {
    const hostKey = newHostKey(utils);
    const server = new Server({ hostKeys: [hostKey] }, (client) => {
      connections.add(client);
      client.on('close', () => connections.delete(client));
      client.on('error', () => {});
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'password') {
          ctx.reject(['password']);
          return;
        }
        attempts.set(serverId, (attempts.get(serverId) ?? 0) + 1);
        const ok = ctx.username === SIM_SSH_USER && options.check(serverId, ctx.password);
        const answer = (): void => (ok ? ctx.accept() : ctx.reject(['password']));
        if (loginDelayMs > 0) setTimeout(answer, loginDelayMs).unref();
        else answer();
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acceptExec) => {
            const channel = acceptExec();
            channel.exit(0);
            channel.end();
          });
        });
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, addresses.get(serverId), () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  };

  const closeListener = (server: InstanceType<typeof Server>): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

  try {
    for (const { id } of options.servers) {
      const server = await listen(id);
      listeners.set(id, server);
      if (port === 0) port = (server.address() as AddressInfo).port;
    }
  } catch (error) {
    await Promise.all([...listeners.values()].map(closeListener));
    const code = (error as { code?: string }).code;
    throw new Error(
      `simulator SSH: cannot listen on port ${port} of every server address (${code ?? 'error'}); ` +
        'choose another simulator sshPort, or 0 for a free one',
      { cause: error },
    );
  }

  return {
    port,
    attempts: (serverId) => attempts.get(serverId) ?? 0,
    replaceHostKey: async (serverId) => {
      const old = listeners.get(serverId);
      if (old === undefined) throw new Error(`simulator SSH: no endpoint for server ${serverId}`);
      await closeListener(old);
      listeners.set(serverId, await listen(serverId));
    },
    setLoginDelay: (ms) => {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`loginDelayMs: expected a non-negative number of milliseconds, got ${ms}`);
      loginDelayMs = ms;
    },
    close: async () => {
      for (const client of connections) client.end();
      await Promise.all([...listeners.values()].map(closeListener));
      listeners.clear();
    },
  };
}
