// What every Hearth gateway runs, whatever its backend: the dispatcher, the
// queue's consumers, the autoscaler fed by observed demand and backlog, and
// the fastify gateway with its routes. The composition roots (embedded.ts,
// cluster.ts) choose the catalog's source, the backend and the queue.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Catalog, FunctionCatalog } from '../api/catalog.js';
import { AlwaysLeader, type LeaderElector } from '../autoscaler/leader.js';
import { AutoscalerLoop } from '../autoscaler/loop.js';
import type { SharedDemand } from '../autoscaler/shared-demand.js';
import type { Backend } from '../backends/backend.js';
import type { ConcurrencyLimiter } from '../dispatch/concurrency-limiter.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import type { StreamLimits } from '../streaming/stream-limits.js';
import { buildGateway } from '../gateway/app.js';
import { consoleStatic } from '../gateway/plugins/console.js';
import { metricsHistory } from '../gateway/plugins/metrics-history.js';
import { ConnectionDrain, IDLE_GRACE_MS } from '../gateway/connection-drain.js';
import type { ConnectionLimits } from '../gateway/connection-guard.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import dlqPlugin from '../gateway/plugins/dlq.js';
import eventSourceMappingsPlugin, { listedConfigurations } from '../gateway/plugins/event-source-mappings.js';
import { eventsApi } from '../gateway/plugins/events.js';
import recordsPlugin from '../gateway/plugins/records.js';
import { logsApi } from '../gateway/plugins/logs-api.js';
import type { LogSource } from '../logs/log-source.js';
import { functionsApi, type FunctionsApiOptions } from '../gateway/plugins/functions-api.js';
import { versionsApi } from '../gateway/plugins/versions-api.js';
import packagesRoute from '../gateway/plugins/packages.js';
import { createAutoscalerMetrics } from '../metrics/autoscaler.js';
import { createInvocationMetrics } from '../metrics/invocations.js';
import { createQueueMetrics } from '../metrics/queue.js';
import { createScheduleMetrics } from '../metrics/schedules.js';
import { createSourceMetrics } from '../metrics/sources.js';
import { createRegistry } from '../metrics/registry.js';
import type { Queue } from '../queue/queue.js';
import { Scheduler } from '../schedules/scheduler.js';
import { EventSources, type EventSourcesOptions } from '../sources/mapping-runner.js';
import { drainMsUntil } from '../sources/drain.js';
import type { FunctionStore } from '../store/function-store.js';
import type { Uploads } from '../uploads/uploads.js';
import { BacklogCache } from './backlog-cache.js';
import { trackInstances } from './instance-gauge.js';

/** How the gateway leaves (README: Install on Kubernetes). */
export interface ShutdownOptions {
  /** How long it keeps serving after close() begins, /readyz failing, while endpoints drop it (default 0: it stops listening at once). */
  delayMs?: number;
  /** After the delay, how long calls in flight, running async events and event-source batches may take before they are cut (default 60 s). */
  drainTimeoutMs?: number;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;

const LISTEN_BACKLOG = 4_096;

export interface ServingOptions {
  catalog: FunctionCatalog;
  /**
   * The serving units of the catalog's functions (a UnitCatalog, keys NAME and
   * NAME:N), which the composition root also drives its backend from: the
   * dispatcher runs calls on them, the autoscaler, backlog, instance gauge and
   * shared demand work per unit. It stays the caller's.
   */
  units: Catalog;
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
  /** What a streamed response may be: its size and pace (default Lambda's: 200 MiB, 6 MiB at full speed then 2 MiB/s). */
  streamLimits?: StreamLimits;
  /** Counts reserved concurrency across gateway replicas (Redis); without it this gateway counts alone. It stays the caller's. */
  concurrencyLimiter?: ConcurrencyLimiter;
  /** Multiplies async retry delays (tests shorten Lambda's minutes). */
  retryTimeScale?: number;
  /** With several replicas: sums every replica's demand, given this one's. */
  shareDemand?: (local: (name: string) => number) => SharedDemand;
  shutdown?: ShutdownOptions;
  /** Connection caps and request timeouts; unset parts take their defaults (README: Connection limits). */
  connections?: Partial<ConnectionLimits>;
  /** Registers the composition root's own metrics (the embedded platform's function logs and memory queue) on the gateway's registry. */
  registerMetrics?: (registry: Registry) => void;
  /** What /readyz also reports (hearth up: the function sandbox). */
  readinessDetails?: () => Record<string, unknown>;
  /** Where versions and aliases are written (the functions directory, or the Kubernetes API): with it the gateway serves Lambda's version and alias routes. */
  store?: FunctionStore;
  /** false: the control-plane routes answer 403 and only invocation is served (--management-api=false). Default true. */
  managementApi?: boolean;
  /** Packages uploaded through the control-plane API: with it the gateway serves GET /packages/SHA256 (signed URLs), and the functions API stores ZipFiles here. */
  uploads?: Uploads;
  /** Runs event-source mappings here (the composition root feeds them with EventSources.set): their connectors, and their lag as backlog for the autoscaler. */
  eventSources?: Pick<EventSourcesOptions, 'connectorFor' | 'platformRedis' | 'lagIntervalMs' | 'retryDelayMs' | 'limiter'>;
  /** Where the functions' logs are read (the embedded log files, or the pods through the Kubernetes API): with it the gateway serves GET /logs/:function (hearth logs). */
  logs?: LogSource;
}

export interface Serving {
  url: string;
  app: FastifyInstance;
  dispatcher: Dispatcher;
  registry: Registry;
  /** The event-source mappings this gateway runs, when ServingOptions.eventSources was given. */
  eventSources?: EventSources;
  /**
   * Leaves without losing a call: /readyz fails and the queue consumer hands
   * back what it has not started at once; calls keep being served, each
   * answer saying Connection: close, for the shutdown delay; then the listener
   * closes, calls in flight and running events finish (bounded by the drain
   * timeout), and the rest stops. The backend and queue stay the caller's.
   */
  close(): Promise<void>;
}

export async function startServing(opts: ServingOptions): Promise<Serving> {
  const { catalog, units, backend, queue, logger } = opts;
  const registry = createRegistry();
  opts.registerMetrics?.(registry);
  const invocationMetrics = createInvocationMetrics(registry);
  const dispatcher = new Dispatcher({
    catalog,
    units,
    backend,
    metrics: invocationMetrics,
    logger: logger.child({ component: 'dispatch' }),
    ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
    ...(opts.concurrencyLimiter ? { concurrencyLimiter: opts.concurrencyLimiter } : {}),
    ...(opts.streamLimits ? { streamLimits: opts.streamLimits } : {}),
  });
  const stopGauge = trackInstances(backend, units, invocationMetrics);
  const consumer = queue.startConsumer({
    invoker: dispatcher,
    catalog,
    metrics: createQueueMetrics(registry),
    logger: logger.child({ component: 'consumer' }),
    functionArn: (n) => dispatcher.arn(n),
    ...(opts.retryTimeScale !== undefined ? { timeScale: opts.retryTimeScale } : {}),
  });

  const eventSources = opts.eventSources
    ? new EventSources({
        ...opts.eventSources,
        invoker: dispatcher,
        queue,
        functionArn: (n, q) => dispatcher.arn(n, q),
        functionExists: (n) => catalog.get(n) !== undefined,
        metrics: createSourceMetrics(registry),
        logger,
      })
    : undefined;

  const mappingsView = eventSources ? { list: () => eventSources.list(), arn: (n: string, q?: string) => dispatcher.arn(n, q) } : undefined;

  const leader = opts.leader ?? new AlwaysLeader();
  const backlog = new BacklogCache(queue, units);
  const demand = opts.shareDemand?.((n) => dispatcher.demand(n));
  demand?.start();
  let autoscaler: AutoscalerLoop | undefined;
  if (opts.autoscale ?? true) {
    autoscaler = new AutoscalerLoop({
      catalog: units,
      backend,
      leader,
      load: { inFlight: (n) => (demand ? demand.total(n) : dispatcher.demand(n)), backlog: (n) => backlog.backlog(n) + (eventSources?.backlog(n) ?? 0) },
      metrics: createAutoscalerMetrics(registry),
      logger: logger.child({ component: 'autoscaler' }),
    });
    autoscaler.start();
    backlog.start();
  }

  const leaving = new AbortController();
  const app = await buildGateway({
    invoker: dispatcher,
    catalog,
    queue,
    registry,
    logger,
    arn: (n) => dispatcher.arn(n),
    ...(opts.connections ? { connections: opts.connections } : {}),
    ...(opts.managementApi !== undefined ? { managementApi: opts.managementApi } : {}),
    // Called only once requests arrive, after `connections` exists.
    draining: () => connections.draining,
    ...(opts.readinessDetails ? { readinessDetails: opts.readinessDetails } : {}),
    // The records route names no function; the record does, and authorisation checks it.
    ...(opts.auth ? { auth: { recordFunction: async (id: string) => (await queue.record(id))?.functionName, ...opts.auth } } : {}),
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
      // Followers of a function's logs end when the shutdown begins, so they never hold the drain.
      ...(opts.logs ? [{ plugin: logsApi, options: { source: opts.logs, catalog, arn: (n: string) => dispatcher.arn(n), closing: leaving.signal } }] : []),
      // The console (static files) and the metrics history its charts read.
      { plugin: consoleStatic, options: {} },
      { plugin: metricsHistory, options: { registry } },
      // With the store, the mapping routes write mappings too (Create/Update/DeleteEventSourceMapping).
      ...(mappingsView ? [{ plugin: eventSourceMappingsPlugin, options: { ...mappingsView, ...(opts.store ? { store: opts.store } : {}) } }] : []),
      { plugin: eventsApi, options: { catalog, queue, arn: (n: string) => dispatcher.arn(n) } },
      ...(opts.store ? [{ plugin: versionsApi, options: { store: opts.store, catalog, arn: (n: string) => dispatcher.arn(n), ...(opts.uploads ? { uploads: opts.uploads } : {}) } }] : []),
      ...(opts.store
        ? [
            {
              plugin: functionsApi,
              options: {
                store: opts.store,
                catalog,
                arn: (n: string) => dispatcher.arn(n),
                ...(opts.uploads ? { uploads: opts.uploads } : {}),
                // Provisioned concurrency is READY once the backend has the alias's instances ready.
                readyInstances: (unit: string) => backend.instances(unit).filter((i) => i.state === 'ready').length,
                ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
                authenticates: opts.auth !== undefined,
                ...(mappingsView ? { eventSourceMappings: (fn: string | undefined) => listedConfigurations({ ...mappingsView, store: opts.store }, fn) } : {}),
              } satisfies FunctionsApiOptions,
            },
          ]
        : []),
      ...(opts.uploads ? [{ plugin: packagesRoute, options: { uploads: opts.uploads } }] : []),
    ],
  });
  const connections = new ConnectionDrain(app.server);
  // A deep accept queue (the kernel caps it at net.core.somaxconn): under a flood of connects a full one drops a probe's SYN, which is retried only a second later.
  await app.listen({ host: opts.host, port: opts.port, backlog: LISTEN_BACKLOG });
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

  let closing: Promise<void> | undefined;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    app,
    dispatcher,
    registry,
    ...(eventSources ? { eventSources } : {}),
    close() {
      closing ??= shutDown();
      return closing;
    },
  };

  async function shutDown(): Promise<void> {
    const delayMs = opts.shutdown?.delayMs ?? 0;
    const deadline = Date.now() + delayMs + (opts.shutdown?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    connections.begin();
    leaving.abort();
    logger.info({ delaySeconds: delayMs / 1000 }, 'shutdown: /readyz answers 503; serving on for the shutdown delay, every answer with Connection: close');
    // At once: what this consumer has not started runs on another gateway now; what it runs finishes here.
    const consumerStopped = consumer.stop().then(
      () => true,
      (err: unknown) => {
        logger.error({ err }, 'shutdown: the queue consumer failed to stop cleanly; its events are reclaimed after their visibility timeout');
        return true;
      },
    );
    // Pollers stop fetching at once; each partition's batch in flight finishes and commits by the drain deadline (what still runs
    // then is aborted and runs again wherever its partition is read next), then they leave their groups and leases.
    const sourcesStopped = eventSources?.stop({ drainMs: drainMsUntil(deadline, Date.now()) }).catch((err: unknown) => logger.error({ err }, 'shutdown: stopping the event-source pollers failed'));
    await scheduler.stop();
    await new Promise((r) => setTimeout(r, delayMs));
    await connections.stopListening();
    logger.info({ inFlight: connections.inFlight, connections: connections.connections }, 'shutdown: listener closed; answering the calls in flight');
    // With no delay (hearth up's default) quiet connections close at once, as they always did.
    const { cutCalls } = await connections.drained(deadline, Math.min(IDLE_GRACE_MS, delayMs));
    if (cutCalls > 0) logger.warn({ cutCalls }, 'shutdown: drain timeout reached; calls still in flight were cut');
    else logger.info('shutdown: every call in flight answered');
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([consumerStopped, new Promise<false>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
    if (!settled) logger.warn('shutdown: drain timeout reached with async events running; another gateway reclaims them after their visibility timeout');
    // Their batches still invoke through the dispatcher, closed below.
    await sourcesStopped;
    await app.close();
    demand?.stop();
    backlog.stop();
    await autoscaler?.stop();
    dispatcher.close();
    stopGauge();
    logger.info('shutdown: gateway stopped');
  }
}
