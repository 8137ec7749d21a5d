import { describe, expect, it } from 'vitest';
import { createControllerMetrics } from '../../src/metrics/controller.js';
import { createRegistry } from '../../src/metrics/registry.js';

describe('controller metrics', () => {
  it('exposes reconciles, durations, the work queue and functions by state', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const m = createControllerMetrics(registry);
    m.reconciles.inc({ result: 'success' });
    m.reconcileDuration.observe(0.02);
    m.workqueueDepth.set(3);
    m.workqueueLatency.observe(0.5);
    let states = new Map([['ready', 2], ['invalid', 1]]);
    m.setFunctionStates(() => states);
    const text = await registry.metrics();
    expect(text).toContain('hearth_controller_reconciles_total{result="success"} 1');
    expect(text).toContain('hearth_controller_reconcile_duration_seconds_count 1');
    expect(text).toContain('hearth_controller_workqueue_depth 3');
    expect(text).toContain('hearth_controller_workqueue_latency_seconds_count 1');
    expect(text).toContain('hearth_controller_functions{state="ready"} 2');
    expect(text).toContain('hearth_controller_functions{state="invalid"} 1');
    states = new Map([['ready', 1]]);
    const after = await registry.metrics();
    expect(after).toContain('hearth_controller_functions{state="ready"} 1');
    expect(after).not.toContain('state="invalid"');
  });
});
