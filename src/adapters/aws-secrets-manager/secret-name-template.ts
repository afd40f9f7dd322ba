import { VaultErrorCode } from '../../domain/error-codes.js';
import { RotatorError } from '../../domain/rotator-error.js';
import type { SecretKey } from '../../ports/vault.js';

/** Where each server's secret lives: `ecs/{region}/{projectId}/{serverId}` unless configured. */
export const DEFAULT_SECRET_NAME_TEMPLATE = 'ecs/{region}/{projectId}/{serverId}';

const PLACEHOLDERS = ['region', 'projectId', 'serverId'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** AWS secret names: ASCII letters, digits and `/_+=.@-`, at most 512 characters. */
const NAME_CHARS = /^[A-Za-z0-9/_+=.@-]*$/;
/**
 * A placeholder's value may not contain `/` (or any character outside AWS's set), so that a name
 * parses back into its key without ambiguity.
 */
const VALUE_PATTERN = /^[A-Za-z0-9_+=.@-]{1,128}$/;

type Segment = { literal: string } | { placeholder: Placeholder };

export interface SecretNameTemplate {
  readonly template: string;
  /** The secret's name; `VAULT_INVALID_REQUEST` when a key field has characters AWS names refuse. */
  render(key: SecretKey): string;
  /** The key a name was rendered from, or undefined when the name does not fit the template. */
  parse(name: string): SecretKey | undefined;
  /** The longest name prefix shared by every secret in `filter` (for ListSecrets' `name` filter). */
  prefixFor(filter: { region?: string | undefined; projectId?: string | undefined }): string;
}

function configError(message: string): RotatorError {
  return new RotatorError({ code: VaultErrorCode.configInvalid, message, retryable: false });
}

/** Parses and validates a template; throws `VAULT_CONFIG_INVALID` naming the problem. */
export function compileSecretNameTemplate(template: string): SecretNameTemplate {
  const segments: Segment[] = [];
  const seen = new Set<Placeholder>();
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const close = rest.indexOf('}');
    if (open === -1) {
      if (close !== -1) throw configError(`nameTemplate: unmatched "}" in ${JSON.stringify(template)}`);
      segments.push({ literal: rest });
      break;
    }
    if (close !== -1 && close < open) throw configError(`nameTemplate: unmatched "}" in ${JSON.stringify(template)}`);
    if (open > 0) segments.push({ literal: rest.slice(0, open) });
    const end = rest.indexOf('}', open);
    if (end === -1) throw configError(`nameTemplate: unmatched "{" in ${JSON.stringify(template)}`);
    const name = rest.slice(open + 1, end);
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw configError(`nameTemplate: unknown placeholder {${name}}; expected {region}, {projectId} or {serverId}`);
    }
    const placeholder = name as Placeholder;
    if (seen.has(placeholder)) throw configError(`nameTemplate: placeholder {${name}} appears twice`);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && 'placeholder' in previous) {
      throw configError(`nameTemplate: placeholders {${previous.placeholder}} and {${name}} need a separator between them`);
    }
    seen.add(placeholder);
    segments.push({ placeholder });
    rest = rest.slice(end + 1);
  }
  if (!seen.has('serverId')) throw configError('nameTemplate: must contain {serverId} (one secret per server)');
  for (const segment of segments) {
    if ('literal' in segment && !NAME_CHARS.test(segment.literal)) {
      throw configError(`nameTemplate: ${JSON.stringify(segment.literal)} has characters AWS secret names refuse (allowed: A-Z a-z 0-9 /_+=.@-)`);
    }
  }

  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const pattern = new RegExp(
    `^${segments.map((s) => ('literal' in s ? escape(s.literal) : `(?<${s.placeholder}>[A-Za-z0-9_+=.@-]+)`)).join('')}$`,
  );

  return {
    template,
    render(key) {
      let name = '';
      for (const segment of segments) {
        if ('literal' in segment) {
          name += segment.literal;
          continue;
        }
        const value = key[segment.placeholder];
        if (typeof value !== 'string' || !VALUE_PATTERN.test(value)) {
          throw new RotatorError({
            code: VaultErrorCode.invalidRequest,
            message: `secret key field ${segment.placeholder}: expected 1-128 characters of A-Z a-z 0-9 _+=.@-, found ${JSON.stringify(String(value)).slice(0, 140)}`,
            retryable: false,
          });
        }
        name += value;
      }
      if (name.length > 512) {
        throw new RotatorError({ code: VaultErrorCode.invalidRequest, message: `secret name longer than 512 characters: ${name.slice(0, 64)}…`, retryable: false });
      }
      return name;
    },
    parse(name) {
      const groups = pattern.exec(name)?.groups;
      if (!groups) return undefined;
      const serverId = groups['serverId'];
      const region = groups['region'];
      const projectId = groups['projectId'];
      if (serverId === undefined || region === undefined || projectId === undefined) return undefined;
      return { region, projectId, serverId };
    },
    prefixFor(filter) {
      let prefix = '';
      for (const segment of segments) {
        if ('literal' in segment) {
          prefix += segment.literal;
          continue;
        }
        const value = segment.placeholder === 'serverId' ? undefined : filter[segment.placeholder];
        if (value === undefined || !VALUE_PATTERN.test(value)) break; // a value no name can hold: filtered client-side
        prefix += value;
      }
      return prefix;
    },
  };
}
