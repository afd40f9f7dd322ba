/**
 * The SSH verifier (issue 9) against two servers written by others than the verifier: real OpenSSH
 * (Debian's sshd, a throwaway user) and the simulator's ssh2 endpoints. The same cases run on both:
 * works / refused / unreachable / changed host key / slow server (within and beyond the timeout).
 * Host keys are recorded in real Redis (trust on first use) and never hold a secret.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisHostKeyStore } from '../../src/adapters/redis/redis-host-key-store.js';
import { SshPasswordVerifier } from '../../src/adapters/ssh/ssh-password-verifier.js';
import { createHuaweiEcsClientForTest } from '../helpers/sim-ecs-client.js';
import type { LoginTarget } from '../../src/ports/password-verifier.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { simAddressOf, SIM_SSH_USER } from '../../src/simulator/ssh-endpoints.js';
import { createRedis, deleteUnder, dumpUnder, freePort, uniquePrefix } from '../helpers/redis.js';
import { createThrowawayUser, sshdUnavailableReason, startSshd, type RealSshd, type ThrowawayUser } from '../helpers/sshd.js';

const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

/** A TCP relay that holds every chunk for `delayMs` in both directions: a slow server (or a slow network). */
async function startSlowRelay(upstream: { host: string; port: number }, delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const remote = createConnection(upstream);
    for (const s of [client, remote]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs).unref());
      from.on('end', () => setTimeout(() => to.end(), delayMs).unref());
    };
    relay(client, remote);
    relay(remote, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Fixture {
  /** A server that takes `password` for `target.username`. */
  target: LoginTarget;
  password: string;
  /** The same server id now answered by a machine with another host key. */
  impostor(): Promise<LoginTarget>;
  /** Did the impostor see any password attempt? */
  impostorSawLogin(): boolean;
  teardown(): Promise<void>;
}

function verifierCases(name: string, setup: () => Promise<Fixture | string>): void {
  describe(name, () => {
    let fixture: Fixture | undefined;
    let skipReason: string | undefined;
    let redis: Redis;
    const prefix = uniquePrefix('ssh-verifier');
    let verifier: SshPasswordVerifier;
    let hostKeys: RedisHostKeyStore;

    beforeAll(async () => {
      redis = createRedis();
      hostKeys = new RedisHostKeyStore({ redis, keyPrefix: prefix });
      verifier = new SshPasswordVerifier({ hostKeys, clock, timeoutMs: 4_000 });
      const result = await setup();
      if (typeof result === 'string') {
        skipReason = result;
        console.log(`SKIPPED ${name}: ${result}`);
      } else fixture = result;
    }, 60_000);

    afterAll(async () => {
      await fixture?.teardown();
      await deleteUnder(redis, prefix);
      redis.disconnect();
    });

    it('works: the right password logs in, and the host key is recorded on first contact (no secret stored)', async (ctx) => {
      if (fixture === undefined) return ctx.skip(skipReason);
      expect(await hostKeys.get(fixture.target.serverId)).toBeUndefined();
      expect(await verifier.tryLogin(fixture.target, fixture.password)).toEqual({ kind: 'works' });
      const recorded = await hostKeys.get(fixture.target.serverId);
      expect(recorded?.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(recorded?.keyType).toBe('ssh-ed25519');
      // Again, with the key now known.
      expect(await verifier.tryLogin(fixture.target, fixture.password)).toEqual({ kind: 'works' });
      const dump = await dumpUnder(redis, prefix);
      expect(dump.length).toBeGreaterThan(0);
      expect(dump).not.toContain(fixture.password);
    });

    it('refused: a wrong password is refused, with a reason that does not contain either password', async (ctx) => {
      if (fixture === undefined) return ctx.skip(skipReason);
      const wrong = `${fixture.password}-wrong`;
      const result = await verifier.tryLogin(fixture.target, wrong);
      expect(result).toMatchObject({ kind: 'refused', code: 'LOGIN_REFUSED' });
      expect(JSON.stringify(result)).not.toContain(fixture.password.slice(3));
    });

    it('unreachable: nothing listens on the port', async (ctx) => {
      if (fixture === undefined) return ctx.skip(skipReason);
      const closedPort = await freePort();
      const result = await verifier.tryLogin({ ...fixture.target, serverId: `${fixture.target.serverId}-closed`, port: closedPort }, fixture.password);
      expect(result).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED' });
    });

    it('changed host key: a failure, not a login, and the password is never sent to the other machine', async (ctx) => {
      if (fixture === undefined) return ctx.skip(skipReason);
      await verifier.tryLogin(fixture.target, fixture.password); // key known
      const other = await fixture.impostor();
      const result = await verifier.tryLogin(other, fixture.password);
      expect(result).toMatchObject({ kind: 'unreachable', code: 'HOST_KEY_CHANGED' });
      expect(result.kind === 'unreachable' ? result.reason : '').toMatch(/the host key changed .* no password was sent/);
      expect(fixture.impostorSawLogin()).toBe(false);
      // Forgetting the key (a legitimate rebuild) lets the next contact record the new one.
      await hostKeys.forget(other.serverId);
      expect(await verifier.tryLogin(other, `${fixture.password}-not-it`)).toMatchObject({ kind: 'refused' });
    });

    it('slow server: answers within the timeout still count; beyond it the server is unreachable (TIMEOUT)', async (ctx) => {
      if (fixture === undefined) return ctx.skip(skipReason);
      const slow = await startSlowRelay({ host: fixture.target.address, port: fixture.target.port }, 150);
      const hung = await startSlowRelay({ host: fixture.target.address, port: fixture.target.port }, 60_000);
      try {
        // Its own server id: the previous case recorded another key under the fixture's.
        const serverId = `${fixture.target.serverId}-slow`;
        expect(await verifier.tryLogin({ ...fixture.target, serverId, address: '127.0.0.1', port: slow.port }, fixture.password)).toEqual({ kind: 'works' });
        const quick = new SshPasswordVerifier({ hostKeys, clock, timeoutMs: 1_000 });
        const result = await quick.tryLogin({ ...fixture.target, serverId, address: '127.0.0.1', port: hung.port }, fixture.password);
        expect(result).toMatchObject({ kind: 'unreachable', code: 'TIMEOUT' });
      } finally {
        await slow.close();
        await hung.close();
      }
    });
  });
}

verifierCases('real OpenSSH (Debian sshd, throwaway user)', async () => {
  const reason = sshdUnavailableReason();
  if (reason !== undefined) return reason;
  const user: ThrowawayUser = createThrowawayUser();
  let sshd: RealSshd | undefined;
  let impostor: RealSshd | undefined;
  try {
    sshd = await startSshd(user.user, user.password);
  } catch (error) {
    user.remove();
    throw error;
  }
  const serverId = `real-sshd-${sshd.port}`;
  return {
    target: { serverId, address: '127.0.0.1', port: sshd.port, username: user.user },
    password: user.password,
    impostor: async () => {
      // Another sshd (its own fresh host key) answering for the same server id.
      impostor ??= await startSshd(user.user, user.password);
      return { serverId, address: '127.0.0.1', port: impostor.port, username: user.user };
    },
    impostorSawLogin: () => /Accepted password|Failed password|Invalid user|authentication/i.test(impostor?.log() ?? ''),
    teardown: async () => {
      await sshd?.stop();
      await impostor?.stop();
      user.remove();
    },
  };
});

verifierCases("the simulator's SSH endpoints", async () => {
  const sim: RunningSimulator = await startSimulator({
    fleet: { kind: 'generated', count: 3, seed: 9, windowsRatio: 0, lockedFraction: 0, noPluginFraction: 0, shutoffFraction: 0 },
    ssh: { port: 0 },
    rebootDurationMs: 0,
  });
  const ssh = sim.ssh;
  if (ssh === undefined) throw new Error('simulator started without SSH');
  const [first] = sim.servers();
  if (first === undefined) throw new Error('empty fleet');
  const password = 'Sim-Verify-Pw-2026!';
  // Set a known password the way the rotator does: a reset through the ECS API, then a restart.
  const ecs = createHuaweiEcsClientForTest(sim);
  const answer = await ecs.batchResetPasswords({ password, serverIds: [first.id] });
  expect(answer.results[0]?.kind).toBe('accepted');
  sim.restart(first.id);
  ecs.close();
  const index = sim.servers().findIndex((s) => s.id === first.id);
  const target: LoginTarget = { serverId: first.id, address: simAddressOf(index), port: ssh.port, username: SIM_SSH_USER };
  let attemptsBefore = 0;
  return {
    target,
    password,
    impostor: async () => {
      await ssh.replaceHostKey(first.id);
      attemptsBefore = ssh.attempts(first.id);
      return target;
    },
    impostorSawLogin: () => ssh.attempts(first.id) > attemptsBefore,
    teardown: () => sim.close(),
  };
});
