import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { SimServerSpec } from './sim-server.js';
import { createSeededRandom, seededUuid } from './seeded-random.js';

/** How to make a fleet from a seed. */
export interface GeneratedFleetOptions {
  /** Number of servers. @defaultValue 50 */
  count?: number;
  /** Fraction of Windows servers. @defaultValue 0.3 */
  windowsRatio?: number;
  /** Same seed, same fleet (ids, names, tags, states). @defaultValue 1 */
  seed?: number;
  /** Fraction of locked servers. @defaultValue 0.02 */
  lockedFraction?: number;
  /** Fraction without the reset plug-in (`resetpwd_flag` False). @defaultValue 0.05 */
  noPluginFraction?: number;
  /** Fraction in SHUTOFF. @defaultValue 0.05 */
  shutoffFraction?: number;
}

/** Where the simulator's fleet comes from. */
export type FleetSource =
  | ({ kind?: 'generated' } & GeneratedFleetOptions)
  | { kind: 'file'; path: string }
  | { kind: 'servers'; servers: readonly SimServerSpec[] };

const ROLES = ['web', 'app', 'db', 'cache', 'batch'] as const;

export function generateFleet(options: GeneratedFleetOptions = {}): SimServerSpec[] {
  const count = options.count ?? 50;
  const windowsRatio = options.windowsRatio ?? 0.3;
  const lockedFraction = options.lockedFraction ?? 0.02;
  const noPluginFraction = options.noPluginFraction ?? 0.05;
  const shutoffFraction = options.shutoffFraction ?? 0.05;
  for (const [field, value] of Object.entries({ windowsRatio, lockedFraction, noPluginFraction, shutoffFraction })) {
    if (!(value >= 0 && value <= 1)) throw new Error(`fleet.${field}: expected a fraction between 0 and 1, got ${value}`);
  }
  if (!Number.isInteger(count) || count < 0) throw new Error(`fleet.count: expected a non-negative integer, got ${count}`);
  const random = createSeededRandom(options.seed ?? 1);
  const perRole = new Map<string, number>();
  const servers: SimServerSpec[] = [];
  for (let i = 0; i < count; i++) {
    const role = ROLES[random.int(ROLES.length)]!;
    const n = (perRole.get(role) ?? 0) + 1;
    perRole.set(role, n);
    const osType = random.chance(windowsRatio) ? 'Windows' : 'Linux';
    const env = random.chance(0.6) ? 'prod' : 'staging';
    // 90% opt in to rotation, so a `tags=rotate=true` filter selects a strict, non-trivial subset.
    const rotate = random.chance(0.9);
    const locked = random.chance(lockedFraction);
    const plugin = !random.chance(noPluginFraction);
    const status = random.chance(shutoffFraction) ? 'SHUTOFF' : 'ACTIVE';
    servers.push({
      id: seededUuid(random),
      name: `ecs-${role}-${String(n).padStart(3, '0')}`,
      osType,
      status,
      locked,
      plugin,
      tags: { env, role, ...(rotate ? { rotate: 'true' } : {}) },
      enterpriseProjectId: env === 'prod' ? '0' : '8f3c1b2a-0000-4000-8000-00000000e9a1',
    });
  }
  return servers;
}

const serverSpecSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    osType: z.enum(['Linux', 'Windows']),
    status: z.string().min(1).default('ACTIVE'),
    locked: z.boolean().default(false),
    plugin: z.boolean().default(true),
    tags: z.record(z.string(), z.string()).default({}),
    enterpriseProjectId: z.string().default('0'),
  })
  .strict();

const fleetListSchema = z.array(serverSpecSchema);
const fleetObjectSchema = z.object({ servers: z.array(serverSpecSchema) }).strict();

/**
 * Parses a fleet file's text (YAML or JSON): either a list of servers or `{servers: [...]}`, each
 * `{id, name, osType: Linux|Windows, status?: ACTIVE, locked?: false, plugin?: true, tags?: {}, enterpriseProjectId?: "0"}`.
 */
export function parseFleet(text: string, sourceName: string): SimServerSpec[] {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new Error(`${sourceName}: not valid YAML or JSON (${error instanceof Error ? error.message.split('\n')[0] : 'parse error'})`);
  }
  // Chosen by shape rather than a union, so that the error names the field inside the list.
  const parsed = Array.isArray(data)
    ? fleetListSchema.safeParse(data)
    : fleetObjectSchema.transform((o) => o.servers).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? (Array.isArray(data) ? ['servers', ...issue.path] : issue.path).join('.') : '(root)';
    throw new Error(`${sourceName}: ${path}: ${issue?.message ?? 'invalid'} (expected a list of servers or {servers: [...]})`);
  }
  const servers = parsed.data;
  const seen = new Set<string>();
  for (const [i, s] of servers.entries()) {
    if (seen.has(s.id)) throw new Error(`${sourceName}: servers.${i}.id: duplicate server id ${s.id}`);
    seen.add(s.id);
  }
  return servers;
}

export async function loadFleetFile(path: string): Promise<SimServerSpec[]> {
  return parseFleet(await readFile(path, 'utf8'), path);
}

export async function resolveFleet(source: FleetSource | undefined): Promise<SimServerSpec[]> {
  if (source === undefined) return generateFleet();
  if (source.kind === 'file') return loadFleetFile(source.path);
  if (source.kind === 'servers') return source.servers.map((s) => ({ ...s, tags: { ...s.tags } }));
  return generateFleet(source);
}
