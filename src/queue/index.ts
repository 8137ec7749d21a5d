// The queue a process uses: Redis Streams when a Redis is configured, else
// the in-memory queue of the embedded default.
import type { MemoryQueueBounds } from './memory-bounds.js';
import { MemoryStore } from './memory.js';
import type { Queue } from './queue.js';
import { RedisStore, type RedisConnectionOptions } from './redis.js';
import { StoreQueue, type QueueOptions } from './store-queue.js';

export * from './queue.js';
export type { RedisConnectionOptions } from './redis.js';
export type { QueueOptions } from './store-queue.js';
export { DEFAULT_MEMORY_QUEUE_BOUNDS, MIN_MEMORY_QUEUE_BYTES, type MemoryQueueBounds } from './memory-bounds.js';
export { startConsumer } from './consumer.js';
export { redisConnectionFrom, redisOptionsFromEnv } from './redis-connection.js';

export interface CreateQueueOptions extends QueueOptions {
  /** REDIS_URL; with it (or sentinels or cluster nodes in `redis`) the queue lives in Redis. */
  redisUrl?: string;
  redis?: RedisConnectionOptions;
  /** Bounds of the in-memory queue (without Redis); defaults in memory-bounds.ts. */
  memory?: Partial<MemoryQueueBounds>;
}

export function createQueue(opts: CreateQueueOptions = {}): Queue {
  const redis: RedisConnectionOptions = { ...opts.redis, ...(opts.redisUrl !== undefined && opts.redisUrl !== '' ? { url: opts.redisUrl } : {}) };
  const useRedis = redis.url !== undefined || (redis.sentinels?.length ?? 0) > 0 || (redis.cluster?.length ?? 0) > 0;
  if (!useRedis) return new StoreQueue('memory', new MemoryStore(opts.memory), opts);
  return new StoreQueue('redis', new RedisStore({ ...redis, ...(opts.logger ? { logger: opts.logger } : {}) }), opts);
}
