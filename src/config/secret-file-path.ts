/**
 * How a message names the file that a `*_FILE` variable (HUAWEI_SK_FILE, ROTATOR_VAULT_KEY_FILE, …)
 * points to, when that file cannot be read.
 *
 * Putting the secret itself into the `_FILE` variable is an easy mistake (Compose and Kubernetes
 * manifests set both forms side by side). The value is then taken as a path relative to the working
 * directory, and "cannot read /app/<the secret> (ENOENT)" would print the secret into the config
 * check, the start-up warnings and the container log. So the path is shown only when it plausibly is
 * one: the variable's value has a directory part and that directory exists. Otherwise the message
 * says what to check instead, without the value.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';

/** `path` (the resolved value of `variable`), or a stand-in naming only the variable when the value may be a secret. */
export function secretFilePathForMessage(variable: string, value: string, path: string): string {
  return looksLikeAPath(value, path) ? path : `the file named by ${variable} (value not shown: it has no existing directory, so it may be the secret itself; ${hintFor(variable)})`;
}

function looksLikeAPath(value: string, path: string): boolean {
  if (!value.includes('/')) return false;
  try {
    return statSync(dirname(path)).isDirectory();
  } catch {
    return false;
  }
}

function hintFor(variable: string): string {
  const direct = variable.replace(/_FILE(?=(__|$))/, '');
  return direct === variable ? `${variable} must hold a file's path` : `to pass a value, not a path, set ${direct}`;
}
