// `hearth gateway`: the gateway of a cluster (see src/platform/cluster.ts).
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startClusterGateway } from '../platform/cluster.js';
import { redisOptionsFromEnv } from '../queue/index.js';
import { isLoopback } from './up.js';

const HELP = `usage: hearth gateway [options]

  --host ADDR            address to bind (default 0.0.0.0)
  --port N               (default 8080)
  --namespace NS         namespace whose Functions to serve (default: $POD_NAMESPACE or default)
  --kubeconfig FILE      (default: in-cluster, else ~/.kube/config)
  --redis-url URL        Redis for async events (also REDIS_URL, REDIS_PASSWORD, REDIS_TLS,
                         REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES)
  --leader-elect         one replica's autoscaler decides, under a lease in Redis (default true)
  --no-auth              serve without authentication beyond loopback
  --max-concurrent-invocations N   cap across functions (default: none)
  --log-level L          (default info)`;

export async function gatewayCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: '8080' },
      namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'default' },
      kubeconfig: { type: 'string' },
      'redis-url': { type: 'string' },
      'leader-elect': { type: 'boolean', default: true },
      'no-leader-elect': { type: 'boolean', default: false },
      'no-auth': { type: 'boolean', default: false },
      'max-concurrent-invocations': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!isLoopback(values.host) && !values['no-auth']) {
    console.error(`hearth gateway: serving on ${values.host} requires authentication; pass --no-auth to serve without it.`);
    return 2;
  }
  const redis = { ...redisOptionsFromEnv(), ...(values['redis-url'] ? { url: values['redis-url'] } : {}) };
  if (!redis.url && !redis.sentinels && !redis.cluster) {
    console.error('hearth gateway: a Redis server is required for async invocations (--redis-url or REDIS_URL)');
    return 2;
  }
  const kubeConfig = new KubeConfig();
  if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig);
  else kubeConfig.loadFromDefault();
  const logger = pino({ level: values['log-level'], base: { service: 'hearth-gateway' } });
  const maxConcurrent = values['max-concurrent-invocations'] ? Number(values['max-concurrent-invocations']) : undefined;
  const gateway = await startClusterGateway({
    kubeConfig,
    namespace: values.namespace,
    host: values.host,
    port: Number(values.port),
    logger,
    redis,
    leaderElect: values['leader-elect'] && !values['no-leader-elect'],
    ...(maxConcurrent !== undefined ? { maxConcurrentInvocations: maxConcurrent } : {}),
  });
  logger.info({ url: gateway.url, namespace: values.namespace }, 'gateway listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info('shutting down');
  await gateway.close();
  return 0;
}
