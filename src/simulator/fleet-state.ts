import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RebootType } from '../ports/ecs-api.js';
import type { SimServer, SimServerSpec } from './sim-server.js';
import type { SeededRandom } from './seeded-random.js';
import { simAddressOf } from './ssh-endpoints.js';

export type JobStatus = 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';

interface SubJob {
  jobId: string;
  serverId: string;
  /** Set when the server refused the reboot up front; such a sub-job fails at once. */
  errorCode: string | undefined;
  failReason: string | undefined;
}

export interface RebootJob {
  jobId: string;
  type: RebootType;
  beginAt: number;
  endAt: number;
  subJobs: SubJob[];
  /** Whether the end-of-job effects (status back, staged password activated) have run. */
  settled: boolean;
}

/** Login probe answer: does this password log in now, and will it after the next restart? */
export interface LoginProbe {
  now: boolean;
  afterRestart: boolean;
}

/**
 * The simulated fleet's mutable state: servers, their passwords and reboot jobs. Time-driven
 * changes (a reboot job finishing) are applied lazily by `settle(now)`, which every request calls
 * first; that keeps the simulator timer-free and exact under an injected clock.
 */
export class FleetState {
  readonly servers = new Map<string, SimServer>();
  /** Creation order, the order listings use. */
  readonly order: SimServer[] = [];
  private readonly jobs = new Map<string, RebootJob>();
  // Per-simulator random salt: fingerprints are comparable inside this process and useless outside it.
  private readonly salt = randomBytes(32);

  constructor(
    specs: readonly SimServerSpec[],
    now: number,
    private readonly ids: SeededRandom,
  ) {
    // One random buffer for every initial password: a Buffer per server costs far more than its 18 bytes.
    const initialPasswords = randomBytes(18 * specs.length);
    for (const [i, spec] of specs.entries()) {
      const createdAt = now - (specs.length - i) * 60_000;
      // Every field named (no spread): a spread plus extra fields makes V8 build a dictionary-mode
      // object per server, about 5 times the memory (a 100k fleet went from ~75 MB to ~15 MB).
      const server: SimServer = {
        id: spec.id,
        name: spec.name,
        osType: spec.osType,
        status: spec.status,
        locked: spec.locked,
        plugin: spec.plugin,
        enterpriseProjectId: spec.enterpriseProjectId,
        address: simAddressOf(i),
        tags: { ...spec.tags },
        createdAt,
        updatedAt: createdAt,
        // Nobody knows a server's first password: the rotator must set one before it can log in.
        activePassword: initialPasswords.toString('base64url', 18 * i, 18 * (i + 1)),
        stagedPassword: undefined,
        activeSince: createdAt,
        resetCount: 0,
        received: [],
        reboot: undefined,
      };
      this.servers.set(spec.id, server);
      this.order.push(server);
    }
  }

  /**
   * The last password fingerprinted and its fingerprint: a batch reset in shared mode gives every
   * server of the call the same password, and hashing it once instead of up to 1000 times was a
   * visible share of the simulator's CPU in the bench (the process holds the passwords anyway).
   */
  private lastFingerprinted: { password: string; fingerprint: string } | undefined;

  fingerprint(password: string): string {
    const last = this.lastFingerprinted;
    if (last !== undefined && last.password === password) return last.fingerprint;
    const fingerprint = createHash('sha256').update(this.salt).update(password, 'utf8').digest('hex');
    this.lastFingerprinted = { password, fingerprint };
    return fingerprint;
  }

  /** Records an accepted reset: the server received `password`; it is staged unless the in-guest script "failed". */
  acceptReset(server: SimServer, password: string, applied: boolean, now: number): void {
    server.resetCount += 1;
    server.updatedAt = now;
    server.received.push({ fingerprint: this.fingerprint(password), at: now, applied });
    if (applied) server.stagedPassword = password;
  }

  /** The staged password (if any) becomes the active one: what a start or restart does. */
  activateStaged(server: SimServer, now: number): void {
    if (server.stagedPassword !== undefined) {
      server.activePassword = server.stagedPassword;
      server.stagedPassword = undefined;
      server.activeSince = now;
    }
    server.updatedAt = now;
  }

  login(server: SimServer, password: string): LoginProbe {
    return {
      now: sameSecret(password, server.activePassword),
      afterRestart: sameSecret(password, server.stagedPassword ?? server.activePassword),
    };
  }

  /** Did `server` ever receive `password` in an accepted reset? (A check, not a getter.) */
  wasReceived(server: SimServer, password: string): boolean {
    const fp = this.fingerprint(password);
    return server.received.some((r) => r.fingerprint === fp);
  }

  /**
   * The passwords a server received, as ordinals of distinct passwords in order of first receipt
   * (`[1, 1, 2]`: the first password twice, then a different one). Lets tests check "the same
   * password was resent" without any password or hash leaving the simulator.
   */
  receivedSequence(server: SimServer): { password: number; applied: boolean; at: number }[] {
    const ordinals = new Map<string, number>();
    return server.received.map((r) => {
      let n = ordinals.get(r.fingerprint);
      if (n === undefined) {
        n = ordinals.size + 1;
        ordinals.set(r.fingerprint, n);
      }
      return { password: n, applied: r.applied, at: r.at };
    });
  }

  createRebootJob(type: RebootType, serverIds: readonly string[], now: number, durationMs: number): RebootJob {
    const job: RebootJob = { jobId: this.newJobId(), type, beginAt: now, endAt: now + durationMs, subJobs: [], settled: false };
    for (const id of serverIds) {
      const server = this.servers.get(id);
      let errorCode: string | undefined;
      let failReason: string | undefined;
      if (!server) [errorCode, failReason] = ['Ecs.0114', `server ${id} does not exist`];
      else if (server.locked) [errorCode, failReason] = ['Ecs.0605', 'the server is locked'];
      else if (server.status !== 'ACTIVE') [errorCode, failReason] = ['Ecs.0100', `the server status ${server.status} does not allow a reboot`];
      if (server && errorCode === undefined) {
        server.status = type === 'HARD' ? 'HARD_REBOOT' : 'REBOOT';
        server.reboot = { until: job.endAt, jobId: job.jobId };
        server.updatedAt = now;
      }
      job.subJobs.push({ jobId: this.newJobId(), serverId: id, errorCode, failReason });
    }
    this.jobs.set(job.jobId, job);
    this.settle(now);
    return job;
  }

  getJob(jobId: string): RebootJob | undefined {
    return this.jobs.get(jobId);
  }

  /** Applies everything whose time has come: finished reboots bring servers back ACTIVE with the staged password in effect. */
  settle(now: number): void {
    for (const job of this.jobs.values()) {
      if (job.settled || now < job.endAt) continue;
      job.settled = true;
      for (const sub of job.subJobs) {
        const server = this.servers.get(sub.serverId);
        if (sub.errorCode !== undefined || !server || server.reboot?.jobId !== job.jobId) continue;
        server.status = 'ACTIVE';
        server.reboot = undefined;
        this.activateStaged(server, job.endAt);
      }
    }
  }

  private newJobId(): string {
    // Huawei job ids are 32 hex characters.
    return Array.from({ length: 32 }, () => this.ids.int(16).toString(16)).join('');
  }
}

/** Job status at `now`: INIT for the first tenth of the duration, RUNNING until the end, then SUCCESS or FAIL. */
export function jobStatusAt(job: RebootJob, now: number): { status: JobStatus; subStatuses: JobStatus[] } {
  const anyFailed = job.subJobs.some((s) => s.errorCode !== undefined);
  if (now >= job.endAt) {
    return { status: anyFailed ? 'FAIL' : 'SUCCESS', subStatuses: job.subJobs.map((s) => (s.errorCode ? 'FAIL' : 'SUCCESS')) };
  }
  const running = now >= job.beginAt + (job.endAt - job.beginAt) / 10;
  const phase: JobStatus = running ? 'RUNNING' : 'INIT';
  return { status: phase, subStatuses: job.subJobs.map((s) => (s.errorCode ? 'FAIL' : phase)) };
}

function sameSecret(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
