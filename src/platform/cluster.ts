// The composition root of `hearth gateway`: the gateway of a cluster. The
// controller owns every object; this process watches Functions, finds their
// pods through EndpointSlices, queues async events in Redis, and scales
// through the Function's scale subresource under a leader lease.
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../api/catalog.js';
import { AutoscalerLoop } from '../autoscaler/loop.js';
import { AlwaysLeader, RedisLeaseElector, type LeaderElector } from '../autoscaler/leader.js';
import { KubernetesBackend } from '../backends/kubernetes/backend.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { buildGateway } from '../gateway/app.js';
import dlqPlugin from '../gateway/plugins/dlq.js';
import recordsPlugin from '../gateway/plugins/records.js';
import { createAutoscalerMetrics } from '../metrics/autoscaler.js';
import { createInvocationMetrics } from '../metrics/invocations.js';
import { createQueueMetrics } from '../metrics/queue.js';
import { createRegistry } from '../metrics/registry.js';
import { createQueue } from '../queue/index.js';
import { namespaceKeyPrefix } from '../queue/keys.js';
import type { RedisConnectionOptions } from '../queue/redis.js';
import { createRedisClient } from '../queue/redis.js';
import { BacklogCache } from './backlog-cache.js';
import { watchClusterFunctions } from './function-watch.js';
import { trackInstances } from './instance-gauge.js';

export interface ClusterGatewayOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  host: string;
  port: number;
  logger: Logger;
  redis: RedisConnectionOptions;
  /** Compete for the autoscaler's lease in Redis, so one replica decides. */
  leaderElect: boolean;
  maxConcurrentInvocations?: number;
}

export interface ClusterGateway {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startClusterGateway(opts: ClusterGatewayOptions): Promise<ClusterGateway> {
  const { logger } = opts;
  const registry = createRegistry();
  const catalog = new MemoryCatalog();
  const backend = new KubernetesBackend({
    kubeConfig: opts.kubeConfig,
    namespace: opts.namespace,
    onError: (err) => logger.warn({ err }, 'watching EndpointSlices failed; retrying'),
  });
  const invocationMetrics = createInvocationMetrics(registry);
  const dispatcher = new Dispatcher({
    catalog,
    backend,
    metrics: invocationMetrics,
    logger: logger.child({ component: 'dispatch' }),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
  });
  const stopGauge = trackInstances(backend, catalog, invocationMetrics);
  const unsubscribe = catalog.onChange((name) => {
    const fn = catalog.get(name);
    void (fn ? backend.upsert(fn) : backend.remove(name));
  });

  const queue = createQueue({ redis: { keyPrefix: namespaceKeyPrefix(opts.namespace), ...opts.redis }, logger: logger.child({ component: 'queue' }) });
  const consumer = queue.startConsumer({
    invoker: dispatcher,
    catalog,
    metrics: createQueueMetrics(registry),
    logger: logger.child({ component: 'consumer' }),
    functionArn: (n) => dispatcher.arn(n),
  });

  let leaseClient: Redis | undefined;
  let leader: LeaderElector = new AlwaysLeader();
  if (opts.leaderElect) {
    const client = createRedisClient(opts.redis);
    if (client instanceof Redis) {
      leaseClient = client;
      leader = new RedisLeaseElector({ redis: client, key: `hearth:{${opts.namespace}}:autoscaler-leader`, onChange: (leading) => logger.info({ leading }, 'autoscaler leadership changed') });
    } else {
      await client.quit();
      logger.warn('leader election needs a single Redis endpoint; every replica will scale on its own view');
    }
  }
  await leader.start();
  const backlog = new BacklogCache(queue, catalog);
  const autoscaler = new AutoscalerLoop({
    catalog,
    backend,
    leader,
    load: { inFlight: (n) => dispatcher.demand(n), backlog: (n) => backlog.backlog(n) },
    metrics: createAutoscalerMetrics(registry),
    logger: logger.child({ component: 'autoscaler' }),
  });

  const watch = await watchClusterFunctions({ kubeConfig: opts.kubeConfig, namespace: opts.namespace, catalog, logger: logger.child({ component: 'functions' }) });
  await backend.start();
  autoscaler.start();
  backlog.start();

  const app = await buildGateway({
    invoker: dispatcher,
    catalog,
    queue,
    registry,
    logger,
    arn: (n) => dispatcher.arn(n),
    readinessChecks: [{ name: 'functions', check: () => true }],
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
    ],
  });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address() as AddressInfo;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    app,
    async close() {
      // Stop taking calls first; in-flight ones finish before their instances go.
      await app.close();
      backlog.stop();
      await autoscaler.stop();
      await consumer.stop();
      await leader.stop();
      await leaseClient?.quit();
      await watch.stop();
      unsubscribe();
      dispatcher.close();
      stopGauge();
      await backend.close();
      await queue.close();
    },
  };
}
