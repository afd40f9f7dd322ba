#!/usr/bin/env node
// Entry point of the `rotator` command.
// - A checkout with sources and dev dependencies (src/ and tsx present) runs the TypeScript sources
//   through tsx, so `npx rotator …` works straight after `npm ci` and never runs a stale dist/.
// - A production install (the container image: dist/ only, no dev dependencies) runs dist/.
// ROTATOR_FROM_SOURCE=0 forces dist/, ROTATOR_FROM_SOURCE=1 forces the sources.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'rotator-cli.ts');
const compiled = join(root, 'dist', 'cli', 'rotator-cli.js');

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

const choice = process.env.ROTATOR_FROM_SOURCE;
const fromSource = choice === '1' || (choice !== '0' && existsSync(source) && tsxAvailable());
// V8's tiering for a cold process on a small host (src/v8-tiering.ts), set before the rest of the
// code is loaded so that it governs all of it.
async function tiering(dir, ext) {
  const { applyV8Tiering } = await import(pathToFileURL(join(root, dir, `v8-tiering.${ext}`)).href);
  try {
    applyV8Tiering();
  } catch (error) {
    process.stderr.write(`rotator: ${error.message}\n`);
    process.exit(2);
  }
}
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  await tiering('src', 'ts');
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await tiering('dist', 'js');
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write('rotator: no compiled code in dist/ and no TypeScript sources to run: run `npm run build`\n');
  process.exit(1);
}
