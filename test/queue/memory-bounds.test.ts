// The in-memory queue's bounds with a real queue and consumer: unfinished
// events are never evicted (new ones are refused instead and nothing accepted
// is lost), finished records go oldest first and say why they are gone; then
// the same through the gateway of an embedded platform (429, 404).
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { createQueue } from '../../src/queue/index.js';
import { QueueFullError, type Queue } from '../../src/queue/queue.js';
import { py, startPlatform } from '../helpers/platform.js';
import { fnDef, ok, ScriptedInvoker, waitFor } from './support.js';
import { get, invokePath, post } from '../faults/support.js';

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(bounds: { maxBytes: number; maxRecords: number }): { queue: Queue; catalog: MemoryCatalog; invoker: ScriptedInvoker; consume: () => void } {
  const queue = createQueue({ memory: bounds });
  const catalog = new MemoryCatalog();
  const invoker = new ScriptedInvoker();
  cleanups.push(() => queue.close());
  const consume = (): void => void queue.startConsumer({ invoker, catalog, blockMs: 50, maintenanceIntervalMs: 20, visibilityTimeoutMs: () => 5_000 });
  return { queue, catalog, invoker, consume };
}

describe('memory queue bounds', () => {
  it('refuses new events while unfinished ones fill it, and runs every event it accepted', async () => {
    const { queue, catalog, invoker, consume } = setup({ maxBytes: 16 * MiB, maxRecords: 5 });
    catalog.set(fnDef('slow'));
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) accepted.push((await queue.enqueue({ functionName: 'slow', payload: Buffer.from(`{"i":${i}}`) })).requestId);
    const refused = await queue.enqueue({ functionName: 'slow', payload: Buffer.from('{}') }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as Error).message).toContain('--queue-max-records 5');
    // By bytes too: 4 MiB each, 16 MiB of unfinished events at most.
    const big = setup({ maxBytes: 16 * MiB, maxRecords: 100 });
    for (let i = 0; i < 3; i++) await big.queue.enqueue({ functionName: 'slow', payload: Buffer.alloc(4 * MiB, 0x20) });
    await expect(big.queue.enqueue({ functionName: 'slow', payload: Buffer.alloc(4 * MiB, 0x20) })).rejects.toThrow(/--queue-max-bytes 16777216/);

    invoker.on('slow', () => ok({ done: true }));
    consume();
    await waitFor('every accepted event succeeded', async () => {
      const recs = await Promise.all(accepted.map((id) => queue.record(id)));
      return recs.every((r) => r?.status === 'succeeded');
    }, 10_000);
    expect(invoker.callsFor('slow')).toHaveLength(5);
    // Finished, they no longer hold room.
    await queue.enqueue({ functionName: 'slow', payload: Buffer.from('{}') });
    expect(queue.memoryStats?.()?.refused).toBe(1);
  });

  it('keeps results within its bytes, evicting the oldest finished records, which then say why they are gone', async () => {
    const { queue, catalog, invoker, consume } = setup({ maxBytes: 16 * MiB, maxRecords: 1000 });
    catalog.set(fnDef('big'));
    invoker.on('big', () => ok('r'.repeat(MiB)));
    consume();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await queue.enqueue({ functionName: 'big', payload: Buffer.from('{}') })).requestId);
    await waitFor('40 events ran', async () => (await queue.record(ids[39] ?? ''))?.status === 'succeeded' && invoker.callsFor('big').length === 40, 20_000);
    const stats = queue.memoryStats?.();
    expect(stats?.bytes).toBeLessThanOrEqual(16 * MiB);
    expect(stats?.evicted.record).toBeGreaterThanOrEqual(40 - 16);
    expect(await queue.record(ids[0] ?? '')).toBeUndefined();
    expect(queue.evictionNote?.(ids[0] ?? '')).toMatch(/^Invocation record evicted: .*at most 1000 records and 16777216 bytes/);
    expect((await queue.record(ids[39] ?? ''))?.result?.payload).toHaveLength(MiB + 2);
    expect(queue.evictionNote?.(ids[39] ?? '')).toBeUndefined();
  });

  it('through the gateway: a full queue answers 429 TooManyRequestsException; an evicted record 404 saying it was evicted', { timeout: 60_000 }, async () => {
    const p = await startPlatform(
      { nap: { ...py('import time\ndef handler(event, context):\n    time.sleep(event.get("s", 0))\n    return "x" * (6 * 1024 * 1024 - 16)\n'), timeoutSeconds: 10 } },
      { memoryQueue: { maxBytes: 16 * MiB, maxRecords: 2 } },
    );
    cleanups.push(() => p.close());
    const event = { 'x-amz-invocation-type': 'Event' };
    const first = await post(p.url, invokePath('nap'), '{"s":0}', event);
    await waitFor('the first event succeeded', async () => JSON.parse((await get(p.url, `/invocations/${String(first.headers['x-amzn-requestid'])}`)).text).status === 'succeeded', 30_000);
    // Two events that sleep fill the record bound; a third is refused.
    expect((await post(p.url, invokePath('nap'), '{"s":2}', event)).status).toBe(202);
    expect((await post(p.url, invokePath('nap'), '{"s":2}', event)).status).toBe(202);
    const full = await post(p.url, invokePath('nap'), '{}', event);
    expect(full.status).toBe(429);
    expect(full.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
    expect(full.headers['retry-after']).toBe('1');
    expect(full.text).toContain('The event queue is full');
    // Each finished 6 MiB result pushes out an older one; the first goes.
    await waitFor('the first record evicted', async () => (await get(p.url, `/invocations/${String(first.headers['x-amzn-requestid'])}`)).status === 404, 30_000);
    const gone = await get(p.url, `/invocations/${String(first.headers['x-amzn-requestid'])}`);
    expect(gone.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
    expect(gone.text).toContain('Invocation record evicted');
    const metrics = (await get(p.url, '/metrics')).text;
    expect(metrics).toMatch(/^hearth_queue_memory_refused_total 1$/m);
    expect(metrics).toMatch(/^hearth_queue_memory_evictions_total\{kind="record"\} [1-9]/m);
    expect(metrics).toMatch(/^hearth_queue_memory_limit_bytes 16777216$/m);
    expect(metrics).toMatch(/^hearth_queue_memory_records [1-9]/m);
    expect(metrics).toMatch(/^hearth_queue_memory_bytes [1-9]/m);
  });
});
