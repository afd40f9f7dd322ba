import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFleet, loadFleetFile, parseFleet } from '../../src/simulator/fleet.js';
import { FleetState } from '../../src/simulator/fleet-state.js';
import { createSeededRandom } from '../../src/simulator/seeded-random.js';
import { huaweiPasswordViolations } from '../../src/simulator/password-rules.js';
import { startSimulator } from '../../src/simulator/simulator.js';
import { simAddressOf } from '../../src/simulator/ssh-endpoints.js';

const dir = await mkdtemp(join(tmpdir(), 'rotator-sim-fleet-'));
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generated fleet', () => {
  it('is deterministic for a seed and different for another', () => {
    const a = generateFleet({ count: 200, seed: 11 });
    expect(generateFleet({ count: 200, seed: 11 })).toEqual(a);
    expect(generateFleet({ count: 200, seed: 12 }).map((s) => s.id)).not.toEqual(a.map((s) => s.id));
  });

  it('has UUID-like unique ids, ecs-<role>-NNN names, a Linux/Windows mix and the requested fractions', () => {
    const fleet = generateFleet({ count: 1000, seed: 5, windowsRatio: 0.3, lockedFraction: 0.1, noPluginFraction: 0.1, shutoffFraction: 0.1 });
    expect(new Set(fleet.map((s) => s.id)).size).toBe(1000);
    expect(new Set(fleet.map((s) => s.name)).size).toBe(1000);
    for (const s of fleet) {
      expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(s.name).toMatch(/^ecs-[a-z]+-\d{3,}$/);
      expect(['prod', 'staging']).toContain(s.tags.env);
    }
    const share = (pred: (s: (typeof fleet)[number]) => boolean) => fleet.filter(pred).length / fleet.length;
    expect(share((s) => s.osType === 'Windows')).toBeGreaterThan(0.2);
    expect(share((s) => s.osType === 'Windows')).toBeLessThan(0.4);
    for (const pred of [(s: (typeof fleet)[number]) => s.locked, (s: (typeof fleet)[number]) => !s.plugin, (s: (typeof fleet)[number]) => s.status === 'SHUTOFF']) {
      expect(share(pred)).toBeGreaterThan(0.05);
      expect(share(pred)).toBeLessThan(0.15);
    }
    expect(share((s) => s.tags.rotate === 'true')).toBeGreaterThan(0.8);
    expect(share((s) => s.tags.rotate === 'true')).toBeLessThan(1);
  });

  it('refuses bad options naming the field', () => {
    expect(() => generateFleet({ windowsRatio: 1.5 })).toThrow(/fleet\.windowsRatio/);
    expect(() => generateFleet({ count: -1 })).toThrow(/fleet\.count/);
  });
});

describe('fleet file', () => {
  it('loads YAML and JSON with defaults', async () => {
    const yamlPath = join(dir, 'fleet.yaml');
    await writeFile(yamlPath, 'servers:\n  - id: a1\n    name: ecs-a\n    osType: Windows\n    tags: {env: prod}\n  - {id: a2, name: ecs-b, osType: Linux, locked: true, status: SHUTOFF}\n');
    const fromYaml = await loadFleetFile(yamlPath);
    expect(fromYaml[0]).toEqual({ id: 'a1', name: 'ecs-a', osType: 'Windows', status: 'ACTIVE', locked: false, plugin: true, tags: { env: 'prod' }, enterpriseProjectId: '0' });
    expect(fromYaml[1]).toMatchObject({ locked: true, status: 'SHUTOFF' });
    const jsonPath = join(dir, 'fleet.json');
    await writeFile(jsonPath, JSON.stringify([{ id: 'j1', name: 'ecs-j', osType: 'Linux' }]));
    const sim = await startSimulator({ fleet: { kind: 'file', path: jsonPath } });
    try {
      expect(sim.servers().map((s) => s.id)).toEqual(['j1']);
    } finally {
      await sim.close();
    }
  });

  it('names the bad field', () => {
    expect(() => parseFleet('servers:\n  - {id: x, name: y, osType: BeOS}\n', 'f.yaml')).toThrow(/f\.yaml: servers\.0\.osType/);
    expect(() => parseFleet('[{"id": "x", "name": "y", "osType": "Linux", "password": "p"}]', 'f.json')).toThrow(/f\.json/);
    expect(() => parseFleet('[{"id": "x", "name": "y", "osType": "Linux"}, {"id": "x", "name": "z", "osType": "Linux"}]', 'f.json')).toThrow(
      /servers\.1\.id: duplicate/,
    );
    expect(() => parseFleet('{ nope', 'f.yaml')).toThrow(/f\.yaml: not valid YAML or JSON/);
  });
});

describe("the simulator's own reading of Huawei's password rules", () => {
  it('accepts good passwords and names the broken rule without quoting the password', () => {
    expect(huaweiPasswordViolations('Xy7!pq9_Lm2k')).toEqual([]);
    expect(huaweiPasswordViolations('Abcdefg1')).toEqual([]); // three classes, no special
    const violations = huaweiPasswordViolations('Xy7#pq9_Lm2k');
    expect(violations).toHaveLength(1);
    expect(violations.join(' ')).not.toContain('#');
    expect(huaweiPasswordViolations('xyRoOt12!')).toContain('contains the username or the username reversed');
    expect(huaweiPasswordViolations('xyrotartsinimda12!A')).toContain('contains the username or the username reversed');
    expect(huaweiPasswordViolations('Xy7!MIN9_L')).toContain('contains three consecutive characters of Administrator');
  });
});

describe('simulated server addresses', () => {
  it('gives each of a 200k fleet its own loopback address (the bench runs 100k servers)', () => {
    const addresses = new Set<string>();
    for (let i = 0; i < 200_000; i++) addresses.add(simAddressOf(i));
    expect(addresses.size).toBe(200_000);
    expect(simAddressOf(0)).toBe('127.77.0.1');
    expect(simAddressOf(65_534)).toBe('127.77.255.255');
    expect(simAddressOf(65_535)).toBe('127.78.0.0');
    expect([...addresses].every((a) => a.split('.').every((o) => Number(o) <= 255))).toBe(true);
  });

  it('says which index has no address instead of wrapping around', () => {
    expect(() => simAddressOf(-1)).toThrow(/index -1 has no loopback address/);
    expect(() => simAddressOf(20_000_000)).toThrow(/index 20000000 has no loopback address/);
  });
});

describe('password fingerprints', () => {
  it('are the same for the same password and differ between passwords, whatever came between', () => {
    const state = new FleetState(generateFleet({ count: 1, seed: 1 }), 0, createSeededRandom(1));
    const a = state.fingerprint('Aa1!first-password');
    // The second call of a row is answered from the one-entry memo, the third and fourth are not.
    expect(state.fingerprint('Aa1!first-password')).toBe(a);
    const b = state.fingerprint('Bb2@second-password');
    expect(b).not.toBe(a);
    expect(b).toMatch(/^[0-9a-f]{64}$/);
    expect(state.fingerprint('Aa1!first-password')).toBe(a);
    // Salted per simulator: another simulator's fingerprint of the same password differs.
    const other = new FleetState(generateFleet({ count: 1, seed: 1 }), 0, createSeededRandom(1));
    expect(other.fingerprint('Aa1!first-password')).not.toBe(a);
  });
});
