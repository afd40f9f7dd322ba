export { RedisServerLocks } from './redis-server-locks.js';
export { RedisOutcomeStore } from './redis-outcome-store.js';
export { RedisAuditLog } from './redis-audit-log.js';
export { RedisRateLimiter } from './redis-rate-limiter.js';
