// Keeps the hearth_instances gauge in line with the backend's instances, per
// serving unit (the backend's keys are unit keys: NAME or NAME:N).
import type { Catalog } from '../api/catalog.js';
import type { Backend, InstanceState } from '../backends/backend.js';
import type { InvocationMetrics } from '../metrics/invocations.js';
import { unitLabels } from '../versions/units.js';

const STATES: readonly InstanceState[] = ['starting', 'ready', 'draining', 'failed'];

export function trackInstances(backend: Backend, units: Catalog, metrics: InvocationMetrics): () => void {
  const update = (key: string) => {
    const instances = units.get(key) ? backend.instances(key) : [];
    const labels = unitLabels(key);
    for (const state of STATES) metrics.instances.set({ ...labels, state }, instances.filter((i) => i.state === state).length);
  };
  return backend.onChange(update);
}
