// Which Redis a process connects to, read from its flags and environment. A
// module of its own, importing no client: the controller asks it whether a
// Redis is configured before it loads ioredis and the queue's modules.
import type { RedisConnectionOptions } from './redis.js';

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
