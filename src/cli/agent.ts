// `hearth agent`: the Lambda Runtime API for one instance.
// In a pod (the controller's default), the runtime runs in its own container
// and finds the agent through AWS_LAMBDA_RUNTIME_API; the agent serves the
// gateway's invoke endpoint and the probes. Given a command after `--`, the
// agent starts that runtime itself, as AWS's runtime interface emulator does.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Agent } from '../agent/agent.js';
import { procRuntimePeer } from '../agent/runtime-peer.js';
import { runAgentSidecar } from '../agent/sidecar.js';

const HELP = `usage: hearth agent [options] [-- RUNTIME COMMAND...]

  --listen HOST:PORT       invoke endpoint, /healthz and /readyz (default 0.0.0.0:9000)
  --runtime-api HOST:PORT  where the Runtime API listens (default 127.0.0.1:9001)
  --function-name NAME     (default: $AWS_LAMBDA_FUNCTION_NAME)
  --memory MB              (default 128)
  --timeout SECONDS        (default 3)
  --concurrency N          invocations the runtime takes at once (default 1)`;

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
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const listen = hostPort(values.listen, '--listen');
  const runtimeApi = hostPort(values['runtime-api'], '--runtime-api');
  const logger = pino({ base: { service: 'hearth-agent', function: values['function-name'] } });
  const common = {
    functionName: values['function-name'],
    memoryMB: Number(values.memory),
    timeoutSeconds: Number(values.timeout),
    concurrency: Number(values.concurrency),
    logger,
  };
  let agent: Agent;
  if (command.length > 0) {
    const sidecar = await runAgentSidecar({ ...common, command: command as [string, ...string[]], runtimePort: runtimeApi.port, invokeHost: listen.host, invokePort: listen.port });
    agent = sidecar.agent;
  } else {
    // The runtime container's processes are visible when the pod shares its process namespace.
    agent = new Agent({ ...common, port: runtimeApi.port, peer: procRuntimePeer(`127.0.0.1:${runtimeApi.port}`) });
    await agent.start();
    await agent.listenInvoke(listen.host, listen.port);
  }
  logger.info({ listen: values.listen, runtimeApi: values['runtime-api'], spawns: command.length > 0 }, 'agent ready for its runtime');
  const signal = await nextSignal();
  // Drain first: /readyz fails, new calls are refused as not delivered (the
  // gateway sends them elsewhere) and accepted ones run to their answers. In
  // a pod the runtime container's preStop hook (GET /drain) has usually
  // emptied the agent already: Kubernetes stops a native sidecar after the
  // runtime container. A second signal stops at once.
  logger.info({ signal }, 'draining before exit');
  const drained = await Promise.race([agent.drain(), nextSignal().then(() => undefined)]);
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
