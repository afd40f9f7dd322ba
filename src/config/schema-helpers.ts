/** Small zod builders shared by the service and target schemas, each with operator-facing wording. */
import { z } from 'zod';

/** An integer in [min, max]; every failure reads "expected an integer from min to max". */
export function intRange(min: number, max: number): z.ZodInt {
  const error = `an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** A number in (0, max]. */
export function positiveNumber(max: number): z.ZodNumber {
  const error = `a number above 0 and at most ${max}`;
  return z.number({ error }).gt(0, { error }).max(max, { error });
}

export const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_EXPECTED = 'a name of lowercase letters, digits and "-" (1 to 63 characters, not starting or ending with "-")';

/** Account and target names: they end up in env variable names, job ids and metric labels. */
export const resourceName = z.string({ error: NAME_EXPECTED }).regex(NAME_PATTERN, { error: NAME_EXPECTED });

/** A non-empty string without surrounding spaces. */
export function nonEmptyString(what = 'a non-empty string'): z.ZodString {
  return z
    .string({ error: what })
    .min(1, { error: what })
    .refine((s) => s.trim() === s, { error: `${what} without leading or trailing spaces` });
}

export const booleanField = z.boolean({ error: 'true or false' });

/** A path to a file; resolved against the working directory by the loader. */
export const filePath = nonEmptyString('a file path');

export function enumField<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, { error: `one of ${values.join(' | ')}` });
}
