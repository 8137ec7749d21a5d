// Per-instance slots (spec.concurrency) hold for an instance however many
// gateways call it: two dispatchers, each keeping its own tally, send to the
// one instance of a function (a real Node.js runtime, which would run calls
// side by side if handed them). Their calls meet in the instance's agent,
// which hands the runtime at most `concurrency` at once and queues the rest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import type { LocalInstance } from '../../src/backends/local/local-instance.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';

const handler = `export const handler = async () => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 200));
  return { start, end: Date.now() };
};
`;

/** The most intervals that cover one moment. */
function maxOverlap(runs: readonly { start: number; end: number }[]): number {
  return Math.max(...runs.map((r) => runs.filter((o) => o.start <= r.start && r.start < o.end).length));
}

describe('instance slots with two gateways', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-slots-'));
  const catalog = new MemoryCatalog();
  let backend: LocalBackend;
  const dispatchers: Dispatcher[] = [];

  beforeAll(() => {
    backend = new LocalBackend({ cacheDir, logger: pino({ level: 'silent' }), warmPoolSize: 0 });
  });
  afterAll(async () => {
    for (const d of dispatchers) d.close();
    await backend?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it.each([1, 2])('never runs more than concurrency=%i calls at once in the one instance', { timeout: 60_000 }, async (concurrency) => {
    const name = `slots-${concurrency}`;
    const fn = FunctionSchema.parse({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'Function',
      metadata: { name },
      spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': handler } }, concurrency, timeoutSeconds: 30, scaling: { maxInstances: 1 } },
    });
    catalog.set(fn);
    await backend.upsert(fn);
    await backend.scale(name, 1);
    const gateways = [new Dispatcher({ catalog, backend }), new Dispatcher({ catalog, backend })];
    dispatchers.push(...gateways);
    const instance = backend.instances(name)[0] as LocalInstance;
    let peakAtAgent = 0;
    const sampler = setInterval(() => (peakAtAgent = Math.max(peakAtAgent, instance.load)), 5);
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => gateways[i % 2]!.invoke({ functionName: name, requestId: `r${i}`, payload: Buffer.from('{}'), type: 'sync' })),
      );
      expect(results.map((r) => r.outcome)).toEqual(Array(8).fill('success'));
      const runs = results.map((r) => JSON.parse(r.payload.toString('utf8')) as { start: number; end: number });
      expect(maxOverlap(runs)).toBe(concurrency);
    } finally {
      clearInterval(sampler);
    }
    // Both gateways filled what they took for free slots: the agent held more than it ran, and queued the rest.
    expect(peakAtAgent).toBeGreaterThan(concurrency);
    expect(peakAtAgent).toBeLessThanOrEqual(2 * concurrency);
    expect(backend.instances(name)).toHaveLength(1);
  });
});
