import type { Command } from 'commander';
import * as simulator from './simulator.js';
import * as ecs from './ecs.js';
import * as configCheck from './config-check.js';
import * as run from './run.js';
import * as rotate from './rotate.js';
import * as status from './status.js';
import * as history from './history.js';
import * as report from './report.js';
import * as vault from './vault.js';

export interface CommandModule {
  register(program: Command): void;
}

/** Subcommands in the order `--help` lists them. Each module adds one command (or a group). */
export const commandModules: CommandModule[] = [run, rotate, status, report, history, simulator, ecs, vault, configCheck];
