// The composition root of `hearth up`: the whole platform in one process on
// one machine. Functions come from YAML files, instances are local
// processes, the queue is in memory unless a Redis URL is given.
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../api/catalog.js';
import { ObjectStore } from '../api/object-store.js';
import { LocalBackend, type LocalBackendOptions } from '../backends/local/local-backend.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { StreamLimits } from '../streaming/stream-limits.js';
import type { AuthOptions } from '../gateway/plugins/auth.js';
import { LocalConcurrencyLimiter } from '../dispatch/concurrency-limiter.js';
import { openRedisConcurrencyLimiter } from '../dispatch/redis-concurrency-limiter.js';
import { createFunctionLogMetrics } from '../metrics/function-logs.js';
import { createMemoryQueueMetrics } from '../metrics/queue.js';
import { createQueue, type MemoryQueueBounds, type RedisConnectionOptions } from '../queue/index.js';
import { sandboxDetails, type SandboxSupport } from '../sandbox/support.js';
import type { Queue } from '../queue/queue.js';
import { DirectoryStore } from '../store/directory-store.js';
import { DirectoryUploads } from '../uploads/directory-uploads.js';
import { PackageUploads } from '../uploads/package-uploads.js';
import { directorySigningKey } from '../uploads/signing-key.js';
import { watchFunctionDir, type FunctionDirWatcher } from './function-files.js';
import { memoryQueueProblems } from './memory-queue.js';
import type { ConnectionLimits } from '../gateway/connection-guard.js';
import { startServing, type ShutdownOptions } from './serving.js';
import { FileLogSource } from '../logs/file-source.js';
import { UnitCatalog } from '../versions/unit-catalog.js';
import type { EventSourceMapping } from '../api/event-source-mapping.js';
import type { EventSources, MappingConnector } from '../sources/mapping-runner.js';
import { redisStreamsConnector } from '../sources/redis-streams/connector.js';
import { kafkaConnector, type KafkaCredentials } from '../sources/kafka/connector.js';

export interface EmbeddedOptions {
  dir: string;
  host: string;
  port: number;
  logger: Logger;
  redisUrl?: string;
  /** A Redis given by more than a URL (Sentinel, Cluster, TLS, a key prefix); redisUrl, when given too, wins for the address. */
  redis?: RedisConnectionOptions;
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
  /** What a streamed response may be: its size and pace (default Lambda's). */
  streamLimits?: StreamLimits;
  /** How close() leaves (hearth up: no delay unless --shutdown-delay-seconds). */
  shutdown?: ShutdownOptions;
  /** Connection caps and request timeouts (hearth up's connection flags); unset parts take their defaults. */
  connections?: Partial<ConnectionLimits>;
  /** false: the control-plane routes answer 403 and only invocation is served (--management-api=false). Default true. */
  managementApi?: boolean;
  /** What probeSandbox found at start (hearth up), shown in /readyz's details; insecureNoSandbox: started without one where it was required. */
  sandbox?: { support: SandboxSupport; insecureNoSandbox?: boolean };
  /** Bounds of the in-memory queue (without Redis): bytes and records held. */
  memoryQueue?: Partial<MemoryQueueBounds>;
  /** Event-source mappings' pollers: lease length and idle polling of Redis Streams, retry delays, lag refresh (tests shorten them). */
  eventSources?: { leaseMs?: number; idlePollMs?: number; lagIntervalMs?: number; retryDelayMs?: (attempt: number) => number };
}

export interface EmbeddedPlatform {
  url: string;
  app: FastifyInstance;
  catalog: MemoryCatalog;
  /** The serving units the backend runs (NAME, NAME:N), derived from the catalog. */
  units: UnitCatalog;
  backend: LocalBackend;
  dispatcher: Dispatcher;
  /** The event-source mappings of the functions directory, running. */
  eventSources?: EventSources;
  queue: Queue;
  /** Versions and aliases, under the functions directory's .hearth/versions/ and in the Function files. */
  store: DirectoryStore;
  /** Packages uploaded through the control-plane API, under the functions directory's .hearth/packages/. */
  uploads: PackageUploads;
  close(): Promise<void>;
}

function readinessDetails(sandbox: NonNullable<EmbeddedOptions['sandbox']>): () => Record<string, unknown> {
  const details = { sandbox: sandboxDetails(sandbox.support, sandbox.insecureNoSandbox) };
  return () => details;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedPlatform> {
  const logger = opts.logger;
  const catalog = new MemoryCatalog();
  // What runs: each function's $LATEST and published versions, one backend key each (NAME, NAME:N).
  const units = new UnitCatalog(catalog);
  // The ConfigMaps and Secrets of the functions directory: what references in Functions resolve through.
  const objects = new ObjectStore(`the functions directory ${resolve(opts.dir)}`);
  // hearth up has probed and warned once: where no sandbox can be made, instances are plain processes, without a second warning.
  const sandbox = opts.sandbox ? { sandbox: opts.sandbox.support.enabled ? opts.sandbox.support : false } : {};
  const backend = new LocalBackend({ logger: logger.child({ component: 'backend' }), warmPoolSize: opts.warmPoolSize ?? 1, objects, ...sandbox, ...opts.backend });
  const redis: RedisConnectionOptions = { ...opts.redis, ...(opts.redisUrl ? { url: opts.redisUrl } : {}) };
  const queue = createQueue({ redis, logger: logger.child({ component: 'queue' }), ...(opts.memoryQueue ? { memory: opts.memoryQueue } : {}) });
  // Gateways that share a Redis may share functions: reserved concurrency is then counted there, for all of them.
  const limiter = queue.kind === 'redis' ? openRedisConcurrencyLimiter(redis, logger.child({ component: 'concurrency' })) : new LocalConcurrencyLimiter();
  // EventSourceMapping files: the last load's, handed to the event sources once serving runs, and on every reload after.
  let mappings: readonly EventSourceMapping[] = [];
  let setMappings: ((m: readonly EventSourceMapping[]) => void) | undefined;
  const connectorFor = (m: EventSourceMapping, log: Logger): MappingConnector => {
    if (m.spec.redisStreams) {
      const secret = m.spec.redisStreams.password;
      let password: string | undefined;
      if (secret) {
        const found = objects.lookup('Secret', secret.name, secret.key);
        if (!found.ok) throw new Error(`redisStreams.password: ${found.reason}`);
        password = found.value.text ?? found.value.bytes.toString();
      }
      return redisStreamsConnector(m, {
        ...(redis.url !== undefined ? { defaultUrl: redis.url } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(opts.eventSources?.leaseMs !== undefined ? { leaseMs: opts.eventSources.leaseMs } : {}),
        ...(opts.eventSources?.idlePollMs !== undefined ? { idlePollMs: opts.eventSources.idlePollMs } : {}),
        logger: log,
      });
    }
    // Kafka: SASL credentials and the CA from Secrets of the functions directory.
    const kafka = m.spec.kafka;
    if (!kafka) throw new Error('the mapping has neither kafka nor redisStreams');
    const secretText = (ref: { name: string; key: string }, field: string): string => {
      const found = objects.lookup('Secret', ref.name, ref.key);
      if (!found.ok) throw new Error(`${field}: ${found.reason}`);
      return found.value.text ?? found.value.bytes.toString();
    };
    const credentials: KafkaCredentials = {
      ...(kafka.sasl
        ? { sasl: { mechanism: kafka.sasl.mechanism, username: secretText(kafka.sasl.username, 'kafka.sasl.username'), password: secretText(kafka.sasl.password, 'kafka.sasl.password') } }
        : {}),
      ...(kafka.tls?.ca ? { tls: { ca: secretText(kafka.tls.ca, 'kafka.tls.ca') } } : {}),
    };
    return kafkaConnector(m, { clientId: 'hearth', credentials, logger: log });
  };

  // Deploying a function (or publishing a version) prepares its code (a Go
  // build can take a while) and starts its provisioned instances; removing it
  // stops them. Per serving unit: an alias change alters no unit, so it
  // restarts nothing.
  const applying = new Set<Promise<void>>();
  const unsubscribe = units.onChange((key) => {
    const unit = units.get(key);
    const work = (unit ? backend.upsert(unit) : backend.remove(key)).catch((err: unknown) =>
      logger.error({ err, function: key }, `applying function ${key} failed: ${(err as Error).message}`),
    );
    applying.add(work);
    void work.finally(() => applying.delete(work));
  });
  // Published versions are read before the functions, so a function's first load finds them (aliases route, versions start).
  // What the files loader refuses, the store refuses to write; how the backend fares preparing a function shows in its observation.
  const refuse = queue.kind === 'memory' ? { refuse: memoryQueueProblems } : {};
  const store = new DirectoryStore({
    dir: opts.dir,
    catalog,
    objects,
    logger: logger.child({ component: 'versions' }),
    ...refuse,
    preparation: (name) => {
      const error = backend.preparationError(name);
      // A rollover counts as preparing: until the old instances are retired a call may still run what was there before (LastUpdateStatus InProgress).
      return { preparing: backend.preparingStep(name) !== undefined || backend.isRollingOver(name), deployed: backend.isDeployed(name), ...(error !== undefined ? { error } : {}) };
    },
  });
  let watcher: FunctionDirWatcher | undefined;
  let uploads: PackageUploads;
  try {
    await store.load();
    // Uploaded packages are files a Function names by a path relative to the functions directory, signed URLs by a key kept beside them.
    uploads = new PackageUploads({ backend: new DirectoryUploads(opts.dir), signingKey: await directorySigningKey(opts.dir), naming: { kind: 'path' } });
    watcher = await watchFunctionDir(opts.dir, catalog, logger.child({ component: 'functions' }), {
      objects,
      ...refuse,
      afterSync: (names) => store.publishChanged(names),
      onMappings: (m) => {
        mappings = m;
        setMappings?.(m);
      },
    });
    store.writeBesideReloads(watcher.besideReloads);
    // The first caller should find the initial functions ready, not mid-build.
    await Promise.all([...applying]);
    const serving = await startServing({
      catalog,
      units,
      backend,
      queue,
      logger,
      host: opts.host,
      port: opts.port,
      ...(opts.autoscale !== undefined ? { autoscale: opts.autoscale } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: opts.maxConcurrentInvocations } : {}),
      ...(opts.streamLimits ? { streamLimits: opts.streamLimits } : {}),
      ...(opts.retryTimeScale !== undefined ? { retryTimeScale: opts.retryTimeScale } : {}),
      ...(opts.shutdown ? { shutdown: opts.shutdown } : {}),
      ...(opts.connections ? { connections: opts.connections } : {}),
      ...(opts.managementApi !== undefined ? { managementApi: opts.managementApi } : {}),
      ...(opts.sandbox ? { readinessDetails: readinessDetails(opts.sandbox) } : {}),
      concurrencyLimiter: limiter,
      store,
      uploads,
      // hearth logs: the per-function log files the backend writes.
      logs: new FileLogSource(backend.functionLogs.dir),
      eventSources: {
        connectorFor,
        // Gateways sharing this Redis share mappings too: maximumConcurrency is counted there. With the in-memory queue this process is the whole count.
        ...(queue.kind === 'redis' ? { limiter } : {}),
        ...(opts.eventSources?.lagIntervalMs !== undefined ? { lagIntervalMs: opts.eventSources.lagIntervalMs } : {}),
        ...(opts.eventSources?.retryDelayMs !== undefined ? { retryDelayMs: opts.eventSources.retryDelayMs } : {}),
      },
      registerMetrics: (registry) => {
        createFunctionLogMetrics(registry, () => backend.functionLogs.dropped());
        if (queue.kind === 'memory') createMemoryQueueMetrics(registry, () => queue.memoryStats?.());
      },
    });
    const w = watcher;
    const sources = serving.eventSources;
    if (sources) {
      setMappings = (m) => void sources.set(m).catch((err: unknown) => logger.error({ err }, 'applying event-source mappings failed'));
      await sources.set(mappings);
    }
    return {
      url: serving.url,
      app: serving.app,
      catalog,
      units,
      backend,
      dispatcher: serving.dispatcher,
      ...(sources ? { eventSources: sources } : {}),
      queue,
      store,
      uploads,
      async close() {
        await w.close();
        await serving.close();
        await limiter.close();
        unsubscribe();
        units.close();
        await backend.close();
        await queue.close();
      },
    };
  } catch (err) {
    await watcher?.close();
    unsubscribe();
    units.close();
    await backend.close();
    await queue.close();
    await limiter.close();
    throw err;
  }
}
