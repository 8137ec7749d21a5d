// `hearth gateway`: the gateway of a cluster (see src/platform/cluster.ts).
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { CredentialsFileAuth } from '../gateway/auth/credentials-file.js';
import { startClusterGateway } from '../platform/cluster.js';
import { PACKAGE_FLAGS_HELP, PACKAGE_OPTIONS, packageSettings } from './package-flags.js';
import { redisConnectionFrom } from '../queue/index.js';
import { authOptions, checkServeFlags, loadAuth, SERVE_OPTIONS, untilSignal, type ShutdownDefaults } from './serve-flags.js';
import { installTracing } from '../tracing/spans.js';

const HELP = `usage: hearth gateway [options]

  --host ADDR            address to bind (default 0.0.0.0)
  --port N               (default 8080)
  --namespace NS         namespace whose Functions to serve (default: $POD_NAMESPACE or default)
  --kubeconfig FILE      (default: in-cluster, else ~/.kube/config)
  --redis-url URL        Redis for async events (also REDIS_URL, REDIS_PASSWORD, REDIS_TLS,
                         REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES)
  --credentials FILE     callers, keys and the functions each may invoke (YAML; see README,
                         Authentication); required beyond loopback unless --no-auth
  --no-auth              serve without authentication
  --open-routes LIST     operations routes anonymous callers may use while authentication is on:
                         a comma-separated subset of /metrics,/openapi.json, or none
                         (default: both; /healthz and /readyz are always open)
  --management-api B     false: serve invocation only; the Lambda control-plane routes (functions,
                         versions, aliases, configuration, tags) answer 403 (default true)
  --leader-elect         one replica's autoscaler decides, under a lease in Redis (default true)
  --no-leader-elect      every replica scales on its own view
  --event-sources B      false: run no EventSourceMapping pollers here and write no mapping status
                         (default true; the chart's eventSources.enabled)
  --max-concurrent-invocations N   cap across functions (default: none)
  --shutdown-delay-seconds S       on SIGTERM, keep serving this long with /readyz failing and every
                                   answer saying Connection: close, while the Service's endpoints
                                   drop this pod (default 5)
  --drain-timeout-seconds S        then, how long calls in flight, running async events and
                                   event-source batches may take before they are cut (default 60);
                                   the pod's grace must cover both
  --max-connections N              open connections kept; at the cap the oldest one not serving a
                                   request is closed to make room (default: four fifths of the
                                   open-files limit, at most 65536)
  --max-connections-per-address N  open connections from one client address (default 256)
  --headers-timeout-seconds S      a request's headers must arrive within this (default 10)
  --body-timeout-seconds S         a request body that receives nothing this long is closed
                                   (default 10; the function's run time is not counted)
  --stream-max-bytes SIZE          longest streamed response passed on; past it the stream is cut and
                                   ends with Function.ResponseSizeTooLarge (default 200M, Lambda's;
                                   K, M, G accepted)
  --stream-burst-bytes SIZE        bytes of a streamed response sent at full speed before the pace
                                   applies (default 6M, Lambda's)
  --stream-bytes-per-second SIZE   the pace after the burst; 0 for none (default 2M, Lambda's)
${PACKAGE_FLAGS_HELP}
  --log-level L          (default info)`;

/** The gateway's flags as `hearth gateway` reads them; exported so tests can follow the chart's args to what they do. */
export function parseGatewayArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      ...SERVE_OPTIONS,
      host: { type: 'string', default: '0.0.0.0' },
      namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'default' },
      kubeconfig: { type: 'string' },
      'redis-url': { type: 'string' },
      'leader-elect': { type: 'boolean', default: true },
      'no-leader-elect': { type: 'boolean', default: false },
      // A value, not a switch: the chart renders --event-sources=false.
      'event-sources': { type: 'string', default: 'true' },
      ...PACKAGE_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

/** A cluster gateway sits behind a Service: endpoints take a few seconds to drop a pod that is leaving. */
export const GATEWAY_SHUTDOWN_DEFAULTS: ShutdownDefaults = { shutdownDelaySeconds: 5 };

/** Whether the gateway competes for the autoscaler's lease: on unless --no-leader-elect (the chart's gateway.leaderElection.enabled: false). */
export function leaderElectFrom(values: { 'leader-elect': boolean; 'no-leader-elect': boolean }): boolean {
  return values['leader-elect'] && !values['no-leader-elect'];
}

/** Whether the gateway runs EventSourceMapping pollers: --event-sources=true|false (the chart's eventSources.enabled); a message for any other value. */
export function eventSourcesFrom(values: { 'event-sources': string }): boolean | string {
  const v = values['event-sources'];
  if (v !== 'true' && v !== 'false') return `--event-sources takes true or false, not ${v}`;
  return v === 'true';
}

export async function gatewayCommand(argv: string[]): Promise<number> {
  const values = parseGatewayArgs(argv);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const settings = checkServeFlags(values, GATEWAY_SHUTDOWN_DEFAULTS);
  if (typeof settings === 'string') {
    console.error(`hearth gateway: ${settings}`);
    return 2;
  }
  const eventSources = eventSourcesFrom(values);
  if (typeof eventSources === 'string') {
    console.error(`hearth gateway: ${eventSources}`);
    return 2;
  }
  const redis = redisConnectionFrom(values['redis-url']);
  if (!redis) {
    console.error('hearth gateway: a Redis server is required for async invocations (--redis-url or REDIS_URL)');
    return 2;
  }
  const packages = packageSettings(values, process.env);
  if (typeof packages === 'string') {
    console.error(`hearth gateway: ${packages}`);
    return 2;
  }
  const logger = pino({ level: values['log-level'], base: { service: 'hearth-gateway' } });
  let auth: CredentialsFileAuth | undefined;
  try {
    auth = await loadAuth(values.credentials, logger);
  } catch (err) {
    console.error(`hearth gateway: ${(err as Error).message}`);
    return 2;
  }
  const kubeConfig = new KubeConfig();
  if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig);
  else kubeConfig.loadFromDefault();
  const tracing = installTracing(['gateway'], process.env, logger);
  const gateway = await startClusterGateway({
    kubeConfig,
    namespace: values.namespace,
    host: values.host,
    port: settings.port,
    logger,
    redis,
    leaderElect: leaderElectFrom(values),
    ...(auth ? { auth: authOptions(auth, settings) } : {}),
    ...(settings.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: settings.maxConcurrentInvocations } : {}),
    shutdown: { delayMs: settings.shutdownDelayMs, drainTimeoutMs: settings.drainTimeoutMs },
    connections: settings.connections,
    streamLimits: settings.streamLimits,
    ...(packages ? { packages } : {}),
    ...(settings.managementApi !== undefined ? { managementApi: settings.managementApi } : {}),
    eventSources,
  });
  logger.info({ url: gateway.url, namespace: values.namespace, auth: auth !== undefined, managementApi: settings.managementApi ?? true, eventSources }, 'gateway listening');
  await untilSignal();
  logger.info('shutting down');
  await gateway.close();
  auth?.close();
  await tracing.shutdown();
  return 0;
}
