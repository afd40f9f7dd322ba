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

const isEntry = process.argv[1] !== undefined && /rotator(\.js)?$|main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  buildProgram()
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
