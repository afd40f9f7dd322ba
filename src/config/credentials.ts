/**
 * Huawei credentials per account, from the environment only (never from YAML).
 *
 * For account `prod-eu` (suffix `PROD_EU`: upper-cased, non-alphanumerics as `_`):
 *   AK/SK: `HUAWEI_AK__PROD_EU` + `HUAWEI_SK__PROD_EU`, else `HUAWEI_AK` + `HUAWEI_SK`;
 *   token: `HUAWEI_TOKEN__PROD_EU`, else `HUAWEI_TOKEN`.
 * Each may instead name a file: `HUAWEI_AK_FILE__PROD_EU`, `HUAWEI_AK_FILE`, … (the `_FILE` goes before
 * the `__`, so that no account name can produce another variable's name).
 * An account-specific AK needs an account-specific SK: mixing one account's AK with the global SK is
 * always a mistake, and would cost failed signatures (the AK locks after 5).
 * An account whose endpoint is `simulator` uses the simulator's public demo credentials.
 */
import { DEMO_CREDENTIALS, DEMO_TOKEN } from '../simulator/demo-credentials.js';
import { lookupEnvSecret, type Env, type EnvSecretRef, type SecretSource } from './env-secret.js';
import { SIMULATOR_ENDPOINT, type AccountConfig } from './service-schema.js';

export type ResolvedCredentials =
  | { readonly kind: 'aksk'; readonly accessKey: string; readonly secretKey: string }
  | { readonly kind: 'token'; readonly token: string };

/** Printable description of where an account's credentials come from. */
export interface CredentialSources {
  readonly kind: 'aksk' | 'token';
  /** Per part (`accessKey`, `secretKey` or `token`). */
  readonly parts: Readonly<Record<string, SecretSource>>;
}

export interface CredentialPlan {
  readonly sources: CredentialSources;
  /** Reads the current values (files are re-read); throws an Error naming the variable if one vanished. */
  resolve(): ResolvedCredentials;
}

export type CredentialPlanResult = { ok: true; plan: CredentialPlan } | { ok: false; problem: string };

/** `prod-eu` → `PROD_EU`. */
export function accountEnvSuffix(accountName: string): string {
  return accountName.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The variable names an account may use for one part, specific first. */
export function credentialVariables(base: 'HUAWEI_AK' | 'HUAWEI_SK' | 'HUAWEI_TOKEN', accountName: string) {
  const suffix = accountEnvSuffix(accountName);
  return {
    specific: `${base}__${suffix}`,
    specificFile: `${base}_FILE__${suffix}`,
    global: base,
    globalFile: `${base}_FILE`,
  };
}

const DEMO_SOURCE: SecretSource = { kind: 'builtin', description: 'the simulator demo credentials (public, protect nothing)' };

export function planCredentials(account: AccountConfig, env: Env, cwd: string): CredentialPlanResult {
  if (account.endpoint === SIMULATOR_ENDPOINT) {
    if (account.auth === 'token') {
      return { ok: true, plan: { sources: { kind: 'token', parts: { token: DEMO_SOURCE } }, resolve: () => ({ kind: 'token', token: DEMO_TOKEN }) } };
    }
    return {
      ok: true,
      plan: {
        sources: { kind: 'aksk', parts: { accessKey: DEMO_SOURCE, secretKey: DEMO_SOURCE } },
        resolve: () => ({ kind: 'aksk', accessKey: DEMO_CREDENTIALS.accessKey, secretKey: DEMO_CREDENTIALS.secretKey }),
      },
    };
  }

  if (account.auth === 'token') {
    const names = credentialVariables('HUAWEI_TOKEN', account.name);
    const found = pick(env, cwd, names);
    if (!found.ok) return found;
    if (found.ref === undefined) {
      return { ok: false, problem: `no token: set ${names.specific} (or ${names.specificFile}), or ${names.global} (or ${names.globalFile})` };
    }
    const token = found.ref;
    return { ok: true, plan: { sources: { kind: 'token', parts: { token: token.source } }, resolve: () => ({ kind: 'token', token: token.read() }) } };
  }

  const ak = credentialVariables('HUAWEI_AK', account.name);
  const sk = credentialVariables('HUAWEI_SK', account.name);
  const specificAk = lookupEnvSecret(env, ak.specific, ak.specificFile, cwd);
  const specificSk = lookupEnvSecret(env, sk.specific, sk.specificFile, cwd);
  for (const result of [specificAk, specificSk]) if (result.kind === 'invalid') return { ok: false, problem: result.problem };

  let pair: [EnvSecretRef, EnvSecretRef];
  if (specificAk.kind === 'found' || specificSk.kind === 'found') {
    if (specificAk.kind !== 'found') {
      return { ok: false, problem: `${sk.specific} is set but ${ak.specific} (or ${ak.specificFile}) is not: an account-specific secret key needs its own access key` };
    }
    if (specificSk.kind !== 'found') {
      return { ok: false, problem: `${ak.specific} is set but ${sk.specific} (or ${sk.specificFile}) is not: an account-specific access key needs its own secret key` };
    }
    pair = [specificAk.ref, specificSk.ref];
  } else {
    const globalAk = lookupEnvSecret(env, ak.global, ak.globalFile, cwd);
    const globalSk = lookupEnvSecret(env, sk.global, sk.globalFile, cwd);
    for (const result of [globalAk, globalSk]) if (result.kind === 'invalid') return { ok: false, problem: result.problem };
    if (globalAk.kind !== 'found' || globalSk.kind !== 'found') {
      const missing = [globalAk.kind !== 'found' ? 'access key' : undefined, globalSk.kind !== 'found' ? 'secret key' : undefined]
        .filter((x) => x !== undefined)
        .join(' and ');
      return {
        ok: false,
        problem:
          `no ${missing}: set ${ak.specific} and ${sk.specific} (this account only), or ${ak.global} and ${sk.global} (every account); ` +
          `each may be given as a file instead (${ak.specificFile}, ${sk.globalFile}, …)`,
      };
    }
    pair = [globalAk.ref, globalSk.ref];
  }
  const [accessKey, secretKey] = pair;
  return {
    ok: true,
    plan: {
      sources: { kind: 'aksk', parts: { accessKey: accessKey.source, secretKey: secretKey.source } },
      resolve: () => ({ kind: 'aksk', accessKey: accessKey.read(), secretKey: secretKey.read() }),
    },
  };
}

function pick(
  env: Env,
  cwd: string,
  names: ReturnType<typeof credentialVariables>,
): { ok: true; ref: EnvSecretRef | undefined } | { ok: false; problem: string } {
  const specific = lookupEnvSecret(env, names.specific, names.specificFile, cwd);
  if (specific.kind === 'invalid') return { ok: false, problem: specific.problem };
  if (specific.kind === 'found') return { ok: true, ref: specific.ref };
  const global = lookupEnvSecret(env, names.global, names.globalFile, cwd);
  if (global.kind === 'invalid') return { ok: false, problem: global.problem };
  return { ok: true, ref: global.kind === 'found' ? global.ref : undefined };
}
