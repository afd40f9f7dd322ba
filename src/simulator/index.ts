/**
 * The local Huawei ECS API simulator: a second, independent reading of
 * ../../../shared/docs/huawei-ecs-api.md, faithful enough that a client passing against it works
 * against the real cloud, and stricter where Huawei is vague. See simulator.ts for the options.
 */
export { startSimulator } from './simulator.js';
export type { RunningSimulator, SimulatorOptions } from './simulator.js';
export { DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_REGION, DEMO_TOKEN } from './demo-credentials.js';
export type { PartialFailureMode } from './ecs-handlers.js';
export { defaultFaults } from './faults.js';
export type { SimulatorFaults, SimulatorFaultsPatch } from './faults.js';
export { generateFleet, loadFleetFile, parseFleet } from './fleet.js';
export type { FleetSource, GeneratedFleetOptions } from './fleet.js';
export type { SimServerSpec, SimServerView } from './sim-server.js';
export type { LoginProbe } from './fleet-state.js';
export type { SimulatorCounters } from './counters.js';
export type { SimApi } from './api-names.js';
export type { ServerPatch } from './inspection.js';
export type { SimToken } from './gateway-auth.js';
