// What every Hearth gateway runs, whatever its backend: the dispatcher, the
// queue's consumers, the autoscaler fed by observed demand and backlog, and
// the fastify gateway with its routes. The composition roots (embedded.ts,
// cluster.ts) choose the catalog's source, the backend and the queue.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FunctionCatalog } from '../api/catalog.js';
import { AlwaysLeader, type LeaderElector } from '../autoscaler/leader.js';
import { AutoscalerLoop } from '../autoscaler/loop.js';
import type { SharedDemand } from '../autoscaler/shared-demand.js';
import type { Backend } from '../backends/backend.js';
import type { ConcurrencyLimiter } from '../dispatch/concurrency-limiter.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { buildGateway } from '../gateway/app.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import dlqPlugin from '../gateway/plugins/dlq.js';
import recordsPlugin from '../gateway/plugins/records.js';
import { createAutoscalerMetrics } from '../metrics/autoscaler.js';
import { createInvocationMetrics } from '../metrics/invocations.js';
import { createQueueMetrics } from '../metrics/queue.js';
import { createScheduleMetrics } from '../metrics/schedules.js';
import { createRegistry } from '../metrics/registry.js';
import type { Queue } from '../queue/queue.js';
import { Scheduler } from '../schedules/scheduler.js';
import { BacklogCache } from './backlog-cache.js';
import { trackInstances } from './instance-gauge.js';

export interface ServingOptions {
  catalog: FunctionCatalog;
  backend: Backend;
  queue: Queue;
  logger: Logger;
  host: string;
  port: number;
  /** Decides which replica's autoscaler acts (default: this one). */
  leader?: LeaderElector;
  /** Off for tests that drive scaling by hand. */
  autoscale?: boolean;
  /** Callers and their functions; without it the gateway serves everyone. */
  auth?: AuthOptions;
  /** Cap on invocations running at once through this gateway, across functions; beyond it callers get 429. */
  maxConcurrentInvocations?: number;
  /** Counts reserved concurrency across gateway replicas (Redis); without it this gateway counts alone. It stays the caller's. */
  concurrencyLimiter?: ConcurrencyLimiter;
  /** Multiplies async retry delays (tests shorten Lambda's minutes). */
  retryTimeScale?: number;
  /** With several replicas: sums every replica's demand, given this one's. */
  shareDemand?: (local: (name: string) => number) => SharedDemand;
}

export interface Serving {
  url: string;
  app: FastifyInstance;
  dispatcher: Dispatcher;
  registry: Registry;
  /** Stops taking calls, then lets in-flight work and consumers finish. The backend and queue stay the caller's. */
  close(): Promise<void>;
}

export async function startServing(opts: ServingOptions): Promise<Serving> {
  const { catalog, backend, queue, logger } = opts;
  const registry = createRegistry();
  const invocationMetrics = createInvocationMetrics(registry);
  const dispatcher = new Dispatcher({
    catalog,
    backend,
    metrics: invocationMetrics,
    logger: logger.child({ component: 'dispatch' }),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
    ...(opts.concurrencyLimiter ? { concurrencyLimiter: opts.concurrencyLimiter } : {}),
  });
  const stopGauge = trackInstances(backend, catalog, invocationMetrics);
  const consumer = queue.startConsumer({
    invoker: dispatcher,
    catalog,
    metrics: createQueueMetrics(registry),
    logger: logger.child({ component: 'consumer' }),
    functionArn: (n) => dispatcher.arn(n),
    ...(opts.retryTimeScale !== undefined ? { timeScale: opts.retryTimeScale } : {}),
  });

  const leader = opts.leader ?? new AlwaysLeader();
  const backlog = new BacklogCache(queue, catalog);
  const demand = opts.shareDemand?.((n) => dispatcher.demand(n));
  demand?.start();
  let autoscaler: AutoscalerLoop | undefined;
  if (opts.autoscale ?? true) {
    autoscaler = new AutoscalerLoop({
      catalog,
      backend,
      leader,
      load: { inFlight: (n) => (demand ? demand.total(n) : dispatcher.demand(n)), backlog: (n) => backlog.backlog(n) },
      metrics: createAutoscalerMetrics(registry),
      logger: logger.child({ component: 'autoscaler' }),
    });
    autoscaler.start();
    backlog.start();
  }

  const app = await buildGateway({
    invoker: dispatcher,
    catalog,
    queue,
    registry,
    logger,
    arn: (n) => dispatcher.arn(n),
    // The records route names no function; the record does, and authorisation checks it.
    ...(opts.auth ? { auth: { recordFunction: async (id: string) => (await queue.record(id))?.functionName, ...opts.auth } } : {}),
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
    ],
  });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address() as AddressInfo;
  // Every replica fires every schedule; the queue takes each tick once.
  const scheduler = new Scheduler({
    catalog,
    queue,
    functionArn: (n) => dispatcher.arn(n),
    metrics: createScheduleMetrics(registry),
    logger: logger.child({ component: 'schedules' }),
  });
  scheduler.start();

  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    app,
    dispatcher,
    registry,
    async close() {
      await scheduler.stop();
      await app.close();
      demand?.stop();
      backlog.stop();
      await autoscaler?.stop();
      await consumer.stop();
      dispatcher.close();
      stopGauge();
    },
  };
}
