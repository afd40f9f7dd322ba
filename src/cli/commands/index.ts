import type { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

/** Subcommands in the order `--help` lists them. Each module adds one command (or a group). */
export const commandModules: CommandModule[] = [];
