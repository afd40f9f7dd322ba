export { RedisServerLocks, type RedisServerLocksOptions } from './redis-server-locks.js';
export { RedisOutcomeStore, type RedisOutcomeStoreOptions } from './redis-outcome-store.js';
export { RedisAuditLog, type RedisAuditLogOptions } from './redis-audit-log.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limiter.js';
export { RedisHostKeyStore, type RedisHostKeyStoreOptions } from './redis-host-key-store.js';
