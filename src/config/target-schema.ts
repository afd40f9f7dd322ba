/**
 * A rotation target: one `jobs/*.yaml` file. An operator adds a target by adding a file.
 *
 * Objects are strict (typos are errors). Refinements sit on the smallest field they concern, so a bad
 * policy and a bad batch size in the same file are both reported in one pass (zod skips an object's
 * own refinements once one of its fields failed).
 */
import { z } from 'zod';
import { MAX_SERVERS_PER_CALL } from '../domain/batch-limits.js';
import {
  CHAR_CLASSES,
  DEFAULT_PASSWORD_POLICY,
  unsatisfiablePolicyReasons,
  type CharClass,
  type PasswordPolicy,
} from '../policy/password-policy.js';
import { cronProblem, isValidTimezone } from './schedule.js';
import { booleanField, enumField, intRange, positiveNumber, resourceName } from './schema-helpers.js';

/** Statuses Huawei's server list accepts as a `status` filter. */
export const SERVER_STATUSES = [
  'ACTIVE',
  'BUILD',
  'DELETED',
  'ERROR',
  'HARD_REBOOT',
  'MIGRATING',
  'PAUSED',
  'REBOOT',
  'REBUILD',
  'RESIZE',
  'REVERT_RESIZE',
  'SHELVED',
  'SHELVED_OFFLOADED',
  'SHUTOFF',
  'SOFT_DELETED',
  'SUSPENDED',
  'VERIFY_RESIZE',
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SERVER_ID_EXPECTED = 'an ECS server id (a UUID such as 1b3a9c02-4c1e-4a5e-9f0c-2d7e8a6b5c41)';
const EPS_EXPECTED = 'an enterprise project id: "0" (the default project) or a UUID';
const CRON_EXPECTED = 'a cron expression of 5 fields (minute hour day month weekday) or 6 (with seconds first)';
const TZ_EXPECTED = 'an IANA time zone such as Europe/Berlin or UTC';

/** "" in YAML (as in the shipped example) means "no filter". */
function optionalFilter<T extends z.ZodType<string>>(schema: T) {
  return z.preprocess((value) => (value === '' || value === null ? undefined : value), schema.optional());
}

const selectorSchema = z
  .strictObject({
    serverIds: z
      .array(z.string({ error: SERVER_ID_EXPECTED }).regex(UUID, { error: SERVER_ID_EXPECTED }), { error: 'a list of ECS server ids' })
      .max(100_000, { error: 'at most 100000 server ids (use tags for larger fleets)' })
      .default([])
      .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]),
    tags: z
      .record(
        z.string().regex(/^[^=,]{1,128}$/, { error: 'a tag key of 1 to 128 characters without "=" or ","' }),
        z.string({ error: 'a string (quote values such as "true" or "42")' }).max(255, { error: 'a tag value of at most 255 characters' }),
        { error: 'a mapping of tag key to value' },
      )
      .default({}),
    name: optionalFilter(z.string({ error: 'a server name (Huawei matches it fuzzily)' }).max(255)),
    status: optionalFilter(enumField(SERVER_STATUSES)),
    enterpriseProjectId: optionalFilter(
      z.string({ error: EPS_EXPECTED }).refine((v) => v === '0' || UUID.test(v), { error: EPS_EXPECTED }),
    ),
  })
  .superRefine((selector, ctx) => {
    // A target must never mean "the whole project" by accident. `status` alone only narrows, so it does
    // not count: `status: ACTIVE` with empty tags would select every running server of the project.
    const hasSelection =
      selector.serverIds.length > 0 ||
      Object.keys(selector.tags).length > 0 ||
      selector.name !== undefined ||
      selector.enterpriseProjectId !== undefined;
    if (!hasSelection) {
      ctx.addIssue({
        code: 'custom',
        message: 'at least one server id in serverIds, or a filter among tags, name, enterpriseProjectId (status alone does not select)',
        input: selector,
        params: { found: 'no server id and no selecting filter' },
      });
    }
  });

const policySchema = z
  .strictObject({
    length: z.int({ error: 'an integer from 8 to 26' }).optional(),
    requiredClasses: z.array(enumField(CHAR_CLASSES as readonly CharClass[] as [CharClass, ...CharClass[]]), { error: 'a list of classes' }).optional(),
    specials: z.string({ error: 'a string of special characters' }).optional(),
  })
  .default({})
  .transform(
    (partial): PasswordPolicy => ({
      length: partial.length ?? DEFAULT_PASSWORD_POLICY.length,
      requiredClasses: partial.requiredClasses ?? [...DEFAULT_PASSWORD_POLICY.requiredClasses],
      specials: partial.specials ?? DEFAULT_PASSWORD_POLICY.specials,
    }),
  )
  .superRefine((policy, ctx) => {
    // The policy module knows Huawei's rules; each reason names the field it is about.
    for (const reason of unsatisfiablePolicyReasons(policy)) {
      const field = reason.startsWith('length')
        ? 'length'
        : reason.startsWith('requiredClasses')
          ? 'requiredClasses'
          : reason.startsWith('specials') || reason.includes('specials')
            ? 'specials'
            : undefined;
      ctx.addIssue({
        code: 'custom',
        path: field === undefined ? [] : [field],
        // The reason ends in ", got <value>"; the value goes to `found` instead.
        message: `a policy Huawei accepts (${reason.replace(/, got [^,]*$/, '')})`,
        input: field === undefined ? policy : policy[field],
        params: { found: field === undefined ? 'this policy' : describePolicyField(policy[field]) },
      });
    }
  });

function describePolicyField(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(', ')}]` : JSON.stringify(value);
}

export const targetSchema = z.strictObject({
  name: resourceName,
  account: resourceName,
  schedule: z.string({ error: CRON_EXPECTED }).superRefine((schedule, ctx) => {
    const problem = cronProblem(schedule);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: CRON_EXPECTED, input: schedule, params: { found: `${JSON.stringify(schedule)} (${problem})` } });
    }
  }),
  timezone: z
    .string({ error: TZ_EXPECTED })
    .refine((tz) => isValidTimezone(tz), { error: TZ_EXPECTED })
    .default('UTC'),
  enabled: booleanField.default(true),
  selector: selectorSchema,
  passwordPolicy: policySchema,
  batchSize: intRange(1, MAX_SERVERS_PER_CALL).default(100),
  uniquePerServer: booleanField.default(false),
  restartPolicy: enumField(['none', 'soft', 'hard'] as const).default('none'),
  dryRunPreflight: booleanField.default(true),
  maxPasswordAgeDays: positiveNumber(3650).optional(),
  notify: z.array(resourceName, { error: 'a list of notification channel names (service config notifications.channels)' }).default([]),
});

/** Which servers a target rotates: `serverIds` ∪ (servers matching ALL given filters). */
export interface TargetSelector {
  readonly serverIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly name?: string | undefined;
  readonly status?: (typeof SERVER_STATUSES)[number] | undefined;
  readonly enterpriseProjectId?: string | undefined;
}

/** One rotation target, from one job file. */
export interface TargetConfig {
  /** Unique across job files; `[a-z0-9-]`. */
  readonly name: string;
  /** Name of an account of the service config. */
  readonly account: string;
  /** Cron, 5 or 6 fields, validated by node-cron and cron-parser. */
  readonly schedule: string;
  /** IANA zone the schedule is read in. @defaultValue `UTC` */
  readonly timezone: string;
  /** Disabled targets are not scheduled and need no credentials. @defaultValue true */
  readonly enabled: boolean;
  readonly selector: TargetSelector;
  /** Fields left out take DEFAULT_PASSWORD_POLICY's values. */
  readonly passwordPolicy: Readonly<PasswordPolicy>;
  /** Servers per reset call (one password per batch unless uniquePerServer). @defaultValue 100 */
  readonly batchSize: number;
  /** One password and one call per server (slower; limits lateral movement). @defaultValue false */
  readonly uniquePerServer: boolean;
  /** Reboot after an accepted reset so the password takes effect now. @defaultValue `none` */
  readonly restartPolicy: 'none' | 'soft' | 'hard';
  /** Send a `dry_run` reset before storing or resetting anything. @defaultValue true */
  readonly dryRunPreflight: boolean;
  /**
   * Compliance policy: a server whose password is older than this (in days, fractions allowed) is
   * overdue. @defaultValue two schedule intervals (the largest gap between fire times), see
   * src/compliance/password-age-policy.ts
   */
  readonly maxPasswordAgeDays?: number | undefined;
  /**
   * Notification channels (service config `notifications.channels[].name`) that get this target's
   * events besides those with `targets: all`. @defaultValue []
   */
  readonly notify: readonly string[];
  /** The job file it came from (relative to the working directory when inside it). */
  readonly file: string;
}

type ParsedTarget = z.output<typeof targetSchema>;
type _Fits = ParsedTarget extends Omit<TargetConfig, 'file'> ? true : never;
const fits: _Fits = true;
void fits;
