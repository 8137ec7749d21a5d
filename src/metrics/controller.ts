// The controller's metrics: how reconciles go, how long they take, how the
// work queue keeps up, and how many functions are in each state.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ReconcileResult = 'success' | 'requeue' | 'error' | 'invalid';

export interface ControllerMetrics {
  reconciles: Counter<'result'>;
  reconcileDuration: Histogram;
  workqueueDepth: Gauge;
  workqueueLatency: Histogram;
  /** Set from a snapshot on each scrape, so deleted functions drop out by themselves. */
  setFunctionStates(snapshot: () => ReadonlyMap<string, number>): void;
}

export function createControllerMetrics(registry: Registry): ControllerMetrics {
  const registers = [registry];
  let snapshot: () => ReadonlyMap<string, number> = () => new Map();
  const reconciles = new Counter({
    name: 'hearth_controller_reconciles_total',
    help: 'Reconciles of Functions, by result (success, requeue, error, invalid).',
    labelNames: ['result'] as const,
    registers,
  });
  const reconcileDuration = new Histogram({
    name: 'hearth_controller_reconcile_duration_seconds',
    help: 'Time one reconcile of a Function took.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const workqueueDepth = new Gauge({
    name: 'hearth_controller_workqueue_depth',
    help: 'Function keys waiting in the work queue.',
    registers,
  });
  const workqueueLatency = new Histogram({
    name: 'hearth_controller_workqueue_latency_seconds',
    help: 'Time a key waited in the work queue before a worker took it.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers,
  });
  new Gauge({
    name: 'hearth_controller_functions',
    help: 'Functions by state (ready, scaled_to_zero, starting, failing, invalid, deleting).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.reset();
      for (const [state, n] of snapshot()) this.set({ state }, n);
    },
  });
  return {
    reconciles,
    reconcileDuration,
    workqueueDepth,
    workqueueLatency,
    setFunctionStates(fn) {
      snapshot = fn;
    },
  };
}
