// Keeps the hearth_instances gauge in line with the backend's instances.
import type { FunctionCatalog } from '../api/catalog.js';
import type { Backend, InstanceState } from '../backends/backend.js';
import type { InvocationMetrics } from '../metrics/invocations.js';

const STATES: readonly InstanceState[] = ['starting', 'ready', 'draining', 'failed'];

export function trackInstances(backend: Backend, catalog: FunctionCatalog, metrics: InvocationMetrics): () => void {
  const update = (name: string) => {
    const instances = catalog.get(name) ? backend.instances(name) : [];
    for (const state of STATES) metrics.instances.set({ function: name, state }, instances.filter((i) => i.state === state).length);
  };
  return backend.onChange(update);
}
