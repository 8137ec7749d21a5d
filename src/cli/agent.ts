// `hearth agent`: the Lambda Runtime API for one instance.
// In a pod (the controller's default), the runtime runs in its own container
// and finds the agent through AWS_LAMBDA_RUNTIME_API; the agent serves the
// gateway's invoke endpoint and the probes. Given a command after `--`, the
// agent starts that runtime itself, as AWS's runtime interface emulator does.
// With --pool it is a warm-pool pod's agent: no function until a gateway
// specialises it (src/agent/pool-mode.ts).
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { PoolAgent } from '../agent/pool-mode.js';
import { POOL_FIFO, POOL_OPT_DIR, POOL_TASK_ROOT } from '../agent/pool-paths.js';
import { procRuntimePeer } from '../agent/runtime-peer.js';
import { runAgentSidecar } from '../agent/sidecar.js';
import { parseLogFlags } from '../agent/log-format.js';
import type { InvokeServerOptions } from '../agent/invoke-server.js';
import { createAgentMetrics, metricsRoute, type AgentMetrics } from '../metrics/agent.js';
import { createRegistry } from '../metrics/registry.js';
import { installTracing } from '../tracing/spans.js';

const HELP = `usage: hearth agent [options] [-- RUNTIME COMMAND...]

  --listen HOST:PORT       invoke endpoint, /healthz, /readyz[?wait=MS], /drain and /metrics (default 0.0.0.0:9000)
  --runtime-api HOST:PORT  where the Runtime API listens (default 127.0.0.1:9001)
  --function-name NAME     (default: $AWS_LAMBDA_FUNCTION_NAME)
  --memory MB              (default 128)
  --timeout SECONDS        (default 3)
  --concurrency N          invocations the runtime takes at once (default 1)
  --function-version V     the version it runs, for START / platform.start (default $LATEST)
  --log-format F           Text (default) or JSON: Lambda's logging controls (spec.logging)
  --application-log-level L  JSON only: TRACE, DEBUG, INFO (default), WARN, ERROR or FATAL
  --system-log-level L     JSON only: DEBUG, INFO (default) or WARN

warm-pool pod (the runtime container waits on the FIFO; see runtimes/README.md):
  --pool                   serve no function until POST /2018-06-01/hearth/specialize gives one
  --task-root DIR          where the function's code is written (default ${POOL_TASK_ROOT})
  --opt-dir DIR            where its layers are unpacked (default ${POOL_OPT_DIR})
  --specialize-fifo PATH   the runtime's FIFO; env.json is saved beside it (default ${POOL_FIFO})`;

function hostPort(value: string, flag: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag} must be HOST:PORT, not ${value}`);
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

export async function agentCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values } = parseArgs({
    args: dash >= 0 ? argv.slice(0, dash) : argv,
    options: {
      listen: { type: 'string', default: '0.0.0.0:9000' },
      'runtime-api': { type: 'string', default: '127.0.0.1:9001' },
      'function-name': { type: 'string', default: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function' },
      memory: { type: 'string', default: '128' },
      timeout: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '1' },
      'function-version': { type: 'string' },
      'log-format': { type: 'string' },
      'application-log-level': { type: 'string' },
      'system-log-level': { type: 'string' },
      pool: { type: 'boolean', default: false },
      'task-root': { type: 'string', default: POOL_TASK_ROOT },
      'opt-dir': { type: 'string', default: POOL_OPT_DIR },
      'specialize-fifo': { type: 'string', default: POOL_FIFO },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const listen = hostPort(values.listen, '--listen');
  const runtimeApi = hostPort(values['runtime-api'], '--runtime-api');
  // The process's metrics (its runtime's inits, exits, restarts and invocations, and Node's) on the invoke endpoint's /metrics.
  const registry = createRegistry();
  const metrics = createAgentMetrics(registry);
  const routes = { '/metrics': metricsRoute(registry) };
  // Spans of each invocation (agent, cold start, invocation) when OTEL_EXPORTER_OTLP_ENDPOINT names a collector; flushed on the way out.
  const tracing = installTracing(['agent']);
  if (values.pool) {
    if (command.length > 0) throw new Error('--pool serves the runtime container of a pool pod; it starts no runtime command');
    return poolAgent({ listen, runtimePort: runtimeApi.port, taskRoot: values['task-root'], optDir: values['opt-dir'], fifo: values['specialize-fifo'], metrics, routes }).finally(tracing.shutdown);
  }
  const logger = pino({ base: { service: 'hearth-agent', function: values['function-name'] } });
  const common = {
    functionName: values['function-name'],
    memoryMB: Number(values.memory),
    timeoutSeconds: Number(values.timeout),
    concurrency: Number(values.concurrency),
    logging: parseLogFlags(values['log-format'], values['application-log-level'], values['system-log-level']),
    ...(values['function-version'] !== undefined ? { version: values['function-version'] } : {}),
    logger,
    onEvent: metrics.listener(values['function-name']),
  };
  let agent: Agent;
  if (command.length > 0) {
    const sidecar = await runAgentSidecar({ ...common, command: command as [string, ...string[]], runtimePort: runtimeApi.port, invokeHost: listen.host, invokePort: listen.port, routes });
    agent = sidecar.agent;
  } else {
    // The runtime container's processes are visible when the pod shares its process namespace.
    agent = new Agent({ ...common, port: runtimeApi.port, peer: procRuntimePeer(`127.0.0.1:${runtimeApi.port}`) });
    await agent.start();
    await agent.listenInvoke(listen.host, listen.port, { routes });
  }
  logger.info({ listen: values.listen, runtimeApi: values['runtime-api'], spawns: command.length > 0 }, 'agent ready for its runtime');
  return leaveOnSignal(agent, logger).finally(tracing.shutdown);
}

async function poolAgent(o: {
  listen: { host: string; port: number };
  runtimePort: number;
  taskRoot: string;
  optDir: string;
  fifo: string;
  metrics: AgentMetrics;
  routes: NonNullable<InvokeServerOptions['routes']>;
}): Promise<number> {
  const logger = pino({ base: { service: 'hearth-agent' } });
  const agent = new PoolAgent({ taskRoot: o.taskRoot, optDir: o.optDir, fifo: o.fifo, runtimePort: o.runtimePort, logger, onEvent: o.metrics.listener });
  await agent.start();
  await agent.listen(o.listen.host, o.listen.port, { routes: o.routes });
  logger.info({ listen: o.listen, taskRoot: o.taskRoot, optDir: o.optDir, fifo: o.fifo }, 'pool agent waiting for a function');
  // An idle pool pod drains at once; a claimed one as any function pod.
  return leaveOnSignal(agent, logger);
}

/**
 * Waits for SIGTERM or SIGINT, then drains first: /readyz fails, new calls
 * are refused as not delivered (the gateway sends them elsewhere) and
 * accepted ones run to their answers. In a pod the preStop hooks of both
 * the agent's container and the runtime's (GET /drain) have emptied the
 * agent already: the kubelet sends SIGTERM only after a container's preStop
 * hook returned. A second signal stops at once.
 */
async function leaveOnSignal(agent: { drain(): Promise<unknown>; close(): Promise<void> }, logger: Logger): Promise<number> {
  const signal = await nextSignal();
  logger.info({ signal }, 'draining before exit');
  const drained = await Promise.race([agent.drain().then(() => true), nextSignal().then(() => undefined)]);
  if (drained === undefined) logger.warn('second signal; stopping without waiting for the drain');
  await agent.close();
  return 0;
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
