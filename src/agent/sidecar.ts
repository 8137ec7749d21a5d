// The agent as its own process in a pod (`hearth agent`): it starts the
// function's runtime command itself, serves it the Runtime API on loopback
// and serves the dispatcher the invoke endpoint on the pod's address.
import type { Logger } from 'pino';
import { Agent, type AgentEvent } from './agent.js';
import type { InvokeServerOptions } from './invoke-server.js';
import { StreamSink } from './output-sink.js';
import type { LogSettings } from './log-format.js';
import { spawnLauncher } from './spawn-launcher.js';

export interface SidecarOptions {
  /** The runtime's command line, e.g. ['python3', '/var/runtime/bootstrap.py']. */
  command: readonly [string, ...string[]];
  functionName: string;
  memoryMB?: number;
  timeoutSeconds?: number;
  concurrency?: number;
  functionArn?: string;
  /** Runtime API port on 127.0.0.1 (default: any free port). */
  runtimePort?: number;
  /** Where the invoke endpoint, /healthz and /readyz listen (default 0.0.0.0:8080). */
  invokeHost?: string;
  invokePort?: number;
  /** The runtime's environment; defaults to this process's, which in a pod is the function's. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  initTimeoutMs?: number;
  /** The function's logging controls (log-format.ts); Text when unset. */
  logging?: LogSettings;
  /** The version it runs, for START / platform.start. */
  version?: string;
  logger?: Logger;
  onEvent?: (e: AgentEvent) => void;
  /** More routes of the invoke endpoint by exact path (the process's /metrics). */
  routes?: InvokeServerOptions['routes'];
}

export interface Sidecar {
  agent: Agent;
  invokeUrl: string;
  close(): Promise<void>;
}

export async function runAgentSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const [command, ...args] = opts.command;
  const env = opts.env ?? definedEnv(process.env);
  const agent = new Agent({
    functionName: opts.functionName,
    ...(opts.memoryMB !== undefined ? { memoryMB: opts.memoryMB } : {}),
    ...(opts.timeoutSeconds !== undefined ? { timeoutSeconds: opts.timeoutSeconds } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.functionArn !== undefined ? { functionArn: opts.functionArn } : {}),
    ...(opts.runtimePort !== undefined ? { port: opts.runtimePort } : {}),
    ...(opts.initTimeoutMs !== undefined ? { initTimeoutMs: opts.initTimeoutMs } : {}),
    ...(opts.logging !== undefined ? { logging: opts.logging } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    ...(opts.onEvent !== undefined ? { onEvent: opts.onEvent } : {}),
    // The container's stdout, which kubelet rotates; written with back-pressure and the line cap.
    output: new StreamSink(process.stdout),
    launcher: spawnLauncher({ command, args, env, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) }),
  });
  await agent.start();
  const addr = await agent.listenInvoke(opts.invokeHost ?? '0.0.0.0', opts.invokePort ?? 8080, opts.routes !== undefined ? { routes: opts.routes } : {});
  return { agent, invokeUrl: addr.url, close: () => agent.close() };
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
