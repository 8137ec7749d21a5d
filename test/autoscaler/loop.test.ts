// The loop against a fake backend, a fake load source and a fake clock: no
// timers run, time moves only when the test says so.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import type { LeaderElector } from '../../src/autoscaler/leader.js';
import { AutoscalerLoop, type LoadSource, type LoopClock } from '../../src/autoscaler/loop.js';
import type { Backend, Instance, InstanceState } from '../../src/backends/backend.js';
import { createAutoscalerMetrics } from '../../src/metrics/autoscaler.js';
import { functionOf } from './fixtures.js';

class FakeClock implements LoopClock {
  t = 1_000_000;
  readonly #timers = new Set<{ ms: number; next: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  every(ms: number, fn: () => void): () => void {
    const timer = { ms, next: this.t + ms, fn };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.#timers].filter((x) => x.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.t = due.next;
      due.next += due.ms;
      due.fn();
    }
    this.t = end;
  }
}

class FakeBackend implements Pick<Backend, 'scale' | 'instances'> {
  readonly calls: [string, number][] = [];
  readonly #instances = new Map<string, { id: string; state: InstanceState }[]>();
  fail = false;
  #seq = 0;
  async scale(name: string, desired: number): Promise<void> {
    this.calls.push([name, desired]);
    if (this.fail) throw new Error('backend down');
    const list = (this.#instances.get(name) ?? []).filter((i) => i.state === 'ready' || i.state === 'starting');
    while (list.length < desired) list.push({ id: `i${++this.#seq}`, state: 'starting' });
    list.splice(desired);
    this.#instances.set(name, list);
  }
  instances(name: string): readonly Instance[] {
    return (this.#instances.get(name) ?? []).map((i) => ({ id: i.id, functionName: name, concurrency: 10, state: i.state, invoke: () => Promise.reject(new Error('fake')) }));
  }
  /** Instances finish starting. */
  ready(name: string): void {
    for (const i of this.#instances.get(name) ?? []) if (i.state === 'starting') i.state = 'ready';
  }
  kill(name: string, n: number): void {
    (this.#instances.get(name) ?? []).filter((i) => i.state === 'ready').slice(0, n).forEach((i) => (i.state = 'failed'));
  }
  callsFor(name: string): number[] {
    return this.calls.filter(([n]) => n === name).map(([, d]) => d);
  }
}

class FakeLoad implements LoadSource {
  readonly inflight = new Map<string, number>();
  readonly queued = new Map<string, number>();
  inFlight(name: string): number {
    return this.inflight.get(name) ?? 0;
  }
  backlog(name: string): number {
    return this.queued.get(name) ?? 0;
  }
}

class SwitchLeader implements LeaderElector {
  leader = true;
  isLeader(): boolean {
    return this.leader;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

function setup(opts: { leader?: SwitchLeader } = {}) {
  const clock = new FakeClock();
  const backend = new FakeBackend();
  const load = new FakeLoad();
  const catalog = new MemoryCatalog();
  const registry = new Registry();
  const metrics = createAutoscalerMetrics(registry);
  const errors: unknown[] = [];
  const loop = new AutoscalerLoop({ catalog, backend, load, clock, metrics, leader: opts.leader, onError: (e) => errors.push(e) });
  /** Advances one tick and lets the scale calls settle; then marks started instances ready, as a backend would a moment later. */
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      clock.advance(1000);
      await loop.settled();
      for (const fn of catalog.list()) backend.ready(fn.metadata.name);
    }
  };
  const value = async (metric: string, labels: Record<string, string>) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === metric);
    return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
  };
  return { clock, backend, load, catalog, registry, loop, step, value, errors };
}

describe('AutoscalerLoop', () => {
  it('starts provisioned instances at deploy time, before any tick', async () => {
    const { catalog, backend, loop } = setup();
    loop.start();
    catalog.set(functionOf('warm', { scaling: { minInstances: 2 } }));
    await loop.settled();
    expect(backend.callsFor('warm')).toEqual([2]);
    await loop.stop();
  });

  it('provisions functions already in the catalog when it starts', async () => {
    const { catalog, backend, loop } = setup();
    catalog.set(functionOf('early', { scaling: { minInstances: 3 } }));
    loop.start();
    await loop.settled();
    expect(backend.callsFor('early')).toEqual([3]);
    await loop.stop();
  });

  it('scales up under load and calls the backend only when the count changes', async () => {
    const { catalog, backend, load, loop, step } = setup();
    loop.start();
    catalog.set(functionOf('busy', { concurrency: 10 }));
    await step();
    expect(backend.callsFor('busy')).toEqual([0]);
    load.inflight.set('busy', 50);
    await step();
    expect(loop.desired('busy')).toBe(8);
    await step(120);
    // 0 at first sight, 8 on the burst, then nothing while load holds.
    expect(backend.callsFor('busy')).toEqual([0, 8]);
    await loop.stop();
  });

  it('stops instances the dispatcher started beyond its decision once the demand of now fits in fewer', async () => {
    const { catalog, backend, load, loop, step } = setup();
    loop.start();
    catalog.set(functionOf('bursty', { concurrency: 10, scaling: { minInstances: 1, targetUtilizationPercent: 100, stableWindowSeconds: 6 } }));
    await step();
    load.inflight.set('bursty', 8);
    await step(10);
    expect(loop.desired('bursty')).toBe(1);
    const before = backend.callsFor('bursty').length;
    // Between two ticks a burst of waiting callers made the dispatcher start two more, and it is over.
    await backend.scale('bursty', 3);
    backend.ready('bursty');
    await step();
    // The decision stayed 1 all along, and the extra two go.
    expect(loop.desired('bursty')).toBe(1);
    expect(backend.callsFor('bursty').slice(before)).toEqual([3, 1]);
    expect(backend.instances('bursty')).toHaveLength(1);
    await step(5);
    expect(backend.callsFor('bursty').slice(before)).toEqual([3, 1]);
    await loop.stop();
  });

  it('replaces instances that die', async () => {
    const { catalog, backend, loop, step } = setup();
    loop.start();
    catalog.set(functionOf('fragile', { scaling: { minInstances: 2 } }));
    await step(3);
    expect(backend.instances('fragile').filter((i) => i.state === 'ready')).toHaveLength(2);
    backend.kill('fragile', 1);
    await step();
    expect(backend.callsFor('fragile')).toEqual([2, 2]);
    expect(backend.instances('fragile').filter((i) => i.state === 'ready')).toHaveLength(2);
    await loop.stop();
  });

  it('only the leader calls the backend; a new leader applies at once', async () => {
    const leader = new SwitchLeader();
    leader.leader = false;
    const { catalog, backend, load, loop, step } = setup({ leader });
    loop.start();
    catalog.set(functionOf('shared', { concurrency: 10, scaling: { minInstances: 1 } }));
    load.inflight.set('shared', 30);
    await step(5);
    expect(backend.calls).toEqual([]);
    expect(loop.desired('shared')).toBe(5);
    leader.leader = true;
    await step();
    expect(backend.callsFor('shared')).toEqual([5]);
    await loop.stop();
  });

  it('retries a failed scale call on the next tick', async () => {
    const { catalog, backend, load, loop, step, errors } = setup();
    loop.start();
    catalog.set(functionOf('flaky', { concurrency: 10 }));
    backend.fail = true;
    load.inflight.set('flaky', 20);
    await step();
    expect(errors).toHaveLength(1);
    backend.fail = false;
    await step();
    expect(backend.callsFor('flaky')).toEqual([3, 3]);
    await step(5);
    expect(backend.callsFor('flaky')).toEqual([3, 3]);
    await loop.stop();
  });

  it('applies a raised minimum as soon as the spec changes, and forgets removed functions', async () => {
    const { catalog, backend, loop, step, value } = setup();
    loop.start();
    catalog.set(functionOf('grow'));
    await step();
    catalog.set(functionOf('grow', { scaling: { minInstances: 4 } }));
    await loop.settled();
    expect(backend.callsFor('grow')).toEqual([0, 4]);
    expect(await value('hearth_autoscaler_desired_instances', { function: 'grow' })).toBe(4);
    catalog.delete('grow');
    await step(3);
    expect(backend.callsFor('grow')).toEqual([0, 4]);
    expect(await value('hearth_autoscaler_desired_instances', { function: 'grow' })).toBeUndefined();
    await loop.stop();
  });

  it('exports desired, ready, panic, observed concurrency and scale events per function', async () => {
    const { catalog, load, loop, step, value } = setup();
    loop.start();
    catalog.set(functionOf('seen', { concurrency: 10, scaling: { minInstances: 1, scaleToZeroGracePeriodSeconds: 0 } }));
    await step(3);
    load.inflight.set('seen', 50);
    await step();
    expect(await value('hearth_autoscaler_observed_concurrency', { function: 'seen' })).toBe(50);
    expect(await value('hearth_autoscaler_desired_instances', { function: 'seen' })).toBe(8);
    expect(await value('hearth_autoscaler_panic_mode', { function: 'seen' })).toBe(1);
    await step();
    expect(await value('hearth_autoscaler_ready_instances', { function: 'seen' })).toBe(8);
    load.inflight.set('seen', 0);
    await step(200);
    expect(await value('hearth_autoscaler_panic_mode', { function: 'seen' })).toBe(0);
    expect(await value('hearth_autoscaler_desired_instances', { function: 'seen' })).toBe(1);
    expect(await value('hearth_autoscaler_scale_events_total', { function: 'seen', direction: 'up' })).toBe(2);
    expect(await value('hearth_autoscaler_scale_events_total', { function: 'seen', direction: 'down' })).toBeGreaterThanOrEqual(1);
    await loop.stop();
  });

  it('counts async backlog as demand', async () => {
    const { catalog, backend, load, loop, step } = setup();
    loop.start();
    catalog.set(functionOf('queue', { concurrency: 1, scaling: { targetUtilizationPercent: 100 } }));
    await step();
    load.queued.set('queue', 50);
    await step();
    // 50 events over a 10 s drain is 5 concurrent: 5 instances of 1.
    expect(backend.callsFor('queue').at(-1)).toBe(5);
    await loop.stop();
  });

  it('stops ticking when stopped', async () => {
    const { catalog, backend, load, loop, step } = setup();
    loop.start();
    catalog.set(functionOf('halt', { concurrency: 10 }));
    await step();
    await loop.stop();
    load.inflight.set('halt', 100);
    await step(5);
    expect(backend.callsFor('halt')).toEqual([0]);
  });
});
