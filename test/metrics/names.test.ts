// Every metric Hearth defines passes Prometheus's own lint, whichever process
// registers it: one registry gets every factory of src/metrics and the default
// process metrics, each family one sample (promtool skips families without
// one), and `promtool check metrics` must print nothing. The chart's dashboard
// and alert rules name only metrics that exist, and the dashboard's queries
// parse as PromQL (promtool check rules).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, open, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Summary, type Registry } from 'prom-client';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../src/metrics/agent.js';
import { createAutoscalerMetrics } from '../../src/metrics/autoscaler.js';
import { createConnectionMetrics } from '../../src/metrics/connections.js';
import { createControllerMetrics } from '../../src/metrics/controller.js';
import { familiesWithoutSamples } from '../../src/metrics/exposition.js';
import { createFunctionLogMetrics } from '../../src/metrics/function-logs.js';
import { createInvocationMetrics } from '../../src/metrics/invocations.js';
import { createControllerPoolMetrics, createGatewayPoolMetrics } from '../../src/metrics/pools.js';
import { createMemoryQueueMetrics, createQueueMetrics } from '../../src/metrics/queue.js';
import { createRegistry, DROPPED_DEFAULT_METRICS } from '../../src/metrics/registry.js';
import { createScheduleMetrics } from '../../src/metrics/schedules.js';
import { createSourceMetrics } from '../../src/metrics/sources.js';
import { checkMetrics, promtool } from './promtool.js';

/**
 * Each factory of src/metrics, by name, registering into `r`. Those that read
 * their values when scraped are given something to read.
 */
const FACTORIES: Record<string, (r: Registry) => void> = {
  createAgentMetrics: (r) => void createAgentMetrics(r),
  createAutoscalerMetrics: (r) => void createAutoscalerMetrics(r),
  createConnectionMetrics: (r) => void createConnectionMetrics(r),
  createControllerMetrics: (r) => createControllerMetrics(r).setFunctionStates(() => new Map([['ready', 1]])),
  createFunctionLogMetrics: (r) => void createFunctionLogMetrics(r, () => [{ functionName: 'f', reason: 'cut', bytes: 10 }]),
  createInvocationMetrics: (r) => void createInvocationMetrics(r),
  createGatewayPoolMetrics: (r) => void createGatewayPoolMetrics(r),
  createControllerPoolMetrics: (r) => void createControllerPoolMetrics(r),
  createQueueMetrics: (r) => void createQueueMetrics(r),
  createMemoryQueueMetrics: (r) =>
    createMemoryQueueMetrics(r, () => ({ bytes: 1, records: 1, events: 1, evicted: { record: 1, 'dead-letter': 1 }, refused: 1, bounds: { maxBytes: 2, maxRecords: 2 } })),
  createScheduleMetrics: (r) => void createScheduleMetrics(r),
  createSourceMetrics: (r) => void createSourceMetrics(r),
};

/** One sample in every family that has none yet (labels all "x"); those read when scraped have theirs already. */
async function sampleEach(registry: Registry): Promise<void> {
  const text = await registry.metrics();
  const empty = new Set(familiesWithoutSamples(text));
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: readonly string[] };
    if (!empty.has(name)) continue;
    const labels = Object.fromEntries(labelNames.map((l) => [l, 'x']));
    if (metric instanceof Counter) metric.inc(labels);
    else if (metric instanceof Gauge) metric.set(labels, 1);
    else if (metric instanceof Histogram || metric instanceof Summary) metric.observe(labels, 1);
    else throw new Error(`${name}: a metric type this test cannot fill`);
  }
}

/**
 * Runs `scrape` while a libuv request is in flight, so prom-client's
 * nodejs_active_requests (read from the process at each scrape) has a
 * sample: an open of a FIFO that has no writer yet waits until one comes.
 */
async function withRequestInFlight<T>(scrape: () => Promise<T>): Promise<T> {
  const fifo = join(mkdtempSync(join(tmpdir(), 'hearth-metrics-fifo-')), 'f');
  execFileSync('mkfifo', [fifo]);
  const reading = new Promise<number>((resolve, reject) => open(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
  try {
    return await scrape();
  } finally {
    const writer = openSync(fifo, 'w');
    closeSync(await reading);
    closeSync(writer);
  }
}

async function everyMetric(): Promise<{ registry: Registry; text: string }> {
  const registry = createRegistry();
  for (const register of Object.values(FACTORIES)) register(registry);
  await sampleEach(registry);
  return { registry, text: await withRequestInFlight(() => registry.metrics()) };
}

/** The metric names a PromQL expression or rule file mentions (hearth_*), a histogram's series by its family. */
function hearthNames(text: string): string[] {
  return [...new Set((text.match(/\bhearth_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')))].sort();
}

const DASHBOARD = JSON.parse(readFileSync('charts/hearth/files/dashboard.json', 'utf8')) as { panels: Array<{ title?: string; targets?: Array<{ expr: string }> }> };
const dashboardExprs = DASHBOARD.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? '?', expr: t.expr })));

describe('promtool check metrics over every metric Hearth defines', () => {
  it('covers every metrics factory in src/metrics', () => {
    const defined = readdirSync('src/metrics')
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .flatMap((f) => [...readFileSync(join('src/metrics', f), 'utf8').matchAll(/export function (create\w+Metrics)\b/g)].map((m) => m[1] as string));
    expect(defined.sort()).toEqual(Object.keys(FACTORIES).sort());
  });

  it('finds nothing, with a sample in every family', async () => {
    const { text } = await everyMetric();
    expect(familiesWithoutSamples(text)).toEqual([]);
    const r = await checkMetrics(text);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('still flags the names before the renames (the lint would catch them coming back)', async () => {
    const before = [
      ['hearth_billed_duration_milliseconds_total', 'counter'],
      ['hearth_gb_seconds_total', 'counter'],
      ...DROPPED_DEFAULT_METRICS.map((n) => [`hearth_process_${n}`, 'gauge']),
    ];
    const text = before.map(([name, type]) => `# HELP ${name} x\n# TYPE ${name} ${type}\n${name} 1\n`).join('');
    const r = await checkMetrics(text);
    expect(r.code).not.toBe(0);
    for (const [name] of before) expect(r.output).toContain(name);
  });

  it('registers no gauge ending in _total among the default process metrics', async () => {
    const metrics = await createRegistry().getMetricsAsJSON();
    expect(metrics.filter((m) => String(m.type) === 'gauge' && m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
    // What was dropped is still there, by type: the sum of these is the old total.
    expect(metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['hearth_process_nodejs_active_handles', 'hearth_process_nodejs_active_resources', 'hearth_process_nodejs_active_requests']));
  });
});

describe("the chart's dashboard and alert rules", () => {
  it('name only metrics Hearth defines', async () => {
    const { registry } = await everyMetric();
    const known = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const rules = readFileSync('charts/hearth/templates/monitoring/prometheusrule.yaml', 'utf8');
    const named = hearthNames([...dashboardExprs.map((e) => e.expr), rules].join('\n'));
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });

  it("graph the renamed billing metric, and none of the old names", () => {
    const exprs = dashboardExprs.map((e) => e.expr).join('\n');
    expect(exprs).toContain('hearth_billed_byte_seconds_total');
    expect(exprs).not.toMatch(/hearth_gb_seconds_total|hearth_billed_duration_milliseconds_total|_active_(handles|requests|resources)_total/);
  });

  it("dashboard queries parse as PromQL (promtool check rules, Grafana's variables filled in)", async () => {
    const expr = (e: string): string => e.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', 'hearth-system');
    const file = join(mkdtempSync(join(tmpdir(), 'hearth-dashboard-rules-')), 'rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: dashboardExprs.map((e, i) => ({ record: `hearth:dashboard_${i}`, expr: expr(e.expr) })) }] }));
    const r = await promtool(['check', 'rules', file]);
    expect(r.output).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
    expect(r.code).toBe(0);
  });
});
