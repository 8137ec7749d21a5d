// `hearth controller`: parses flags and runs the Kubernetes controller, with
// leader election, a metrics and health endpoint, and graceful shutdown.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { Controller } from '../controller/controller.js';
import { LeaseElector } from '../controller/leader-election.js';
import { loadDefaultKubeconfig, loadKubeconfig } from '../kube/kubeconfig.js';
import { KubeRest } from '../kube/rest.js';
import { defaultImages, type Images } from '../controller/resources/images.js';
import { tracingEnv } from '../tracing/config.js';
import { createControllerMetrics } from '../metrics/controller.js';
import { createControllerPoolMetrics } from '../metrics/pools.js';
import { createRegistry } from '../metrics/registry.js';
import type { KubernetesStore } from '../store/kubernetes-store.js';
import type { RedisClient, RedisConnectionOptions } from '../queue/redis.js';
import { redisConnectionFrom } from '../queue/redis-connection.js';

const USAGE = `usage: hearth controller [options]

  --kubeconfig PATH         kubeconfig file (default: in-cluster, else KUBECONFIG or ~/.kube/config)
  --namespace NS            watch only this namespace (default: all namespaces)
  --leader-elect BOOL       elect a leader with a Lease before reconciling (default true)
  --lease-name NAME         the Lease's name (default hearth-controller)
  --lease-namespace NS      the Lease's namespace (default: the controller's namespace)
  --lease-duration S        seconds a lease lasts unrenewed (default 15)
  --renew-deadline S        seconds a leader keeps leading without a renewal (default 10)
  --retry-period S          seconds between acquire/renew attempts (default 2)
  --identity NAME           this replica's name in the Lease and Events (default host-pid)
  --workers N               concurrent reconciles (default 8)
  --resync S                seconds between full re-queues (default 600)
  --metrics-port PORT       serve /metrics, /healthz, /readyz (default 9464; 0: any free port)
  --metrics-address ADDR    address to serve them on (default 127.0.0.1)
  --redis-url URL           Redis whose function keys the finalizer deletes (also REDIS_URL, REDIS_PASSWORD,
                            REDIS_TLS, REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES; default: none)
  --gateway-service NAME    the gateway's Service, for status.url (default hearth-gateway)
  --gateway-namespace NS    the gateway's namespace (default: the controller's namespace)
  --image-version V         tag of the default images (default ${defaultImages().agent.split(':')[1] ?? ''})
  --agent-image IMG         the agent sidecar image
  --python-image IMG        --nodejs-image IMG   --go-image IMG   --provided-image IMG   runtime images`;

function ownNamespace(): string {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return 'default';
  }
}

function seconds(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} must be a non-negative number of seconds`);
  return n;
}

function bool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new Error(`expected true or false, got ${v}`);
}

/** The Redis client the finalizer's cleanup uses, for the Redis the flags and environment name. */
async function connectRedis(options: RedisConnectionOptions): Promise<{ client: RedisClient; cleanup: (namespace: string, name: string) => Promise<void> }> {
  const [{ createRedisClient }, { namespaceKeyPrefix }, { deleteFunctionKeys }] = await Promise.all([
    import('../queue/redis.js'),
    import('../queue/keys.js'),
    import('../controller/redis-cleanup.js'),
  ]);
  const client = createRedisClient(options);
  return { client, cleanup: async (namespace, name) => void (await deleteFunctionKeys(client, name, namespaceKeyPrefix(namespace))) };
}

export async function controllerCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'leader-elect': { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-namespace': { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        identity: { type: 'string' },
        workers: { type: 'string' },
        resync: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-address': { type: 'string' },
        'redis-url': { type: 'string' },
        'gateway-service': { type: 'string' },
        'gateway-namespace': { type: 'string' },
        'image-version': { type: 'string' },
        'agent-image': { type: 'string' },
        'python-image': { type: 'string' },
        'nodejs-image': { type: 'string' },
        'go-image': { type: 'string' },
        'provided-image': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`hearth controller: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }

  const log = pino({ name: 'hearth-controller' }, destination(2));
  const kc = values.kubeconfig !== undefined ? await loadKubeconfig(values.kubeconfig) : await loadDefaultKubeconfig();
  const home = ownNamespace();
  const identity = values.identity ?? `${hostname()}-${process.pid}`;
  const base = defaultImages(values['image-version']);
  const images: Images = {
    agent: values['agent-image'] ?? base.agent,
    python: values['python-image'] ?? base.python,
    nodejs: values['nodejs-image'] ?? base.nodejs,
    go: values['go-image'] ?? base.go,
    provided: values['provided-image'] ?? base.provided,
  };
  const leaderElect = bool(values['leader-elect'], true);
  const workers = Number(values.workers ?? '8');
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a positive integer');

  const registry = createRegistry();
  const metrics = createControllerMetrics(registry);

  // The gateway's connection (single, Sentinel or Cluster, with TLS and password), so the finalizer reaches the keys the gateway wrote.
  // The queue's modules (and ioredis) are loaded only when some Redis is configured: without one they would be resident for nothing.
  const redisOptions = redisConnectionFrom(values['redis-url']);
  const redis = redisOptions !== undefined ? await connectRedis(redisOptions) : undefined;
  redis?.client.on('error', (err: unknown) => log.warn({ err }, 'redis error'));

  // versioning.publishOnChange and retain write through the same store as the gateway's PublishVersion and DeleteVersion,
  // loaded on the first publish or delete: most clusters never ask for either.
  const storeRest = new KubeRest(kc);
  const stores = new Map<string, KubernetesStore>();
  const storeFor = async (namespace: string): Promise<KubernetesStore> => {
    let store = stores.get(namespace);
    if (store === undefined) {
      const { KubernetesStore: Store } = await import('../store/kubernetes-store.js');
      store = stores.get(namespace) ?? new Store({ rest: storeRest, namespace, logger: log });
      stores.set(namespace, store);
    }
    return store;
  };

  const controller = new Controller({
    kubeConfig: kc,
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    workers,
    resyncMs: seconds(values.resync, '--resync', 600) * 1000,
    identity,
    metrics,
    poolMetrics: createControllerPoolMetrics(registry),
    logger: log,
    images,
    // The agents export where the controller does (the chart's tracing values set it here).
    agentEnv: tracingEnv(process.env),
    gatewayService: values['gateway-service'] ?? 'hearth-gateway',
    gatewayNamespace: values['gateway-namespace'] ?? home,
    ...(redis !== undefined ? { cleanup: redis.cleanup } : {}),
    publish: async (ns: string, name: string) => {
      const { version, created } = await (await storeFor(ns)).publishVersion(name, { description: 'published on change (versioning.publishOnChange)' });
      if (created) log.info({ namespace: ns, function: name, version: version.spec.version }, 'published on change');
    },
    deleteVersion: async (ns: string, name: string, version: string) => (await storeFor(ns)).deleteVersion(name, version),
  });

  let shuttingDown = false;
  let lostLeadership = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  let elector: LeaseElector | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (req.url === '/readyz') {
      // A standby replica is ready too: it is healthy and waiting for the lease.
      const ok = !shuttingDown && (elector === undefined || !elector.isLeader() || controller.synced);
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n');
    } else {
      res.writeHead(404).end();
    }
  });
  const port = Number(values['metrics-port'] ?? '9464');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, values['metrics-address'] ?? '127.0.0.1', resolve);
  });
  log.info({ url: `http://${values['metrics-address'] ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/metrics`, identity }, 'metrics listening');

  const startController = (): void => {
    controller.start().then(
      () => log.info('controller started'),
      (err: unknown) => {
        log.error({ err }, 'controller failed to start');
        finish();
      },
    );
  };

  const leaseRest = new KubeRest(kc);
  if (leaderElect) {
    elector = new LeaseElector({
      rest: leaseRest,
      namespace: values['lease-namespace'] ?? home,
      name: values['lease-name'] ?? 'hearth-controller',
      identity,
      leaseDurationMs: seconds(values['lease-duration'], '--lease-duration', 15) * 1000,
      renewDeadlineMs: seconds(values['renew-deadline'], '--renew-deadline', 10) * 1000,
      retryPeriodMs: seconds(values['retry-period'], '--retry-period', 2) * 1000,
      onStartedLeading: () => {
        log.info({ identity }, 'became leader');
        startController();
      },
      onStoppedLeading: () => {
        if (shuttingDown) return;
        // Caches and queue may hold decisions made as leader: start over as a new process.
        log.error({ identity }, 'lost leadership; exiting');
        lostLeadership = true;
        finish();
      },
      onError: (err) => log.warn({ err }, 'leader election'),
    });
    await elector.start();
  } else {
    startController();
  }

  const onSignal = (sig: string) => () => {
    log.info({ signal: sig }, 'shutting down');
    finish();
  };
  const onTerm = onSignal('SIGTERM');
  const onInt = onSignal('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  await finished;
  shuttingDown = true;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);

  // Drain first (no reconcile is cut in half), then give the lease up so a standby takes over at once.
  await controller.stop();
  await elector?.stop();
  leaseRest.close();
  storeRest.close();
  await redis?.client.quit().catch(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  log.info('stopped');
  return lostLeadership ? 1 : 0;
}
