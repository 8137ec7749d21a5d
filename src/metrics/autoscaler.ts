// The autoscaler's metrics. Gauges are per function and are removed with the
// function, so a deleted function does not linger on /metrics at its last value.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AutoscalerMetrics {
  desiredInstances: Gauge<'function'>;
  readyInstances: Gauge<'function'>;
  panicMode: Gauge<'function'>;
  observedConcurrency: Gauge<'function'>;
  scaleEvents: Counter<'function' | 'direction'>;
  /** Drops every series of a function that no longer exists. */
  forget(functionName: string): void;
}

export function createAutoscalerMetrics(registry: Registry): AutoscalerMetrics {
  const registers = [registry];
  const desiredInstances = new Gauge({
    name: 'hearth_autoscaler_desired_instances',
    help: 'Instances the autoscaler wants for the function.',
    labelNames: ['function'] as const,
    registers,
  });
  const readyInstances = new Gauge({
    name: 'hearth_autoscaler_ready_instances',
    help: 'Instances of the function ready to serve, as the autoscaler last saw them.',
    labelNames: ['function'] as const,
    registers,
  });
  const panicMode = new Gauge({
    name: 'hearth_autoscaler_panic_mode',
    help: '1 while the autoscaler is in panic mode for the function, else 0.',
    labelNames: ['function'] as const,
    registers,
  });
  const observedConcurrency = new Gauge({
    name: 'hearth_autoscaler_observed_concurrency',
    help: 'In-flight synchronous calls plus async events being processed, sampled each tick.',
    labelNames: ['function'] as const,
    registers,
  });
  const scaleEvents = new Counter({
    name: 'hearth_autoscaler_scale_events_total',
    help: 'Changes of the desired instance count applied to the backend.',
    labelNames: ['function', 'direction'] as const,
    registers,
  });
  return {
    desiredInstances,
    readyInstances,
    panicMode,
    observedConcurrency,
    scaleEvents,
    forget(name) {
      for (const g of [desiredInstances, readyInstances, panicMode, observedConcurrency]) g.remove({ function: name });
      scaleEvents.remove({ function: name, direction: 'up' });
      scaleEvents.remove({ function: name, direction: 'down' });
    },
  };
}
