/**
 * A service config whose `limits:` block is the given YAML lines, layered over the shipped
 * default.yaml and the package's jobs/, written to a temp directory: for tests of one limits field.
 * Call `cleanup()` in afterEach.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/index.js';

export const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');

export function configWithLimits(): { load(limits: string): ReturnType<typeof loadConfig>; cleanup(): Promise<void> } {
  const temps: string[] = [];
  return {
    async load(limits) {
      const dir = await mkdtemp(join(tmpdir(), 'rotator-limits-'));
      temps.push(dir);
      await writeFile(join(dir, 'c.yaml'), `limits:\n${limits}\n`);
      return loadConfig({ env: {}, cwd: PACKAGE_ROOT, configPath: join(dir, 'c.yaml'), jobsDir: join(PACKAGE_ROOT, 'jobs') });
    },
    async cleanup() {
      await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}
