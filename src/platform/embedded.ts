// The composition root of `hearth up`: the whole platform in one process on
// one machine. Functions come from YAML files, instances are local
// processes, the queue is in memory unless a Redis URL is given.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../api/catalog.js';
import { AutoscalerLoop } from '../autoscaler/loop.js';
import { LocalBackend, type LocalBackendOptions } from '../backends/local/local-backend.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { buildGateway } from '../gateway/app.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import recordsPlugin from '../gateway/plugins/records.js';
import dlqPlugin from '../gateway/plugins/dlq.js';
import { createAutoscalerMetrics } from '../metrics/autoscaler.js';
import { createInvocationMetrics } from '../metrics/invocations.js';
import { createQueueMetrics } from '../metrics/queue.js';
import { createRegistry } from '../metrics/registry.js';
import { createQueue } from '../queue/index.js';
import type { Consumer, Queue } from '../queue/queue.js';
import { watchFunctionDir, type FunctionDirWatcher } from './function-files.js';
import { BacklogCache } from './backlog-cache.js';
import { trackInstances } from './instance-gauge.js';

export interface EmbeddedOptions {
  dir: string;
  host: string;
  port: number;
  logger: Logger;
  redisUrl?: string;
  /** Pre-started generic runtime processes per runtime family. */
  warmPoolSize?: number;
  /** Multiplies async retry delays (tests shorten Lambda's minutes). */
  retryTimeScale?: number;
  /** Turns the autoscaler off (tests that drive scaling by hand). */
  autoscale?: boolean;
  backend?: Partial<LocalBackendOptions>;
  /** Callers and their functions (from --credentials); without it the gateway serves everyone. */
  auth?: AuthOptions;
  /** Cap on invocations running at once through this gateway, across functions; beyond it callers get 429. */
  maxConcurrentInvocations?: number;
}

export interface EmbeddedPlatform {
  url: string;
  app: FastifyInstance;
  catalog: MemoryCatalog;
  backend: LocalBackend;
  dispatcher: Dispatcher;
  queue: Queue;
  close(): Promise<void>;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedPlatform> {
  const logger = opts.logger;
  const registry = createRegistry();
  const catalog = new MemoryCatalog();
  const backend = new LocalBackend({ logger: logger.child({ component: 'backend' }), warmPoolSize: opts.warmPoolSize ?? 1, ...opts.backend });
  const invocationMetrics = createInvocationMetrics(registry);
  const dispatcher = new Dispatcher({
    catalog,
    backend,
    metrics: invocationMetrics,
    logger: logger.child({ component: 'dispatch' }),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
  });
  const stopGauge = trackInstances(backend, catalog, invocationMetrics);

  const queue = createQueue({ ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}), logger: logger.child({ component: 'queue' }) });
  const queueMetrics = createQueueMetrics(registry);
  const consumer: Consumer = queue.startConsumer({
    invoker: dispatcher,
    catalog,
    metrics: queueMetrics,
    logger: logger.child({ component: 'consumer' }),
    functionArn: (n) => dispatcher.arn(n),
    ...(opts.retryTimeScale !== undefined ? { timeScale: opts.retryTimeScale } : {}),
  });

  // Deploying a function prepares its code (a Go build can take a while) and
  // starts its provisioned instances; removing it stops them.
  const applying = new Set<Promise<void>>();
  const unsubscribe = catalog.onChange((name) => {
    const fn = catalog.get(name);
    const work = (fn ? backend.upsert(fn) : backend.remove(name)).catch((err: unknown) =>
      logger.error({ err, function: name }, `applying function ${name} failed: ${(err as Error).message}`),
    );
    applying.add(work);
    void work.finally(() => applying.delete(work));
  });
  let watcher: FunctionDirWatcher | undefined;
  let autoscaler: AutoscalerLoop | undefined;
  const backlog = new BacklogCache(queue, catalog);
  try {
    watcher = await watchFunctionDir(opts.dir, catalog, logger.child({ component: 'functions' }));
    // The first caller should find the initial functions ready, not mid-build.
    await Promise.all([...applying]);
    if (opts.autoscale ?? true) {
      autoscaler = new AutoscalerLoop({
        catalog,
        backend,
        load: { inFlight: (n) => dispatcher.demand(n), backlog: (n) => backlog.backlog(n) },
        metrics: createAutoscalerMetrics(registry),
        logger: logger.child({ component: 'autoscaler' }),
      });
      autoscaler.start();
      backlog.start();
    }
  } catch (err) {
    unsubscribe();
    await backend.close();
    throw err;
  }

  const app = await buildGateway({
    invoker: dispatcher,
    catalog,
    queue,
    registry,
    logger,
    arn: (n) => dispatcher.arn(n),
    ...(opts.auth ? { auth: { recordFunction: async (id: string) => (await queue.record(id))?.functionName, ...opts.auth } } : {}),
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
    ],
  });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}`,
    app,
    catalog,
    backend,
    dispatcher,
    queue,
    async close() {
      backlog.stop();
      await autoscaler?.stop();
      await watcher?.close();
      unsubscribe();
      await app.close();
      await consumer.stop();
      dispatcher.close();
      stopGauge();
      await backend.close();
      await queue.close();
    },
  };
}
