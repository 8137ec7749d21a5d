// The metrics of one `hearth agent` process (a function pod's agent), served
// on its /metrics beside the invoke endpoint: what its runtime did, counted
// from the agent's events. The gateway counts the same invocations by
// function and version across instances (invocations.ts); these say what
// happened inside one pod: its runtime's inits, exits and restarts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AgentEvent } from '../agent/agent.js';
import { DURATION_BUCKETS } from './invocations.js';

export interface AgentMetrics {
  /** An onEvent listener for the agent of one function (a pool pod learns its function when specialised). */
  listener(functionName: string): (e: AgentEvent) => void;
}

export function createAgentMetrics(registry: Registry): AgentMetrics {
  const registers = [registry];
  const invocations = new Counter({
    name: 'hearth_agent_invocations_total',
    help: 'Invocations this agent handed to its runtime, by outcome (success, handled, unhandled).',
    labelNames: ['function', 'outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'hearth_agent_invocation_duration_seconds',
    help: 'Time from hand-over to the runtime until its answer (for a stream: until its end).',
    labelNames: ['function'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const inits = new Histogram({
    name: 'hearth_agent_runtime_init_duration_seconds',
    help: "The runtime's init phase, from its start to its first request for an event, each time it started.",
    labelNames: ['function'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const exits = new Counter({
    name: 'hearth_agent_runtime_exits_total',
    help: 'Times the runtime exited, by the phase it was in (init, invoke, idle).',
    labelNames: ['function', 'phase'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'hearth_agent_runtime_restarts_total',
    help: 'Times the agent restarted the runtime, by reason (timeout, exit, init-retry).',
    labelNames: ['function', 'reason'] as const,
    registers,
  });
  return {
    listener: (functionName) => (e) => {
      const fn = { function: functionName };
      switch (e.type) {
        case 'invoked':
          invocations.inc({ ...fn, outcome: e.outcome });
          duration.observe(fn, e.durationMs / 1000);
          return;
        case 'init':
          inits.observe(fn, e.durationMs / 1000);
          return;
        case 'exit':
          exits.inc({ ...fn, phase: e.phase });
          return;
        case 'restart':
          restarts.inc({ ...fn, reason: e.reason });
          return;
        default:
          return;
      }
    },
  };
}

/** GET /metrics of a registry, as a route of the agent's invoke server. */
export function metricsRoute(registry: Registry): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    req.resume();
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  };
}
