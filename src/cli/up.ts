// `hearth up`: the embedded platform on this machine.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { CredentialsFileAuth } from '../gateway/auth/credentials-file.js';
import { startEmbedded } from '../platform/embedded.js';
import { installTracing } from '../tracing/spans.js';
import { probeSandbox, sandboxRefusal, sandboxWarning } from '../sandbox/support.js';
import { authOptions, checkServeFlags, isLoopback, loadAuth, SERVE_OPTIONS, untilSignal } from './serve-flags.js';
import { parseUpBounds, UP_BOUND_OPTIONS } from './up-bounds.js';

const HELP = `usage: hearth up [--dir DIR] [--port 8080] [--host 127.0.0.1] [--redis-url URL] [--warm-pool N] [--credentials FILE]
                 [--insecure-no-sandbox]

Runs the gateway, the local backend and the queue on this machine, with the
Function YAML files of DIR (followed as they change).

  --dir DIR        folder of Function YAML files, with the ConfigMap and Secret
                   manifests they refer to (default: .)
  --port N         gateway port (default: 8080)
  --host ADDR      address to bind (default: 127.0.0.1). Beyond loopback,
                   authentication is required unless --no-auth is given.
  --redis-url URL  queue async events in Redis (default: $REDIS_URL, else in memory)
  --warm-pool N    pre-started runtime processes per runtime (default: 1; 0 disables)
  --credentials FILE  callers, keys and the functions each may invoke (YAML;
                   see README, Authentication); turns authentication on, on
                   loopback too. The file is re-read when it changes.
  --no-auth        serve without authentication on a non-loopback address
  --open-routes LIST  with --credentials: the operations routes anonymous callers
                   may still use, a comma-separated subset of /metrics,/openapi.json,
                   or none (default: both; /healthz and /readyz are always open)
  --management-api B
                   false: serve invocation only; the Lambda control-plane routes
                   (functions, versions, aliases, configuration, tags) answer 403
                   (default: true)
  --max-concurrent-invocations N
                   cap on invocations running at once; beyond it callers get 429
  --shutdown-delay-seconds S
                   on SIGTERM/SIGINT, keep serving this long with /readyz failing
                   and every answer saying Connection: close (default: 0)
  --drain-timeout-seconds S
                   then, how long calls in flight, running async events and
                   event-source batches may take before they are cut (default: 60)
  --max-connections N
                   open connections kept; at the cap the oldest one not serving
                   a request is closed to make room (default: four fifths of the
                   open-files limit, at most 65536)
  --max-connections-per-address N
                   open connections from one client address (default: 256)
  --headers-timeout-seconds S
                   a request's headers must arrive within this (default: 10)
  --body-timeout-seconds S
                   a request body that receives nothing this long is closed
                   (default: 10; the function's run time is not counted)
  --stream-max-bytes SIZE
                   longest streamed response passed on; past it the stream is
                   cut and ends with Function.ResponseSizeTooLarge (default:
                   200M, Lambda's; K, M, G accepted)
  --stream-burst-bytes SIZE
                   bytes of a streamed response sent at full speed before the
                   pace applies (default: 6M, Lambda's)
  --stream-bytes-per-second SIZE
                   the pace after the burst; 0 for none (default: 2M, Lambda's)
  --insecure-no-sandbox
                   start with --credentials or beyond loopback even where no
                   function sandbox can be made (no bubblewrap, no user
                   namespaces, not Linux): functions can then read the
                   credentials file and each other's code and environment.
                   HEARTH_BWRAP names the bubblewrap binary (default: bwrap on PATH).
  --function-log-max-bytes SIZE
                   each function's stdout/stderr goes to NAME.log under
                   $XDG_CACHE_HOME/hearth/local/logs (default ~/.cache/...);
                   it rotates at this size (default: 10M; K, M, G accepted)
  --function-log-files N
                   files kept per function, NAME.log, NAME.log.1 ... (default: 2)
  --queue-max-bytes SIZE
                   in-memory queue (no Redis): bytes of events, results and
                   dead letters held; the oldest finished records go first, and
                   new events get 429 while unfinished ones fill it (default: 128M)
  --queue-max-records N
                   in-memory queue: invocation records held (default: 10000)
  --log-level L    trace, debug, info (default), warn, error`;

export async function upCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...SERVE_OPTIONS,
      dir: { type: 'string', default: '.' },
      host: { type: 'string', default: '127.0.0.1' },
      'redis-url': { type: 'string' },
      'warm-pool': { type: 'string', default: '1' },
      'insecure-no-sandbox': { type: 'boolean', default: false },
      ...UP_BOUND_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!existsSync(values.dir)) {
    console.error(`hearth up: no such directory: ${values.dir}`);
    return 2;
  }
  const settings = checkServeFlags(values);
  if (typeof settings === 'string') {
    console.error(`hearth up: ${settings}`);
    return 2;
  }
  const bounds = parseUpBounds(values);
  if (typeof bounds === 'string') {
    console.error(`hearth up: ${bounds}`);
    return 2;
  }
  // Before anything starts: without a sandbox, --credentials and a non-loopback bind must be asked for explicitly.
  const sandbox = await probeSandbox();
  const insecureNoSandbox = values['insecure-no-sandbox'];
  const refusal = sandboxRefusal(sandbox, { credentials: values.credentials !== undefined, loopback: isLoopback(values.host), insecureNoSandbox });
  if (refusal !== undefined) {
    console.error(`hearth up: ${refusal}`);
    return 2;
  }
  const logger = pino({ level: values['log-level'], base: { service: 'hearth' } });
  const warning = sandboxWarning(sandbox);
  if (warning !== undefined) logger.warn({ sandbox: { enabled: sandbox.enabled, memory: sandbox.memory, insecureNoSandbox } }, warning);
  const redisUrl = values['redis-url'] ?? process.env.REDIS_URL;
  let auth: CredentialsFileAuth | undefined;
  try {
    auth = await loadAuth(values.credentials, logger);
  } catch (err) {
    console.error(`hearth up: ${(err as Error).message}`);
    return 2;
  }
  // One process, two services in a trace: the gateway's spans (queue, dispatch included) and the agents'.
  const tracing = installTracing(['gateway', 'agent'], process.env, logger);
  const platform = await startEmbedded({
    dir: values.dir,
    host: values.host,
    port: settings.port,
    logger,
    warmPoolSize: Number(values['warm-pool']),
    ...(redisUrl ? { redisUrl } : {}),
    ...(auth ? { auth: authOptions(auth, settings) } : {}),
    ...(settings.maxConcurrentInvocations !== undefined ? { maxConcurrentInvocations: settings.maxConcurrentInvocations } : {}),
    shutdown: { delayMs: settings.shutdownDelayMs, drainTimeoutMs: settings.drainTimeoutMs },
    connections: settings.connections,
    streamLimits: settings.streamLimits,
    ...(settings.managementApi !== undefined ? { managementApi: settings.managementApi } : {}),
    sandbox: { support: sandbox, insecureNoSandbox },
    backend: { functionLogs: bounds.functionLogs },
    memoryQueue: bounds.memoryQueue,
  });
  logger.info({ url: platform.url, console: `${platform.url}/console/`, functions: platform.catalog.list().map((f) => f.metadata.name), queue: platform.queue.kind }, 'hearth is up');
  console.error(`\nHearth is up at ${platform.url}\n${warning !== undefined ? `  warning: ${warning}\n` : ''}  curl -s -X POST ${platform.url}/2015-03-31/functions/NAME/invocations -d '{}'\n  curl -i ${platform.url}/fn/NAME/\n  hearth logs -f NAME    (${platform.backend.functionLogs.path('NAME')})\n`);

  await untilSignal();
  logger.info('shutting down');
  await platform.close();
  auth?.close();
  await tracing.shutdown();
  return 0;
}
