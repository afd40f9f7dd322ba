/**
 * Demo-only credentials for the local ECS simulator.
 *
 * These values are PUBLIC, fixed and protect nothing: they exist so that the embedded demo account
 * (and anyone trying the project locally) can sign requests against `rotator simulator` without
 * configuring a real Huawei Cloud account. The real cloud will reject them. Never reuse them
 * for anything else, and never treat a server reachable with them as real.
 */
export const DEMO_CREDENTIALS = Object.freeze({
  accessKey: 'DEMOSIMULATORAK00001',
  secretKey: 'demo-simulator-secret-key-not-a-real-secret-0001',
});

/** Demo-only IAM token accepted by the simulator via `X-Auth-Token`; protects nothing. */
export const DEMO_TOKEN = 'demo-simulator-token-not-a-real-token';

/** Demo project id (32 lowercase hex characters, like Huawei's). */
export const DEMO_PROJECT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

/** Demo region name. */
export const DEMO_REGION = 'sim-local-1';
