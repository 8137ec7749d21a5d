// The composition root of `hearth gateway`: the gateway of a cluster. The
// controller owns every object; this process watches the Functions of its
// namespace, finds their pods through EndpointSlices, queues async events in
// Redis, and scales through the Function's scale subresource under a lease.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../api/catalog.js';
import { AlwaysLeader, RedisLeaseElector, type LeaderElector } from '../autoscaler/leader.js';
import { SharedDemand } from '../autoscaler/shared-demand.js';
import { KubernetesBackend } from '../backends/kubernetes/backend.js';
import { createGatewayPoolMetrics } from '../metrics/pools.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import { openRedisConcurrencyLimiter } from '../dispatch/redis-concurrency-limiter.js';
import { createQueue } from '../queue/index.js';
import { namespaceKeyPrefix } from '../queue/keys.js';
import { createRedisClient, type RedisClient, type RedisConnectionOptions } from '../queue/redis.js';
import { watchClusterFunctions } from './function-watch.js';
import type { ConnectionLimits } from '../gateway/connection-guard.js';
import type { StreamLimits } from '../streaming/stream-limits.js';
import { startServing, type ShutdownOptions } from './serving.js';
import { UnitCatalog } from '../versions/unit-catalog.js';
import { KubeRest } from '../kube/rest.js';
import { PodLogSource } from '../logs/pod-source.js';
import { KubernetesStore } from '../store/kubernetes-store.js';
import { openClusterUploads, type ClusterPackages } from '../uploads/cluster-uploads.js';
import { clusterConnectorFor, CredentialStore, watchEventSourceMappings, type EventSourceWatch, type EventSourceWatchOptions } from './event-source-watch.js';

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
  /** How close() leaves: the shutdown delay and drain timeout of hearth gateway's flags. */
  shutdown?: ShutdownOptions;
  /** Connection caps and request timeouts (hearth gateway's connection flags); unset parts take their defaults. */
  connections?: Partial<ConnectionLimits>;
  /** What a streamed response may be (hearth gateway's stream flags; default Lambda's). */
  streamLimits?: StreamLimits;
  /** Packages uploaded through the control-plane API (--packages, --package-url-base): where they are kept and how Functions name them; without it uploads are off. */
  packages?: ClusterPackages;
  /** false: the control-plane routes answer 403 and only invocation is served (--management-api=false; the chart's managementApi.enabled). Default true. */
  managementApi?: boolean;
  /** The port function pods' agents listen on (default 9000, as the controller builds them); tests point it at a loopback agent. */
  agentPort?: number;
  /** false: no event-source mapping pollers here, and no status written for them (--event-sources=false; the chart's eventSources.enabled). Default true. */
  eventSources?: boolean;
  /** Timings of the mappings' status writes and Secret refreshes (tests shorten them). */
  eventSourceTimings?: Pick<EventSourceWatchOptions, 'statusIntervalMs' | 'lagWriteIntervalMs' | 'secretRefreshMs'> & { lagIntervalMs?: number };
}

export interface ClusterGateway {
  url: string;
  app: FastifyInstance;
  /** The EventSourceMappings' watch, when event sources are on. */
  eventSources?: EventSourceWatch;
  close(): Promise<void>;
}

/** Waits up to `ms` for the client to connect, so the first round can win; a Redis still away is retried by later rounds. */
function connected(client: RedisClient, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      client.off('ready', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    client.once('ready', done);
  });
}

/**
 * Who decides scaling for this gateway: with leader election, a lease in
 * Redis, and every replica's demand shared through the same Redis; without it
 * (--no-leader-elect, the chart's gateway.leaderElection.enabled: false) this
 * replica alone. The lease and each function's demand are single keys, so a
 * single Redis, one behind Sentinel and a Cluster all serve.
 */
export async function electLeader(
  opts: Pick<ClusterGatewayOptions, 'leaderElect' | 'redis' | 'namespace' | 'logger'>,
): Promise<{ leader: LeaderElector; client?: RedisClient; identity?: string }> {
  if (!opts.leaderElect) return { leader: new AlwaysLeader() };
  const client = createRedisClient(opts.redis);
  // Failed reconnects are reported as error events; the lease's rounds report what matters.
  client.on('error', (err: unknown) => opts.logger.debug({ err }, 'autoscaler redis connection error'));
  await connected(client, 2000);
  const leader = new RedisLeaseElector({
    redis: client,
    key: `${namespaceKeyPrefix(opts.namespace)}:autoscaler-leader`,
    onChange: (leading) => opts.logger.info({ leading }, 'autoscaler leadership changed'),
    onError: (err) => opts.logger.warn({ err }, 'autoscaler lease round failed'),
  });
  return { leader, client, identity: leader.identity };
}

export async function startClusterGateway(opts: ClusterGatewayOptions): Promise<ClusterGateway> {
  const { logger } = opts;
  const catalog = new MemoryCatalog();
  // What runs: each function's $LATEST and published versions, one backend key each (NAME, NAME:N).
  const units = new UnitCatalog(catalog);
  const backend = new KubernetesBackend({
    kubeConfig: opts.kubeConfig,
    namespace: opts.namespace,
    onError: (err) => logger.warn({ err }, 'watching EndpointSlices, pods or WarmPools failed; retrying'),
    logger: logger.child({ component: 'kubernetes-backend' }),
    ...(opts.agentPort !== undefined ? { agentPort: opts.agentPort } : {}),
  });
  const unsubscribe = units.onChange((key) => {
    const unit = units.get(key);
    void (unit ? backend.upsert(unit) : backend.remove(key));
  });
  // Function names are unique per namespace; so are their queue keys.
  const queue = createQueue({ redis: { keyPrefix: namespaceKeyPrefix(opts.namespace), ...opts.redis }, logger: logger.child({ component: 'queue' }) });
  // Every replica admits calls: reserved concurrency is counted once, in Redis, under the queue's keys.
  const limiter = openRedisConcurrencyLimiter({ keyPrefix: namespaceKeyPrefix(opts.namespace), ...opts.redis }, logger.child({ component: 'concurrency' }));
  const { leader, client, identity } = await electLeader(opts);
  await leader.start();
  const watch = await watchClusterFunctions({ kubeConfig: opts.kubeConfig, namespace: opts.namespace, catalog, logger: logger.child({ component: 'functions' }) });
  await backend.start();
  // Versions and aliases written through the control routes: FunctionVersion objects and the Function's spec.aliases.
  const storeRest = new KubeRest(opts.kubeConfig);
  const store = new KubernetesStore({ rest: storeRest, namespace: opts.namespace, logger: logger.child({ component: 'versions' }) });
  const packages = opts.packages ? openClusterUploads(opts.packages, opts.redis, logger.child({ component: 'packages' })) : undefined;
  // EventSourceMappings: every replica polls (partitions are shared through consumer groups and leases); the Secrets they name are read into this store.
  const credentials = opts.eventSources === false ? undefined : new CredentialStore();
  const serving = await startServing({
    catalog,
    units,
    store,
    ...(packages ? { uploads: packages.uploads } : {}),
    backend,
    queue,
    logger,
    leader,
    host: opts.host,
    port: opts.port,
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
    concurrencyLimiter: limiter,
    ...(opts.shutdown ? { shutdown: opts.shutdown } : {}),
    ...(opts.connections ? { connections: opts.connections } : {}),
    ...(opts.streamLimits ? { streamLimits: opts.streamLimits } : {}),
    ...(opts.managementApi !== undefined ? { managementApi: opts.managementApi } : {}),
    // hearth logs: the function's pods' logs through the API server (the chart's Role grants pods/log get).
    logs: new PodLogSource({ rest: storeRest, namespace: opts.namespace }),
    ...(credentials
      ? {
          eventSources: {
            connectorFor: clusterConnectorFor({
              credentials,
              platformRedis: { ...(opts.redis.url !== undefined ? { url: opts.redis.url } : {}), ...(opts.redis.password !== undefined ? { password: opts.redis.password } : {}) },
              // Kafka's client id: the gateway pod's name, as the broker's logs and quotas see it.
              clientId: `hearth-gateway-${process.env.POD_NAME ?? hostname()}`,
            }),
            // Every replica polls some of a mapping's partitions: its maximumConcurrency is counted once, in Redis.
            limiter,
            ...(opts.eventSourceTimings?.lagIntervalMs !== undefined ? { lagIntervalMs: opts.eventSourceTimings.lagIntervalMs } : {}),
          },
        }
      : {}),
    // Cold starts by path, pool claims and specialisation times, on the gateway's own registry.
    registerMetrics: (registry) => backend.attachMetrics(createGatewayPoolMetrics(registry)),
    // The leader decides for every replica, so it must see every replica's calls.
    ...(client && identity
      ? { shareDemand: (local: (name: string) => number) => new SharedDemand({ redis: client, prefix: namespaceKeyPrefix(opts.namespace), identity, catalog: units, local }) }
      : {}),
  });
  const sources = serving.eventSources;
  const mappings =
    credentials && sources
      ? await watchEventSourceMappings({
          kubeConfig: opts.kubeConfig,
          namespace: opts.namespace,
          sources,
          credentials,
          leader,
          // With several replicas, each shares its own results through the lease's Redis for the leader to merge.
          ...(client && identity ? { shared: { redis: client, prefix: namespaceKeyPrefix(opts.namespace), identity } } : {}),
          logger: logger.child({ component: 'event-sources' }),
          ...opts.eventSourceTimings,
        })
      : undefined;
  return {
    url: serving.url,
    app: serving.app,
    ...(mappings ? { eventSources: mappings } : {}),
    async close() {
      // No new mappings applied while leaving; serving.close() stops the pollers.
      await mappings?.stop();
      // Stop taking calls first; in-flight ones finish before their instances go.
      await serving.close();
      await limiter.close();
      await leader.stop();
      await client?.quit();
      await watch.stop();
      storeRest.close();
      await packages?.close();
      unsubscribe();
      units.close();
      await backend.close();
      await queue.close();
    },
  };
}
