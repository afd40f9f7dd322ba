/**
 * The safety property of issue 9, checked with the simulator's login probe (which the rotator never
 * uses): for a server, some password retrievable through a staging label logs in NOW, and the
 * password that will log in after its next restart is retrievable through a label too.
 */
import type { SecretKey, Vault } from '../../src/ports/vault.js';
import type { RunningSimulator } from '../../src/simulator/simulator.js';

export interface LabelledPassword {
  versionId: string;
  labels: string[];
  password: string;
}

export async function labelledPasswords(vault: Vault, key: SecretKey): Promise<LabelledPassword[]> {
  const description = await vault.describe(key);
  const out: LabelledPassword[] = [];
  for (const v of description?.versions ?? []) {
    if (v.labels.length === 0) continue;
    const full = await vault.getVersion(key, { versionId: v.versionId });
    if (full) out.push({ versionId: v.versionId, labels: [...v.labels], password: full.value.password });
  }
  return out;
}

/** Undefined when the property holds; else what is wrong, naming labels and version ids (never a password). */
export async function lockoutProblem(sim: Pick<RunningSimulator, 'login'>, vault: Vault, key: SecretKey): Promise<string | undefined> {
  const labelled = await labelledPasswords(vault, key);
  const probes = labelled.map((l) => ({ ...l, probe: sim.login(key.serverId, l.password) }));
  const now = probes.some((p) => p.probe?.now === true);
  const afterRestart = probes.some((p) => p.probe?.afterRestart === true);
  if (now && afterRestart) return undefined;
  const held = labelled.map((l) => `${l.versionId.slice(0, 8)}[${l.labels.join(',')}]`).join(' ');
  return `server ${key.serverId}: ${now ? '' : 'no labelled password logs in now; '}${afterRestart ? '' : 'the password in effect after the next restart is not labelled; '}labelled: ${held || 'none'}`;
}
