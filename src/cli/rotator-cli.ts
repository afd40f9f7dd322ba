/**
 * The `rotator` command. Each subcommand lives in its own file under ./commands and exports
 * `register(program)`; this file only assembles them and maps failures to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { commandModules } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command('rotator')
    .description(
      'Keeps the root/Administrator passwords of Huawei Cloud ECS fleets rotated. Each new password is stored in a ' +
        'vault before any server is touched, servers are reset in rate-limited batches, and every outcome is recorded. ' +
        'Start with `rotator config check`, then `rotator demo` (no cloud needed) or `rotator run`.',
    )
    .option('-c, --config <file>', 'service config file layered over config/default.yaml (env: ROTATOR_CONFIG)')
    .option('-j, --jobs <dir>', 'directory of job definitions, one target per *.yaml file (env: ROTATOR_JOBS_DIR)')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  for (const mod of commandModules) mod.register(program);
  return program;
}

/** Global options that take a value: the word after them is not a command name. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['-c', '--config', '-j', '--jobs']);

/**
 * The first word of `args` (after the node binary and script) that is not a global option, when it
 * names no command: commander would otherwise answer `rotator nosuch --help` with the global help
 * and exit 0, and a script would take a typo for success.
 */
export function unknownCommandOf(program: Command, args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    const known = arg === 'help' || program.commands.some((c) => c.name() === arg || c.aliases().includes(arg));
    return known ? undefined : arg;
  }
  return undefined;
}

const isEntry = process.argv[1] !== undefined && /rotator(\.js)?$|main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  const program = buildProgram();
  const unknown = unknownCommandOf(program, process.argv.slice(2));
  if (unknown !== undefined) {
    const names = program.commands.map((c) => c.name()).join(', ');
    process.stderr.write(`rotator: unknown command ${JSON.stringify(unknown)} (commands: ${names}; rotator --help lists them)\n`);
    process.exit(1);
  }
  program
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      if (error instanceof CommanderError) process.exit(error.exitCode);
      // Errors reaching here are ours (RotatorError) or unexpected; never print a stack that could
      // hold request bodies: RotatorError messages are built from codes and ids only.
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`rotator: ${message}\n`);
      process.exit(1);
    });
}
