/**
 * Huawei accepts 1 to 1000 servers per batch call (reset, reboot; 400 Ecs.0118 beyond it). A target's `batchSize` is
 * validated against it once, by the config; a batch job's server list by the job schema.
 */
export const MAX_SERVERS_PER_CALL = 1000;
