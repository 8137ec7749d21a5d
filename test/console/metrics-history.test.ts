// The metrics history behind the console's charts: snapshots of the registry's
// families per function, counts per interval, p50/p99 from histogram buckets
// (table tests), and the route on a real registry with real metrics.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { metricsHistory } from '../../src/gateway/plugins/metrics-history.js';
import { functionSummaries, historySeries, quantileFromBuckets, SampleRing, takeSnapshot, type MetricFamily, type Snapshot } from '../../src/metrics/history.js';
import { createInvocationMetrics } from '../../src/metrics/invocations.js';
import { createQueueMetrics } from '../../src/metrics/queue.js';
import { createRegistry } from '../../src/metrics/registry.js';

const buckets = (entries: Array<[number, number]>) => new Map(entries);

describe('quantiles from histogram buckets', () => {
  it.each([
    { name: 'nothing observed', before: [], after: [[0.1, 0], [1, 0], [Infinity, 0]], q: 0.5, want: null },
    // 10 in (0, 0.1]: the median is halfway into the first bucket.
    { name: 'one bucket', before: [], after: [[0.1, 10], [1, 10], [Infinity, 10]], q: 0.5, want: 0.05 },
    // 10 in (0.1, 1]: p50 at rank 5 of 10 -> 0.1 + 0.9 * 0.5.
    { name: 'second bucket', before: [], after: [[0.1, 0], [1, 10], [Infinity, 10]], q: 0.5, want: 0.55 },
    // The interval's own observations only: 10 before in the first bucket are left out.
    { name: 'differences', before: [[0.1, 10], [1, 10], [Infinity, 10]], after: [[0.1, 10], [1, 20], [Infinity, 20]], q: 0.99, want: 0.1 + 0.9 * 0.99 },
    { name: 'in +Inf: the highest finite bound', before: [], after: [[0.1, 0], [1, 0], [Infinity, 4]], q: 0.5, want: 1 },
  ] as Array<{ name: string; before: Array<[number, number]>; after: Array<[number, number]>; q: number; want: number | null }>)('$name', ({ before, after, q, want }) => {
    const got = quantileFromBuckets(buckets(before), buckets(after), q);
    if (want === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(want, 9);
  });
});

const fam = (name: string, values: MetricFamily['values']): MetricFamily => ({ name, values });

describe('snapshots and series', () => {
  const families = (invocations: number, errors: number, fast: number, slow: number, instances: number, lag: number): MetricFamily[] => [
    fam('hearth_invocations_total', [
      { labels: { function: 'a', version: '$LATEST', type: 'sync', outcome: 'success' }, value: invocations - errors },
      { labels: { function: 'a', version: '1', type: 'async', outcome: 'unhandled' }, value: errors },
      { labels: { function: 'b', version: '$LATEST', type: 'sync', outcome: 'success' }, value: 1 },
    ]),
    fam('hearth_throttles_total', [{ labels: { function: 'a', version: '$LATEST', reason: 'x' }, value: errors }]),
    fam('hearth_cold_starts_total', [{ labels: { function: 'a', version: '$LATEST' }, value: instances }]),
    fam('hearth_invocation_duration_seconds', [
      { metricName: 'hearth_invocation_duration_seconds_bucket', labels: { function: 'a', le: 0.01 }, value: fast },
      { metricName: 'hearth_invocation_duration_seconds_bucket', labels: { function: 'a', le: 1 }, value: fast + slow },
      { metricName: 'hearth_invocation_duration_seconds_bucket', labels: { function: 'a', le: '+Inf' }, value: fast + slow },
      { metricName: 'hearth_invocation_duration_seconds_sum', labels: { function: 'a' }, value: 99 },
      { metricName: 'hearth_invocation_duration_seconds_count', labels: { function: 'a' }, value: fast + slow },
    ]),
    fam('hearth_instances', [
      { labels: { function: 'a', version: '$LATEST', state: 'ready' }, value: instances },
      { labels: { function: 'a', version: '$LATEST', state: 'failed' }, value: 5 },
    ]),
    fam('hearth_queue_lag', [{ labels: { function: 'a' }, value: lag }]),
    fam('hearth_queue_delayed', [{ labels: { function: 'a' }, value: 1 }]),
    fam('hearth_queue_dead_letters', [{ labels: { function: 'a' }, value: 2 }]),
    // Families that name no function are not any function's.
    fam('hearth_process_cpu_seconds_total', [{ labels: {}, value: 3 }]),
  ];

  it('a snapshot sums a function\'s versions and types; errors are handled and unhandled outcomes; failed instances do not count', () => {
    const s = takeSnapshot(families(10, 3, 4, 6, 2, 7), 1_000);
    const a = s.functions.get('a');
    expect(a).toMatchObject({ invocations: 10, errors: 3, throttles: 3, coldStarts: 2, instances: 2, queueDepth: 8, deadLetters: 2 });
    expect([...(a?.durationBuckets ?? [])]).toEqual([[0.01, 4], [1, 10], [Infinity, 10]]);
    expect(s.functions.get('b')?.invocations).toBe(1);
    expect([...s.functions.keys()].sort()).toEqual(['a', 'b']);
  });

  it('series are counts per interval at its end, quantiles in ms per interval, gauges as sampled; a reset counts from zero', () => {
    const samples: Snapshot[] = [
      takeSnapshot(families(10, 3, 4, 6, 2, 7), 10_000),
      takeSnapshot(families(10, 3, 4, 6, 2, 7), 20_000),
      takeSnapshot(families(30, 4, 24, 6, 3, 0), 30_000),
      // The function was removed and made again: totals start over.
      takeSnapshot(families(2, 0, 0, 2, 1, 0), 34_000),
    ];
    const s = historySeries(samples, 'a');
    expect(s.t).toEqual([20, 30, 34]);
    expect(s.invocations).toEqual([0, 20, 2]);
    expect(s.errors).toEqual([0, 1, 0]);
    expect(s.throttles).toEqual([0, 1, 0]);
    expect(s.coldStarts).toEqual([0, 1, 1]);
    expect(s.durationP50).toEqual([null, 5, 505]);
    expect(s.instances).toEqual([2, 3, 1]);
    expect(s.queueDepth).toEqual([8, 1, 1]);
    expect(s.deadLetters).toEqual([2, 2, 2]);
    // Every function summed: b's one invocation is in every snapshot, so adds nothing after the first.
    expect(historySeries(samples).invocations).toEqual([0, 20, 2]);
    expect(historySeries(samples, 'nobody').invocations).toEqual([0, 0, 0]);
  });

  it('summaries: instances now, and counts over the samples kept', () => {
    const samples = [takeSnapshot(families(10, 3, 4, 6, 2, 7), 0), takeSnapshot(families(30, 4, 24, 6, 3, 0), 10_000)];
    expect(functionSummaries(samples).a).toEqual({ instances: 3, invocations: 20, errors: 1, throttles: 1, deadLetters: 2 });
    expect(functionSummaries([])).toEqual({});
  });

  it('the ring keeps the newest samples up to its capacity', () => {
    const ring = new SampleRing(3);
    for (let i = 0; i < 5; i++) ring.push({ at: i, functions: new Map() });
    expect(ring.list().map((s) => s.at)).toEqual([2, 3, 4]);
  });
});

describe('GET /metrics/history on a real registry', () => {
  it('the newest point covers the time since the last sample: an invocation shows at once', async () => {
    const registry = createRegistry();
    const inv = createInvocationMetrics(registry);
    const queue = createQueueMetrics(registry);
    const app = Fastify();
    let clock = 1_000_000;
    await app.register(metricsHistory, { registry, now: () => clock, intervalMs: 3_600_000 });
    clock += 4_000;
    inv.invocations.inc({ function: 'hello', version: '$LATEST', type: 'sync', outcome: 'success' });
    inv.invocations.inc({ function: 'hello', version: '$LATEST', type: 'sync', outcome: 'handled' });
    inv.duration.observe({ function: 'hello', version: '$LATEST', type: 'sync' }, 0.02);
    queue.lag.set({ function: 'hello' }, 3);
    const one = await app.inject({ url: '/metrics/history?function=hello' });
    expect(one.statusCode).toBe(200);
    expect(one.headers['cache-control']).toBe('no-store');
    const body = one.json<{ t: number[]; invocations: number[]; errors: number[]; durationP50: number[]; queueDepth: number[]; function: string }>();
    expect(body).toMatchObject({ function: 'hello', t: [1004], invocations: [2], errors: [1], queueDepth: [3] });
    expect(body.durationP50[0]).toBeGreaterThan(10);
    expect(body.durationP50[0]).toBeLessThanOrEqual(25);
    const all = (await app.inject({ url: '/metrics/history' })).json<{ functions: Record<string, { invocations: number; errors: number }> }>();
    expect(all.functions.hello).toMatchObject({ invocations: 2, errors: 1 });
    expect((await app.inject({ url: '/metrics/history?function=Not_A_Name' })).statusCode).toBe(400);
    await app.close();
  });
});
