/**
 * When V8 compiles a process's hot functions with its optimizing compiler (TurboFan), tuned for a
 * rotator process on a small host.
 *
 * V8 marks a function for TurboFan once it has run about 66 KB of bytecode (`--interrupt-budget`),
 * and compiles it on background threads. A rotator process starts cold and runs hundreds of
 * distinct functions hot at once (HTTP, JSON, Redis, BullMQ, the vault, the rotation steps): with
 * V8's defaults, a fresh worker compiled about 420 functions during its first 20k-server run, many
 * of them twice after a deoptimization, and its background threads used as much CPU as its main
 * thread (2.6 s against 2.9 s). On a 2-core host that CPU is taken from the main thread, Redis and
 * the other processes, and the run took about 15 % longer than with the settings below (the bench's
 * shared 20k run, medians of four interleaved runs: 4.18 s with V8's defaults, 3.48 s with these).
 *
 * - `--interrupt-budget=1000000`: a function is compiled by TurboFan after about 1 MB of bytecode
 *   run instead of 66 KB. Only functions that stay hot get compiled, after more type feedback (fewer
 *   deoptimizations); a long-lived service still ends with its hot code optimized, a little later.
 * - `--always-sparkplug`: functions get Sparkplug's baseline code (a fast, non-optimizing
 *   translation of the bytecode, compiled on the main thread in microseconds) at their first call,
 *   so code waiting longer for TurboFan does not run in the interpreter meanwhile.
 *
 * Applied by the `rotator` entry point (bin/rotator.js) before the rest of the code is loaded. A flag
 * the process was started with (`node --interrupt-budget=… bin/rotator.js`) is left as given;
 * `ROTATOR_V8_TIERING=v8` keeps all of V8's defaults.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags, by name, with their values. */
export const TIERING_FLAGS: readonly { name: string; flag: string }[] = [
  { name: 'interrupt-budget', flag: '--interrupt-budget=1000000' },
  { name: 'always-sparkplug', flag: '--always-sparkplug' },
];

export interface TieringOptions {
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv | undefined;
  /** The process's own Node/V8 options. @defaultValue process.execArgv */
  execArgv?: readonly string[] | undefined;
  /** @defaultValue v8.setFlagsFromString */
  setFlags?: ((flag: string) => void) | undefined;
}

export interface TieringResult {
  /** The flags set. */
  applied: string[];
  /** Flags not set, with why. */
  skipped: { flag: string; reason: string }[];
}

/** True when `args` already set V8 flag `name` (`--name`, `--name=…`, `--no-name`, underscores or dashes). */
function givenIn(args: readonly string[], name: string): boolean {
  const dashed = name.replace(/_/g, '-');
  return args.some((arg) => {
    const bare = arg.replace(/=.*$/, '').replace(/_/g, '-');
    return bare === `--${dashed}` || bare === `--no-${dashed}`;
  });
}

/** Sets the tiering flags on this process's V8, except those the process was started with. */
export function applyV8Tiering(options: TieringOptions = {}): TieringResult {
  const env = options.env ?? process.env;
  const execArgv = options.execArgv ?? process.execArgv;
  const setFlags = options.setFlags ?? setFlagsFromString;
  const result: TieringResult = { applied: [], skipped: [] };
  const choice = env.ROTATOR_V8_TIERING;
  if (choice !== undefined && choice !== '' && choice !== 'rotator' && choice !== 'v8') {
    throw new Error(`ROTATOR_V8_TIERING must be "rotator" (the default: the flags in src/v8-tiering.ts) or "v8" (V8's own defaults), got ${JSON.stringify(choice)}`);
  }
  // NODE_OPTIONS does not accept these V8 flags (Node refuses to start), so only the command line can set them.
  for (const { name, flag } of TIERING_FLAGS) {
    if (choice === 'v8') result.skipped.push({ flag, reason: 'ROTATOR_V8_TIERING=v8' });
    else if (givenIn(execArgv, name)) result.skipped.push({ flag, reason: 'set on the command line' });
    else {
      setFlags(flag);
      result.applied.push(flag);
    }
  }
  return result;
}
