/**
 * A secret taken from the environment: either the value of `NAME` or the content of the file named by
 * `NAME_FILE` (Docker/Kubernetes secrets). Only the reference is kept in the config object; the value
 * lives in a closure (env) or is re-read from its file on each use, so that a refreshed token file is
 * picked up without a restart and no secret is reachable by serialising the config.
 */
import { FileTooLargeError, MAX_SECRET_FILE_BYTES, readFileBoundedSync } from './bounded-read.js';
import { isAbsolute, resolve } from 'node:path';
import { secretFilePathForMessage } from './secret-file-path.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where a secret comes from; printable (it holds no secret). */
export type SecretSource =
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'file'; readonly variable: string; readonly path: string }
  | { readonly kind: 'builtin'; readonly description: string };

export function describeSource(source: SecretSource): string {
  switch (source.kind) {
    case 'env':
      return `env ${source.variable}`;
    case 'file':
      return `file ${source.path} (from ${source.variable})`;
    case 'builtin':
      return source.description;
  }
}

export interface EnvSecretRef {
  readonly source: SecretSource;
  /** Current value; throws an Error naming the variable/file (never the value) if it cannot be read. */
  read(): string;
}

export type LookupResult =
  | { kind: 'found'; ref: EnvSecretRef }
  | { kind: 'absent' }
  /** Set but unusable; `problem` names variables and files, never values. */
  | { kind: 'invalid'; problem: string };

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

/**
 * Looks `variable` up as `variable` or `${fileVariable}`. Both set is an error: which one wins would be
 * a guess, and a stale one silently winning is how a rotated credential keeps being used.
 */
export function lookupEnvSecret(env: Env, variable: string, fileVariable: string, cwd: string): LookupResult {
  const direct = env[variable];
  const file = env[fileVariable];
  if (isSet(direct) && isSet(file)) {
    return { kind: 'invalid', problem: `both ${variable} and ${fileVariable} are set; set only one` };
  }
  if (isSet(direct)) {
    const value = direct.trim();
    if (value === '') return { kind: 'invalid', problem: `${variable} holds only whitespace` };
    return { kind: 'found', ref: { source: { kind: 'env', variable }, read: () => value } };
  }
  if (isSet(file)) {
    const path = isAbsolute(file) ? file : resolve(cwd, file);
    const read = (): string => {
      let text: string;
      try {
        text = readFileBoundedSync(path, MAX_SECRET_FILE_BYTES).toString('utf8');
      } catch (error) {
        if (error instanceof FileTooLargeError) throw new Error(`${fileVariable}: ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes (not a credential file)`);
        const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
        throw new Error(`${fileVariable}: cannot read ${secretFilePathForMessage(fileVariable, file, path)} (${code})`);
      }
      const value = text.trim();
      if (value === '') throw new Error(`${fileVariable}: ${path} is empty`);
      return value;
    };
    try {
      read();
    } catch (error) {
      return { kind: 'invalid', problem: (error as Error).message };
    }
    return { kind: 'found', ref: { source: { kind: 'file', variable: fileVariable, path }, read } };
  }
  return { kind: 'absent' };
}
