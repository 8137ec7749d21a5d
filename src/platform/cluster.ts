// The composition root of `hearth gateway`: the gateway of a cluster. The
// controller owns every object; this process watches the Functions of its
// namespace, finds their pods through EndpointSlices, queues async events in
// Redis, and scales through the Function's scale subresource under a lease.
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../api/catalog.js';
import { AlwaysLeader, RedisLeaseElector, type LeaderElector } from '../autoscaler/leader.js';
import { SharedDemand } from '../autoscaler/shared-demand.js';
import { KubernetesBackend } from '../backends/kubernetes/backend.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import { createQueue } from '../queue/index.js';
import { namespaceKeyPrefix } from '../queue/keys.js';
import { createRedisClient, type RedisConnectionOptions } from '../queue/redis.js';
import { watchClusterFunctions } from './function-watch.js';
import { startServing } from './serving.js';

export interface ClusterGatewayOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  host: string;
  port: number;
  logger: Logger;
  redis: RedisConnectionOptions;
  /** Compete for the autoscaler's lease in Redis, so one replica decides. */
  leaderElect: boolean;
  auth?: AuthOptions;
  maxConcurrentInvocations?: number;
}

export interface ClusterGateway {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

async function electLeader(opts: ClusterGatewayOptions): Promise<{ leader: LeaderElector; client?: Redis; identity?: string }> {
  if (!opts.leaderElect) return { leader: new AlwaysLeader() };
  const client = createRedisClient(opts.redis);
  if (!(client instanceof Redis)) {
    await client.quit();
    opts.logger.warn('leader election needs a single Redis endpoint; every replica will scale on its own view');
    return { leader: new AlwaysLeader() };
  }
  const leader = new RedisLeaseElector({
    redis: client,
    key: `${namespaceKeyPrefix(opts.namespace)}:autoscaler-leader`,
    onChange: (leading) => opts.logger.info({ leading }, 'autoscaler leadership changed'),
  });
  return { leader, client, identity: leader.identity };
}

export async function startClusterGateway(opts: ClusterGatewayOptions): Promise<ClusterGateway> {
  const { logger } = opts;
  const catalog = new MemoryCatalog();
  const backend = new KubernetesBackend({
    kubeConfig: opts.kubeConfig,
    namespace: opts.namespace,
    onError: (err) => logger.warn({ err }, 'watching EndpointSlices failed; retrying'),
  });
  const unsubscribe = catalog.onChange((name) => {
    const fn = catalog.get(name);
    void (fn ? backend.upsert(fn) : backend.remove(name));
  });
  // Function names are unique per namespace; so are their queue keys.
  const queue = createQueue({ redis: { keyPrefix: namespaceKeyPrefix(opts.namespace), ...opts.redis }, logger: logger.child({ component: 'queue' }) });
  const { leader, client, identity } = await electLeader(opts);
  await leader.start();
  const watch = await watchClusterFunctions({ kubeConfig: opts.kubeConfig, namespace: opts.namespace, catalog, logger: logger.child({ component: 'functions' }) });
  await backend.start();
  const serving = await startServing({
    catalog,
    backend,
    queue,
    logger,
    leader,
    host: opts.host,
    port: opts.port,
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
    // The leader decides for every replica, so it must see every replica's calls.
    ...(client && identity
      ? { shareDemand: (local: (name: string) => number) => new SharedDemand({ redis: client, prefix: namespaceKeyPrefix(opts.namespace), identity, catalog, local }) }
      : {}),
  });
  return {
    url: serving.url,
    app: serving.app,
    async close() {
      // Stop taking calls first; in-flight ones finish before their instances go.
      await serving.close();
      await leader.stop();
      await client?.quit();
      await watch.stop();
      unsubscribe();
      await backend.close();
      await queue.close();
    },
  };
}
