/** The Huawei APIs the simulator serves, by the name its counters and fault scoping use. */
export const SIM_APIS = [
  'batchResetPasswords',
  'listServers',
  'getServer',
  'getResetPasswordFlag',
  'batchReboot',
  'getJob',
] as const;
export type SimApi = (typeof SIM_APIS)[number];
