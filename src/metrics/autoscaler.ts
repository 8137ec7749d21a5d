// The autoscaler's metrics. Gauges are per serving unit (labels function and
// version: src/versions/units.ts unitLabels) and are removed with the unit, so
// a deleted function or version does not linger on /metrics at its last value.
import { Counter, Gauge, type Registry } from 'prom-client';
import { unitLabels } from '../versions/units.js';

export interface AutoscalerMetrics {
  desiredInstances: Gauge<'function' | 'version'>;
  readyInstances: Gauge<'function' | 'version'>;
  panicMode: Gauge<'function' | 'version'>;
  observedConcurrency: Gauge<'function' | 'version'>;
  scaleEvents: Counter<'function' | 'version' | 'direction'>;
  /** Drops every series of a unit (NAME or NAME:N) that no longer exists. */
  forget(unitKey: string): void;
}

export function createAutoscalerMetrics(registry: Registry): AutoscalerMetrics {
  const registers = [registry];
  const desiredInstances = new Gauge({
    name: 'hearth_autoscaler_desired_instances',
    help: 'Instances the autoscaler wants for the function.',
    labelNames: ['function', 'version'] as const,
    registers,
  });
  const readyInstances = new Gauge({
    name: 'hearth_autoscaler_ready_instances',
    help: 'Instances of the function ready to serve, as the autoscaler last saw them.',
    labelNames: ['function', 'version'] as const,
    registers,
  });
  const panicMode = new Gauge({
    name: 'hearth_autoscaler_panic_mode',
    help: '1 while the autoscaler is in panic mode for the function, else 0.',
    labelNames: ['function', 'version'] as const,
    registers,
  });
  const observedConcurrency = new Gauge({
    name: 'hearth_autoscaler_observed_concurrency',
    help: 'In-flight synchronous calls plus async events being processed, sampled each tick.',
    labelNames: ['function', 'version'] as const,
    registers,
  });
  const scaleEvents = new Counter({
    name: 'hearth_autoscaler_scale_events_total',
    help: 'Changes of the desired instance count applied to the backend.',
    labelNames: ['function', 'version', 'direction'] as const,
    registers,
  });
  return {
    desiredInstances,
    readyInstances,
    panicMode,
    observedConcurrency,
    scaleEvents,
    forget(key) {
      const labels = unitLabels(key);
      for (const g of [desiredInstances, readyInstances, panicMode, observedConcurrency]) g.remove(labels);
      scaleEvents.remove({ ...labels, direction: 'up' });
      scaleEvents.remove({ ...labels, direction: 'down' });
    },
  };
}
