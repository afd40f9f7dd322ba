/**
 * A server's FIRST rotation whose reset is rejected, unanswered or never sent, then the next run,
 * on both vaults: the encrypted file vault, and the AWS Secrets Manager adapter against the emulator
 * (which attaches AWSCURRENT to a secret's first version, as AWS's PutSecretValue reference says:
 * "If this operation creates the first version for the secret, then Secrets Manager automatically
 * attaches the staging label AWSCURRENT to it.").
 *
 * The property checked after every vault call of every run: AWSCURRENT, read through the port and
 * as a reader outside rotator reads it (AWS: GetSecretValue without a stage), is either no password
 * or one the simulated server accepted. Real pieces: the ECS simulator over HTTP with the signed
 * client, Redis (locks, outcomes, audit) under a unique prefix, the vaults on a temp file / over HTTP.
 * One condition is injected by a thin wrapper around the real ECS client, and says so: the reset
 * call of a run that crashes before sending it (it throws instead of sending).
 */
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAwsSecretsManagerVault } from '../../src/adapters/aws-secrets-manager/aws-secrets-manager-vault.js';
import { cryptoRandom } from '../../src/adapters/crypto-random.js';
import { openFileVault } from '../../src/adapters/file-vault/file-vault.js';
import { createEcsClient } from '../../src/adapters/huawei-ecs/create-ecs-client.js';
import { RedisAuditLog } from '../../src/adapters/redis/redis-audit-log.js';
import { RedisOutcomeStore } from '../../src/adapters/redis/redis-outcome-store.js';
import { RedisServerLocks } from '../../src/adapters/redis/redis-server-locks.js';
import { systemClock } from '../../src/adapters/system-clock.js';
import { RotatorError } from '../../src/domain/rotator-error.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/emulators/secrets-manager/secrets-manager-emulator.js';
import { DEFAULT_PASSWORD_POLICY } from '../../src/policy/password-policy.js';
import type { EcsApi } from '../../src/ports/ecs-api.js';
import { LABEL_CURRENT, LABEL_PENDING, type SecretKey, type SecretPayload, type Vault } from '../../src/ports/vault.js';
import type { BatchDeps, BatchInput, BatchSummary } from '../../src/rotation/batch-input.js';
import { runBatch } from '../../src/rotation/run-batch.js';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import { createRedis, deleteUnder, uniquePrefix } from '../helpers/redis.js';
import { wrapPort } from '../helpers/wrap-port.js';

const SERVER = '44444444-4444-4444-8444-444444444444';
const redis = createRedis();
const logger = pino({ level: 'silent' });

interface VaultUnderTest {
  vault: Vault;
  /** The password a reader outside rotator gets by default, if any. */
  defaultRead(key: SecretKey): Promise<string | undefined>;
  /**
   * AWS only: writes the state the earlier release left on AWS after a first rotation whose reset
   * failed: a secret created empty, whose first (pending) version AWS made AWSCURRENT.
   */
  seedEarlierReleaseState?(key: SecretKey, token: string, value: SecretPayload): Promise<void>;
  close(): Promise<void>;
}

const VAULTS: Record<string, () => Promise<VaultUnderTest>> = {
  'file vault': async () => {
    const dir = await mkdtemp(join(tmpdir(), 'first-rotation-'));
    const vault = await openFileVault({ path: join(dir, 'vault.json.enc'), key: randomBytes(32), clock: systemClock, logger });
    return {
      vault,
      defaultRead: async (key) => (await vault.getVersion(key, { label: LABEL_CURRENT }))?.value.password,
      close: async () => {
        await vault.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  'AWS Secrets Manager adapter (emulator)': async () => {
    const emulator: SecretsManagerEmulator = await startSecretsManagerEmulator();
    const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
    const vault = createAwsSecretsManagerVault({ region: 'eu-west-1', endpoint: emulator.url, credentials }, { clock: systemClock, logger });
    const raw = new SecretsManagerClient({ region: 'eu-west-1', endpoint: emulator.url, credentials });
    return {
      vault,
      defaultRead: async (key) => {
        const name = `ecs/${key.region}/${key.projectId}/${key.serverId}`;
        const value = (await raw.send(new GetSecretValueCommand({ SecretId: name })).catch(() => undefined))?.SecretString;
        const password = value === undefined ? undefined : (JSON.parse(value) as { password?: unknown }).password;
        return typeof password === 'string' ? password : undefined;
      },
      seedEarlierReleaseState: async (key, token, value) => {
        const name = `ecs/${key.region}/${key.projectId}/${key.serverId}`;
        await raw.send(new CreateSecretCommand({ Name: name }));
        await raw.send(new PutSecretValueCommand({ SecretId: name, ClientRequestToken: token, SecretString: JSON.stringify(value), VersionStages: [LABEL_PENDING] }));
      },
      close: async () => {
        raw.destroy();
        await vault.close();
        await emulator.close();
      },
    };
  },
};

const VAULTS_WITH_EARLIER_RELEASE = new Set(['AWS Secrets Manager adapter (emulator)']);

afterAll(async () => {
  await redis.quit();
});

for (const [vaultName, openVault] of Object.entries(VAULTS)) {
  describe(`first rotation on the ${vaultName}: AWSCURRENT only ever on an accepted password`, () => {
    let sim: RunningSimulator;
    let subject: VaultUnderTest;
    let prefix: string;
    /** Every observation of AWSCURRENT, for the checks below. */
    let observations: { after: string; port: string | undefined; outside: string | undefined }[];

    beforeEach(async () => {
      sim = await startSimulator({
        rebootDurationMs: 30,
        fleet: {
          kind: 'servers',
          servers: [{ id: SERVER, name: 'web-1', osType: 'Linux', status: 'ACTIVE', locked: false, plugin: true, tags: {}, enterpriseProjectId: '0' }],
        },
      });
      subject = await openVault();
      prefix = uniquePrefix('first-rotation');
      observations = [];
    });

    afterEach(async () => {
      await subject.close();
      await sim.close();
      await deleteUnder(redis, prefix);
    });

    const key = (): SecretKey => ({ region: sim.region, projectId: sim.projectId, serverId: SERVER });

    async function observe(after: string): Promise<void> {
      const port = (await subject.vault.getVersion(key(), { label: LABEL_CURRENT }))?.value.password;
      const outside = await subject.defaultRead(key());
      observations.push({ after, port, outside });
      // The invariant, checked at every step: no password, or one the server accepted.
      for (const password of [port, outside]) {
        if (password !== undefined) expect(sim.wasReceived(SERVER, password), `AWSCURRENT names an unaccepted password after ${after}`).toBe(true);
      }
      expect(outside).toBe(port);
    }

    /** The real vault, observed after every call a batch makes. */
    function observedVault(): Vault {
      const real = subject.vault;
      const wrap =
        <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          const result = await call(...args);
          await observe(name);
          return result;
        };
      return wrapPort<Vault>(real, {
        ensureSecret: wrap('ensureSecret', (k: SecretKey) => real.ensureSecret(k)),
        putPending: wrap('putPending', (...a: Parameters<Vault['putPending']>) => real.putPending(...a)),
        promote: wrap('promote', (...a: Parameters<Vault['promote']>) => real.promote(...a)),
        removeLabel: wrap('removeLabel', (...a: Parameters<Vault['removeLabel']>) => real.removeLabel(...a)),
        moveLabel: wrap('moveLabel', (...a: Parameters<Vault['moveLabel']>) => real.moveLabel(...a)),
      });
    }

    function ecsClient(options: { maxAttempts?: number } = {}): EcsApi {
      return createEcsClient(
        { name: 'sim', region: sim.region, projectId: sim.projectId, endpoint: sim.url, requestTimeoutMs: 5_000, requestsPerSecond: 1_000, maxAttempts: options.maxAttempts ?? 3 },
        { kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey },
        { clock: systemClock, random: cryptoRandom, logger },
      );
    }

    function deps(ecs: EcsApi): BatchDeps {
      return {
        ecs,
        vault: observedVault(),
        locks: new RedisServerLocks({ redis, keyPrefix: prefix }),
        outcomes: new RedisOutcomeStore({ redis, keyPrefix: prefix }),
        audit: new RedisAuditLog({ redis, keyPrefix: prefix }),
        clock: systemClock,
        random: cryptoRandom,
        logger,
        rebootDeadlineMs: 10_000,
        rebootPollIntervalMs: 20,
      };
    }

    const input = (runId: string): BatchInput => ({
      runId,
      batchIndex: 0,
      serverIds: [SERVER],
      dryRun: false,
      target: {
        name: 'web',
        region: sim.region,
        projectId: sim.projectId,
        passwordPolicy: DEFAULT_PASSWORD_POLICY,
        uniquePerServer: false,
        restartPolicy: 'none',
        dryRunPreflight: false,
      },
    });

    const outcome = (summary: BatchSummary) => summary.outcomes.find((o) => o.serverId === SERVER);

    /** The next run, after the failed first one: accepted, and only now AWSCURRENT. */
    async function nextRunIsAcceptedFirstRotation(runId: string, expectedVersionId?: string): Promise<void> {
      const summary = await runBatch(deps(ecsClient()), input(runId));
      expect(outcome(summary)).toMatchObject({ outcome: 'pending-restart' });
      if (expectedVersionId !== undefined) expect(outcome(summary)?.versionId).toBe(expectedVersionId);
      // plan reads it as the server's first rotation: the password from before rotator still logs in.
      expect(outcome(summary)?.reason).toContain('password from before rotator managed this server still logs in');
      const current = await subject.vault.getVersion(key(), { label: LABEL_CURRENT });
      expect(current?.versionId).toBe(outcome(summary)?.versionId);
      expect(sim.wasReceived(SERVER, current!.value.password)).toBe(true);
      expect(await subject.defaultRead(key())).toBe(current!.value.password);
      expect(observations.length).toBeGreaterThan(3);
    }

    it('first reset rejected (Ecs.0613): no AWSCURRENT at all, then the next run', async () => {
      sim.setPartialFailureMode('400-internal-error');
      const real = ecsClient();
      const rejecting = wrapPort<EcsApi>(real, {
        batchResetPasswords: (args: Parameters<EcsApi['batchResetPasswords']>[0], options?: Parameters<EcsApi['batchResetPasswords']>[1]) => {
          // The plug-in disappears between eligibility and the reset: a definite per-server refusal.
          if (!args.dryRun) sim.updateServer(SERVER, { plugin: false });
          return real.batchResetPasswords(args, options);
        },
      });
      const first = await runBatch(deps(rejecting), input('run-first-rejected-1'));
      expect(outcome(first)).toMatchObject({ outcome: 'failed', code: 'Ecs.0613' });
      expect(await subject.vault.getVersion(key(), { label: LABEL_CURRENT })).toBeUndefined();
      expect(await subject.defaultRead(key())).toBeUndefined();
      expect(observations.some((o) => o.after === 'putPending')).toBe(true);

      sim.updateServer(SERVER, { plugin: true });
      await nextRunIsAcceptedFirstRotation('run-first-rejected-2');
    });

    it('first reset unknown (500 after processing): the pending password is not AWSCURRENT; the next run resends it', async () => {
      sim.setFaults({ error500Probability: 1, faultTiming: 'after-processing', apis: ['batchResetPasswords'] });
      let first: BatchSummary;
      try {
        first = await runBatch(deps(ecsClient({ maxAttempts: 1 })), input('run-first-unknown-1'));
      } finally {
        sim.setFaults({ error500Probability: 0 });
      }
      expect(outcome(first)).toMatchObject({ outcome: 'unknown' });
      const pending = await subject.vault.getVersion(key(), { label: LABEL_PENDING });
      expect(pending?.versionId).toBe(outcome(first)?.versionId);
      // The server did take it (the answer was lost), yet nobody knows: it is not AWSCURRENT.
      expect(await subject.vault.getVersion(key(), { label: LABEL_CURRENT })).toBeUndefined();
      expect(await subject.defaultRead(key())).toBeUndefined();

      await nextRunIsAcceptedFirstRotation('run-first-unknown-2', pending?.versionId);
      expect(sim.receivedSequence(SERVER).map((r) => r.password)).toEqual([1, 1]);
    });

    it('first reset never sent (the run stops before the call): no AWSCURRENT, then the next run', async () => {
      const real = ecsClient();
      const crashing = wrapPort<EcsApi>(real, {
        batchResetPasswords: async (args: Parameters<EcsApi['batchResetPasswords']>[0]) => {
          if (args.dryRun) return real.batchResetPasswords(args);
          // Injected: the worker dies after storing the pending password, before sending the reset.
          throw new RotatorError({ code: 'TEST_CRASH_BEFORE_RESET', message: 'injected crash before the reset call', retryable: false });
        },
      });
      await expect(runBatch(deps(crashing), input('run-first-unsent-1'))).rejects.toMatchObject({ code: 'TEST_CRASH_BEFORE_RESET' });
      expect(sim.receivedSequence(SERVER)).toEqual([]);
      expect(await subject.vault.getVersion(key(), { label: LABEL_PENDING })).toBeDefined();
      expect(await subject.vault.getVersion(key(), { label: LABEL_CURRENT })).toBeUndefined();
      expect(await subject.defaultRead(key())).toBeUndefined();

      await nextRunIsAcceptedFirstRotation('run-first-unsent-2');
    });

    // Registered for the AWS vault only: the file vault never had this state.
    if (VAULTS_WITH_EARLIER_RELEASE.has(vaultName)) it('a secret left by the earlier release (AWSCURRENT on a never-accepted first version) is repaired, then rotates', async () => {
      const token = `run-earlier-release-${randomBytes(8).toString('hex')}-b0-g0`;
      const value: SecretPayload = {
        username: 'root',
        password: 'Earlier_Release-7x',
        serverId: SERVER,
        serverName: 'web-1',
        osType: 'Linux',
        region: sim.region,
        projectId: sim.projectId,
        runId: 'run-earlier-release',
        createdAt: new Date().toISOString(),
        activation: 'next-restart',
      };
      await subject.seedEarlierReleaseState!(key(), token, value);
      // The starting point: AWS readers get a password no server ever accepted.
      expect(await subject.defaultRead(key())).toBe(value.password);

      // Its resend is refused (Ecs.0613): the vault was repaired first, so AWSCURRENT is not on it.
      sim.setPartialFailureMode('400-internal-error');
      const real = ecsClient();
      const rejecting = wrapPort<EcsApi>(real, {
        batchResetPasswords: (args: Parameters<EcsApi['batchResetPasswords']>[0], options?: Parameters<EcsApi['batchResetPasswords']>[1]) => {
          if (!args.dryRun) sim.updateServer(SERVER, { plugin: false });
          return real.batchResetPasswords(args, options);
        },
      });
      const first = await runBatch(deps(rejecting), input('run-after-upgrade-1'));
      expect(outcome(first)).toMatchObject({ outcome: 'failed', code: 'Ecs.0613', versionId: token });
      expect(await subject.defaultRead(key())).toBeUndefined();
      expect(await subject.vault.getVersion(key(), { label: LABEL_CURRENT })).toBeUndefined();
      // An inherited pending password stays pending after a refused resend (its first call may have landed).
      expect((await subject.vault.getVersion(key(), { label: LABEL_PENDING }))?.versionId).toBe(token);

      sim.updateServer(SERVER, { plugin: true });
      await nextRunIsAcceptedFirstRotation('run-after-upgrade-2', token);
    });
  });
}
