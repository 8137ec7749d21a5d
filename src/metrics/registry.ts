// One Prometheus registry per process. Each component defines its hearth_*
// metrics in its own file here (gateway.ts, queue.ts, autoscaler.ts,
// controller.ts) as a factory taking the registry, so tests can use a fresh
// registry and the process wires one.
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createRegistry(opts: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: opts.prefix ?? 'hearth_process_' });
  return registry;
}
