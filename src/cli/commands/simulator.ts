/**
 * `rotator simulator`: runs the local Huawei ECS API simulator until SIGINT/SIGTERM.
 * It accepts the demo credentials (src/simulator/demo-credentials.ts), which protect nothing.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_REGION } from '../../simulator/demo-credentials.js';
import type { PartialFailureMode } from '../../simulator/ecs-handlers.js';
import type { SimulatorFaultsPatch } from '../../simulator/faults.js';
import { startSimulator } from '../../simulator/simulator.js';
import { startHeapPolicy } from '../../heap-policy.js';
import { createLogger } from '../../observability/logger.js';

function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name}: expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

function fraction(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name}: expected a number from 0 to 1, got "${value}"`);
    return n;
  };
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a positive number, got "${value}"`);
    return n;
  };
}

interface SimulatorCliOptions {
  servers: number;
  heapTargetMb: number;
  host: string;
  port: number;
  seed: number;
  windowsRatio: number;
  lockedFraction: number;
  missingPluginFraction: number;
  shutoffFraction: number;
  fleetFile?: string;
  rebootMs: number;
  partialMode: PartialFailureMode;
  projectId: string;
  region: string;
  throttleRps?: number;
  throttleBurst?: number;
  retryAfter?: number;
  throttle: boolean;
  latencyMs: number;
  jitterMs: number;
  error500: number;
  error503: number;
  resetProbability: number;
  hangProbability: number;
  notApplied: number;
  sshPort?: number;
}

export function register(program: Command): void {
  program
    .command('simulator')
    .summary('run a local Huawei ECS API simulator (demo credentials, loopback) for demos and tests')
    .description(
      'run a local Huawei ECS API simulator (batch password reset, server list, reboot jobs) for demos and tests; ' +
        'it accepts only the public demo credentials and binds to loopback by default',
    )
    .option('--servers <n>', 'number of generated servers', integer('--servers', 0, 1_000_000), 50)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', integer('--port', 0, 65535), 8787)
    .option('--seed <n>', 'seed of the generated fleet and of fault decisions', integer('--seed', 0), 1)
    .option('--windows-ratio <r>', 'fraction of Windows servers', fraction('--windows-ratio'), 0.3)
    .option('--locked-fraction <r>', 'fraction of locked servers', fraction('--locked-fraction'), 0.02)
    .option('--missing-plugin-fraction <r>', 'fraction of servers without the reset plug-in', fraction('--missing-plugin-fraction'), 0.05)
    // The old spelling: commander reads any `--no-…` flag as the negation of a boolean, so it was
    // silently ignored. Kept, hidden, only to say so.
    .addOption(
      new Option('--no-plugin-fraction <r>').hideHelp().argParser(() => {
        throw new InvalidArgumentError('renamed --missing-plugin-fraction <r> (the old spelling was read as a negation and ignored)');
      }),
    )
    .option('--shutoff-fraction <r>', 'fraction of SHUTOFF servers', fraction('--shutoff-fraction'), 0.05)
    .option('--fleet-file <file>', 'load the fleet from a JSON/YAML file instead of generating it')
    .option('--reboot-ms <ms>', 'duration of a reboot job (INIT → RUNNING → SUCCESS)', integer('--reboot-ms', 0), 3000)
    .option('--partial-mode <mode>', 'answer to a partly refused reset: 400-internal-error | 200-subset', (v: string) => {
      if (v !== '200-subset' && v !== '400-internal-error') throw new InvalidArgumentError(`--partial-mode: expected 200-subset or 400-internal-error, got "${v}"`);
      return v;
    }, '400-internal-error')
    .option('--project-id <id>', 'project id served', DEMO_PROJECT_ID)
    .option('--region <region>', 'region name shown', DEMO_REGION)
    .option('--throttle-rps <n>', 'gateway throttle per API, requests/s (default 200, as Huawei)', positive('--throttle-rps'))
    .option('--throttle-burst <n>', 'gateway throttle burst (default: the rate)', integer('--throttle-burst', 1))
    .option('--retry-after <s>', 'send Retry-After: <s> with 429 answers', integer('--retry-after', 0))
    .option('--no-throttle', 'disable gateway throttling')
    .option('--latency-ms <ms>', 'fixed latency added to each call', integer('--latency-ms', 0), 0)
    .option('--jitter-ms <ms>', 'uniform latency jitter', integer('--jitter-ms', 0), 0)
    .option('--error500 <p>', 'probability of 500 Common.0001', fraction('--error500'), 0)
    .option('--error503 <p>', 'probability of 503 Common.1503', fraction('--error503'), 0)
    .option('--reset-probability <p>', 'probability of a connection reset', fraction('--reset-probability'), 0)
    .option('--hang-probability <p>', 'probability of a call never answered', fraction('--hang-probability'), 0)
    .option('--not-applied <p>', 'probability that an accepted reset is never applied in the guest', fraction('--not-applied'), 0)
    .option(
      '--ssh-port <port>',
      'serve SSH for the Linux servers on this port (each on its own loopback address 127.77.x.y, its fixed address; 0: any free port)',
      integer('--ssh-port', 0, 65535),
    )
    .option(
      '--heap-target-mb <n>',
      'soft heap target in MiB: garbage is collected sooner once the heap nears it, as in the service (limits.heapTargetMb); 0: V8 defaults',
      integer('--heap-target-mb', 0, 1_048_576),
      128,
    )
    .action(async (opts: SimulatorCliOptions) => {
      // A large fleet's list pages are garbage by the megabyte: left alone, V8 let a 100k-server
      // simulator grow to 270 to 460 MiB depending on how fast it was asked.
      startHeapPolicy({ targetMb: opts.heapTargetMb, logger: createLogger({ level: 'warn', name: 'rotator-simulator' }) });
      const rate = opts.throttleRps ?? 200;
      const faults: SimulatorFaultsPatch = {
        seed: opts.seed,
        throttle: opts.throttle
          ? { ratePerSecond: rate, burst: opts.throttleBurst ?? Math.max(1, Math.ceil(rate)), ...(opts.retryAfter === undefined ? {} : { retryAfterSeconds: opts.retryAfter }) }
          : null,
        latencyMs: { fixed: opts.latencyMs, jitter: opts.jitterMs },
        error500Probability: opts.error500,
        error503Probability: opts.error503,
        connectionResetProbability: opts.resetProbability,
        hangProbability: opts.hangProbability,
        acceptedNotAppliedProbability: opts.notApplied,
      };
      const sim = await startSimulator({
        host: opts.host,
        port: opts.port,
        projectId: opts.projectId,
        region: opts.region,
        rebootDurationMs: opts.rebootMs,
        partialFailureMode: opts.partialMode,
        fleet: opts.fleetFile
          ? { kind: 'file', path: opts.fleetFile }
          : {
              kind: 'generated',
              count: opts.servers,
              seed: opts.seed,
              windowsRatio: opts.windowsRatio,
              lockedFraction: opts.lockedFraction,
              noPluginFraction: opts.missingPluginFraction,
              shutoffFraction: opts.shutoffFraction,
            },
        faults,
        ...(opts.sshPort === undefined ? {} : { ssh: { port: opts.sshPort } }),
      });
      const fleet = sim.fleetSummary();
      process.stdout.write(
        [
          `rotator simulator listening on ${sim.url}`,
          `  project id   ${sim.projectId}`,
          `  region       ${sim.region}`,
          `  servers      ${fleet.servers} (${fleet.windows} Windows, ` +
            `${fleet.locked} locked, ${fleet.withoutPlugin} without plug-in, ` +
            `${fleet.shutoff} SHUTOFF)`,
          `  credentials  the public DEMO credentials only (access key ${DEMO_CREDENTIALS.accessKey}; they protect nothing)`,
          `  point an account at it: endpoint ${sim.url}, projectId ${sim.projectId}, region ${sim.region},`,
          `    credentials DEMO_CREDENTIALS from src/simulator/demo-credentials.ts`,
          `  inspection   ${sim.url}/__sim/servers, /__sim/counters, /__sim/faults (no passwords are ever shown)`,
          ...(sim.ssh ? [`  ssh          port ${sim.ssh.port} on each Linux server's fixed address (127.77.x.y), user root, the password in effect now`] : []),
          'press Ctrl-C to stop',
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.stdout.write(`received ${signal}, closing the simulator\n`);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
    });
}
