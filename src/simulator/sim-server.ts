import type { OsType } from '../domain/server.js';

/**
 * One simulated ECS as a fleet file or generator describes it (no passwords: the simulator makes
 * each server's initial password itself and never reveals it).
 */
export interface SimServerSpec {
  id: string;
  name: string;
  osType: OsType;
  /** Huawei status; the generator uses ACTIVE and SHUTOFF. */
  status: string;
  locked: boolean;
  /** Whether the one-click reset plug-in is installed (`resetpwd_flag`). */
  plugin: boolean;
  tags: Record<string, string>;
  enterpriseProjectId: string;
}

/** The simulator's state of one server. Passwords stay inside the simulator process. */
export interface SimServer extends SimServerSpec {
  /** Its fixed (private) address: a loopback address of its own, where its SSH endpoint listens (ssh-endpoints.ts). */
  address: string;
  createdAt: number;
  updatedAt: number;
  /** The password that logs in now. */
  activePassword: string;
  /** The password accepted by a reset, in effect after the next (re)start. */
  stagedPassword: string | undefined;
  activeSince: number;
  /** Accepted resets (dry runs excluded). */
  resetCount: number;
  /**
   * Every password this server received through an accepted reset, as a salted SHA-256
   * fingerprint (the salt is per simulator and never leaves it), with whether the in-guest script
   * applied it.
   */
  received: { fingerprint: string; at: number; applied: boolean }[];
  /** While a reboot job runs on it: the status to report afterwards and when it ends. */
  reboot: { until: number; jobId: string } | undefined;
}

/** The inspection view of a server: state only, never a password or a hash of one. */
export interface SimServerView {
  id: string;
  name: string;
  osType: OsType;
  status: string;
  locked: boolean;
  plugin: boolean;
  tags: Record<string, string>;
  enterpriseProjectId: string;
  hasStagedPassword: boolean;
  /** ISO time since which the active password is in effect. */
  activeSince: string;
  resetCount: number;
  /** Accepted resets that carried a password (applied or not). */
  passwordsReceived: number;
  /** How many different passwords those were. */
  distinctPasswordsReceived: number;
}

export function viewOf(server: SimServer): SimServerView {
  return {
    id: server.id,
    name: server.name,
    osType: server.osType,
    status: server.status,
    locked: server.locked,
    plugin: server.plugin,
    tags: { ...server.tags },
    enterpriseProjectId: server.enterpriseProjectId,
    hasStagedPassword: server.stagedPassword !== undefined,
    activeSince: new Date(server.activeSince).toISOString(),
    resetCount: server.resetCount,
    passwordsReceived: server.received.length,
    distinctPasswordsReceived: new Set(server.received.map((r) => r.fingerprint)).size,
  };
}

const VM_STATE: Record<string, string> = {
  ACTIVE: 'active',
  SHUTOFF: 'stopped',
  REBOOT: 'active',
  HARD_REBOOT: 'active',
  BUILD: 'building',
  ERROR: 'error',
};

/** Huawei's time format: ISO 8601 to the second. */
const huaweiTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The formatted fields of a server that change rarely or never, by server: a listing formats every
 * server of every page, and three dates each were about a third of the simulator's CPU for a page.
 */
const formatted = new WeakMap<SimServer, { created: string; launchedAt: string; mac: string; address: string; updatedAt: number; updated: string }>();

function formattedOf(server: SimServer): { created: string; launchedAt: string; mac: string; updated: string } {
  let f = formatted.get(server);
  if (f === undefined || f.address !== server.address) {
    f = {
      created: huaweiTime(server.createdAt),
      launchedAt: new Date(server.createdAt).toISOString().replace('Z', '000'),
      mac: macOf(server.address),
      address: server.address,
      updatedAt: server.updatedAt,
      updated: huaweiTime(server.updatedAt),
    };
    formatted.set(server, f);
  } else if (f.updatedAt !== server.updatedAt) {
    f.updatedAt = server.updatedAt;
    f.updated = huaweiTime(server.updatedAt);
  }
  return f;
}

/** The server as Huawei's `GET cloudservers/{id}` / `detail` shows it (the fields a client reads, plus a few more). */
export function huaweiServerJson(server: SimServer, projectId: string, region: string): Record<string, unknown> {
  const running = server.status !== 'SHUTOFF';
  const f = formattedOf(server);
  return {
    id: server.id,
    name: server.name,
    status: server.status,
    locked: server.locked,
    tenant_id: projectId,
    user_id: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    created: f.created,
    updated: f.updated,
    enterprise_project_id: server.enterpriseProjectId,
    tags: Object.entries(server.tags).map(([k, v]) => `${k}=${v}`),
    metadata: {
      os_type: server.osType,
      os_bit: '64',
      image_name: server.osType === 'Windows' ? 'Windows Server 2022 Datacenter 64bit' : 'Ubuntu 22.04 server 64bit',
      charging_mode: '0',
      vpc_id: SIM_VPC_ID,
    },
    flavor: { id: 's6.large.2', name: 's6.large.2', vcpus: '2', ram: '4096', disk: '0' },
    addresses: {
      [SIM_VPC_ID]: [{ version: 4, addr: server.address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': f.mac }],
    },
    key_name: null,
    'OS-EXT-AZ:availability_zone': `${region}a`,
    'OS-EXT-STS:vm_state': VM_STATE[server.status] ?? server.status.toLowerCase(),
    'OS-EXT-STS:power_state': running ? 1 : 4,
    'OS-EXT-STS:task_state': server.status === 'REBOOT' ? 'rebooting' : server.status === 'HARD_REBOOT' ? 'rebooting_hard' : '',
    'OS-SRV-USG:launched_at': f.launchedAt,
  };
}

const SIM_VPC_ID = '5d8a1c2e-0000-4000-8000-000000000001';

function macOf(address: string): string {
  const [, , c, d] = address.split('.').map(Number);
  return `fa:16:3e:77:${(c ?? 0).toString(16).padStart(2, '0')}:${(d ?? 0).toString(16).padStart(2, '0')}`;
}
