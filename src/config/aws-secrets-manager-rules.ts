/**
 * What the AWS Secrets Manager vault refuses at start, in one place: the adapter
 * (src/adapters/aws-secrets-manager/aws-secrets-manager-vault.ts) enforces these when it is built,
 * and the config schema reports them as `rotator config check` errors naming the file and field, so
 * a config that checks OK also starts.
 */

/** Tags the adapter sets on every secret itself (`list` finds its secrets by them). */
export const AWS_RESERVED_TAG_KEYS: readonly string[] = ['managed-by', 'server-id', 'region', 'project-id'];

/** AWS region names: lowercase letters, digits and dashes (eu-central-1). */
export const AWS_REGION_PATTERN = /^[a-z0-9-]{1,64}$/;

const TAG_KEY_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/**
 * What tag `key: value` should have been, worded to follow "expected", when AWS or the adapter would
 * refuse it; undefined when it is fine.
 */
export function awsTagProblem(key: string, value: string): string | undefined {
  if (AWS_RESERVED_TAG_KEYS.includes(key)) {
    return `a tag key other than ${AWS_RESERVED_TAG_KEYS.join(', ')} (rotator sets those on every secret itself; remove "${key}")`;
  }
  if (!TAG_KEY_PATTERN.test(key) || !TAG_VALUE_PATTERN.test(value)) {
    return 'AWS tag characters (letters, digits, spaces, _.:/=+-@; keys up to 128, values up to 256)';
  }
  return undefined;
}

/** What the endpoint should have been (after "expected") when it would be refused; undefined when fine. */
export function awsEndpointProblem(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'an http(s) URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'an http(s) URL';
}
