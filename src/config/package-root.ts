/**
 * Finds the installed package's root (the directory holding `config/default.yaml`), from this
 * module's own location, so that default.yaml is found from any working directory and from both
 * `src/config/` (tsx) and `dist/config/` (compiled).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config', 'default.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('rotator: cannot find config/default.yaml above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export function defaultConfigFile(): string {
  return join(packageRoot(), 'config', 'default.yaml');
}
