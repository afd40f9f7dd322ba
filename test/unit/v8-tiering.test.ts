import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyV8Tiering, TIERING_FLAGS } from '../../src/v8-tiering.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('applyV8Tiering', () => {
  const apply = (env: NodeJS.ProcessEnv, execArgv: string[] = []) => {
    const set: string[] = [];
    const result = applyV8Tiering({ env, execArgv, setFlags: (flag) => set.push(flag) });
    return { set, result };
  };

  it('sets every flag by default', () => {
    const { set, result } = apply({});
    expect(set).toEqual(['--interrupt-budget=1000000', '--always-sparkplug']);
    expect(result.applied).toEqual(set);
    expect(result.skipped).toEqual([]);
  });

  it('leaves a flag the process was started with as given, in any of its spellings', () => {
    for (const given of ['--interrupt-budget=5000', '--interrupt_budget=5000', '--interrupt-budget']) {
      const { set, result } = apply({}, ['--max-old-space-size=512', given]);
      expect(set, given).toEqual(['--always-sparkplug']);
      expect(result.skipped, given).toEqual([{ flag: '--interrupt-budget=1000000', reason: 'set on the command line' }]);
    }
    expect(apply({}, ['--no-always-sparkplug']).set).toEqual(['--interrupt-budget=1000000']);
    // A longer flag that merely starts with the same name is another flag.
    expect(apply({}, ['--interrupt-budget-for-feedback-allocation=100']).set).toHaveLength(TIERING_FLAGS.length);
  });

  it('keeps V8 defaults with ROTATOR_V8_TIERING=v8, and refuses an unknown value naming the variable', () => {
    expect(apply({ ROTATOR_V8_TIERING: 'v8' }).set).toEqual([]);
    expect(apply({ ROTATOR_V8_TIERING: 'rotator' }).set).toHaveLength(TIERING_FLAGS.length);
    expect(() => apply({ ROTATOR_V8_TIERING: 'fast' })).toThrow(/ROTATOR_V8_TIERING must be "rotator".*"v8".*got "fast"/);
  });
});

/**
 * The flags' effect on a real V8, seen through %GetOptimizationStatus in a child process (V8's
 * OptimizationStatus bits: 15 baseline (Sparkplug) code, 6 TurboFan code, 8 to 10 marked for or in
 * TurboFan compilation). A probe function run 300 times (about 600 KB of bytecode) is
 * TurboFan-compiled with V8's defaults, and with the rotator's is still baseline code, not even
 * marked for TurboFan.
 */
describe('the tiering in a real V8', () => {
  const BASELINE = 1 << 15;
  const TURBOFANNED = 1 << 6;
  const MARKED = 1 << 8;
  const MARKED_CONCURRENT = 1 << 9;
  const OPTIMIZING = 1 << 10;

  async function probe(apply: boolean): Promise<{ afterOne: number; afterMany: number }> {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-tiering-'));
    try {
      const script = join(dir, 'probe.mjs');
      await writeFile(
        script,
        [
          `import { register } from ${JSON.stringify(pathToFileURL(join(root, 'node_modules/tsx/dist/esm/api/index.mjs')).href)};`,
          'register();',
          `const { applyV8Tiering } = await import(${JSON.stringify(pathToFileURL(join(root, 'src/v8-tiering.ts')).href)});`,
          apply ? 'applyV8Tiering({ env: {} });' : '',
          'function probe(a) { let s = 0; for (let i = 0; i < 100; i++) s += (a * i) % 7; return s; }',
          'probe(1);',
          'const afterOne = %GetOptimizationStatus(probe);',
          'let x = 0;',
          'for (let k = 0; k < 300; k++) x += probe(k);',
          // Marking follows from the bytecode run (deterministic); the TurboFan job then runs on a
          // background thread, late on a loaded machine: wait for it while the probe is marked or
          // being compiled (up to 10 s), never when it is not.
          `const onItsWay = ${MARKED | MARKED_CONCURRENT | OPTIMIZING};`,
          'let afterMany = %GetOptimizationStatus(probe);',
          `for (let i = 0; i < 200 && (afterMany & onItsWay) !== 0 && (afterMany & ${TURBOFANNED}) === 0; i++) {`,
          '  await new Promise((r) => setTimeout(r, 50));',
          '  afterMany = %GetOptimizationStatus(probe);',
          '}',
          'console.log(JSON.stringify({ afterOne, afterMany, x }));',
        ].join('\n'),
      );
      const { stdout } = await run(process.execPath, ['--allow-natives-syntax', script], { cwd: root });
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as { afterOne: number; afterMany: number };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('with V8 defaults, the probe is TurboFan-compiled: the probe can see tiering', async () => {
    const status = await probe(false);
    // (Whether it has baseline code after one call depends on V8's batch compilation: not asserted.)
    expect(status.afterMany & TURBOFANNED, `V8 optimization status ${status.afterMany.toString(2)}`).toBe(TURBOFANNED);
  });

  it('with the rotator tiering, the probe gets baseline code at its first call and is not yet TurboFan-compiled', async () => {
    const status = await probe(true);
    expect(status.afterOne & BASELINE).toBe(BASELINE);
    expect(status.afterMany & (TURBOFANNED | MARKED | MARKED_CONCURRENT | OPTIMIZING), `V8 optimization status ${status.afterMany.toString(2)}`).toBe(0);
  });
});

describe('the rotator entry point', () => {
  it('applies the tiering before the rest: a bad ROTATOR_V8_TIERING stops it with the variable named', async () => {
    const failure = await run(process.execPath, [join(root, 'bin/rotator.js'), '--help'], {
      cwd: root,
      env: { ...process.env, ROTATOR_FROM_SOURCE: '1', ROTATOR_V8_TIERING: 'fast' },
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('rotator: ROTATOR_V8_TIERING must be "rotator"');
    const { stdout } = await run(process.execPath, [join(root, 'bin/rotator.js'), '--help'], {
      cwd: root,
      env: { ...process.env, ROTATOR_FROM_SOURCE: '1', ROTATOR_V8_TIERING: 'v8' },
    });
    expect(stdout).toContain('Usage');
  });
});
