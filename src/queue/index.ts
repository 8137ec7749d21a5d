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

/** Reads REDIS_URL, REDIS_PASSWORD, REDIS_TLS, REDIS_SENTINELS (host:port,...), REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES (host:port,...). */
export function redisOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RedisConnectionOptions {
  const nodes = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const i = s.lastIndexOf(':');
        return { host: i > 0 ? s.slice(0, i) : s, port: i > 0 ? Number(s.slice(i + 1)) : 6379 };
      });
  const o: RedisConnectionOptions = {};
  if (env.REDIS_URL) o.url = env.REDIS_URL;
  if (env.REDIS_PASSWORD) o.password = env.REDIS_PASSWORD;
  if (env.REDIS_TLS === 'true' || env.REDIS_TLS === '1') o.tls = true;
  const sentinels = nodes(env.REDIS_SENTINELS);
  if (sentinels.length > 0) o.sentinels = sentinels;
  if (env.REDIS_SENTINEL_NAME) o.sentinelName = env.REDIS_SENTINEL_NAME;
  const cluster = nodes(env.REDIS_CLUSTER_NODES);
  if (cluster.length > 0) o.cluster = cluster;
  return o;
}

/**
 * The Redis a cluster process connects to, the same for the gateway and the
 * controller: REDIS_* from the environment (the chart sets them for every
 * redis.mode), a --redis-url flag winning over REDIS_URL. Undefined when
 * nothing names a Redis.
 */
export function redisConnectionFrom(urlFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): RedisConnectionOptions | undefined {
  const o: RedisConnectionOptions = { ...redisOptionsFromEnv(env), ...(urlFlag ? { url: urlFlag } : {}) };
  return o.url !== undefined || o.sentinels !== undefined || o.cluster !== undefined ? o : undefined;
}
