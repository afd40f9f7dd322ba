export { RedisServerLocks } from './redis-server-locks.js';
export { RedisOutcomeStore } from './redis-outcome-store.js';
export { RedisAuditLog } from './redis-audit-log.js';
export { RedisRateLimiter } from './redis-rate-limiter.js';
export { RedisRunHistory } from './redis-run-history.js';
export { RedisNotificationStore } from './redis-notification-log.js';
