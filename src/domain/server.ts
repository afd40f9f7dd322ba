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
}
