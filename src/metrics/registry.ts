// One Prometheus registry per process. Each component defines its hearth_*
// metrics in its own file here (gateway.ts, queue.ts, autoscaler.ts,
// controller.ts) as a factory taking the registry, so tests can use a fresh
// registry and the process wires one.
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's default metrics that break Prometheus's naming rules
 * (`promtool check metrics`: a gauge may not end in `_total`). Each is the
 * sum of a by-type gauge it also registers (nodejs_active_handles{type} and
 * so on), so nothing is lost: `sum(hearth_process_nodejs_active_handles)`.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export const DEFAULT_METRICS_PREFIX = 'hearth_process_';

export function createRegistry(opts: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    const prefix = opts.prefix ?? DEFAULT_METRICS_PREFIX;
    collectDefaultMetrics({ register: registry, prefix });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(prefix + name);
  }
  return registry;
}
