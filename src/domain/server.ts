/** Glossary: see ../../README.md ("Words"). A server is one Huawei Cloud ECS instance. */
export type OsType = 'Linux' | 'Windows';

/** The login account whose password the reset API changes, by OS. */
export function usernameFor(osType: OsType): 'root' | 'Administrator' {
  return osType === 'Windows' ? 'Administrator' : 'root';
}

export interface EcsServer {
  id: string;
  name: string;
  /** Huawei status: ACTIVE, SHUTOFF, BUILD, ERROR, REBOOT, … */
  status: string;
  /** From `metadata.os_type`; undefined when Huawei does not report it. */
  osType: OsType | undefined;
  /** `tags: ["k=v"]` parsed into a map; a tag without `=` maps to "". */
  tags: Record<string, string>;
  locked: boolean;
  enterpriseProjectId: string | undefined;
  /** IPv4 addresses from the detail's `addresses` (undefined when the answer had none, e.g. a list view). */
  addresses?: ServerAddresses | undefined;
}

/**
 * A server's IPv4 addresses by Huawei's `OS-EXT-IPS:type`: `fixed` are its private (VPC) addresses,
 * `floating` its elastic (public) IPs bound to a NIC.
 */
export interface ServerAddresses {
  fixed: string[];
  floating: string[];
}
