// The behaviour every Queue implementation must show. Run by
// memory.contract.test.ts and redis.contract.test.ts.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { DispatchError } from '../../src/dispatch/invoker.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { createQueueMetrics } from '../../src/metrics/queue.js';
import type { Consumer, ConsumerOptions, Queue } from '../../src/queue/queue.js';
import { StoreQueue, type QueueOptions } from '../../src/queue/store-queue.js';
import { fail, fnDef, ok, ScriptedInvoker, sleep, waitFor } from './support.js';

export type QueueFactory = (opts: QueueOptions) => Promise<Queue>;

/** Scales Lambda's 1 and 2 minute retry delays to 30 and 60 ms, and 1 s backoff to 0.5 ms. */
const TIME_SCALE = 0.0005;

export function queueContract(label: string, makeQueue: QueueFactory, streamName: (s: string) => string = (s) => s): void {
  describe(`Queue contract: ${label}`, () => {
    const open: Array<{ queue: Queue; consumers: Consumer[] }> = [];

    afterEach(async () => {
      for (const o of open.splice(0)) {
        await Promise.all(o.consumers.map((c) => c.stop()));
        await o.queue.close();
      }
    });

    async function setup(qopts: QueueOptions = {}) {
      const queue = await makeQueue({ timeScale: TIME_SCALE, ...qopts });
      const catalog = new MemoryCatalog();
      const invoker = new ScriptedInvoker();
      const entry = { queue, consumers: [] as Consumer[] };
      open.push(entry);
      const consume = (o: Partial<ConsumerOptions> = {}): Consumer => {
        const c = queue.startConsumer({ invoker, catalog, blockMs: 50, maintenanceIntervalMs: 20, visibilityTimeoutMs: () => 5_000, ...o });
        entry.consumers.push(c);
        return c;
      };
      return { queue, catalog, invoker, consume };
    }

    it('never lets a late view of a record (running, handed back) bury its result', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      if (!(queue instanceof StoreQueue)) throw new Error('the contract runs on StoreQueue');
      catalog.set(fnDef('late'));
      invoker.on('late', () => ok({ done: true }));
      const { requestId } = await queue.enqueue({ functionName: 'late', payload: Buffer.from('{}') });
      const queued = await queue.record(requestId);
      if (queued === undefined) throw new Error('no record');
      // Over a record not yet finished, a view applies.
      await queue.store.putRecord({ ...queued, status: 'running' }, 60_000, 'unfinished');
      expect((await queue.record(requestId))?.status).toBe('running');
      consume();
      await waitFor('success', async () => (await queue.record(requestId))?.status === 'succeeded');
      // The 'running' write of this run, arriving only now (resent after a reconnect), is dropped.
      await queue.store.putRecord({ ...queued, status: 'running' }, 60_000, 'unfinished');
      await queue.store.putRecord({ ...queued, status: 'queued' }, 60_000, 'unfinished');
      expect(await queue.record(requestId)).toMatchObject({ status: 'succeeded', result: { payload: '{"done":true}' } });
      // The enqueue's own first record never replaces one; a plain write always does.
      await queue.store.putRecord({ ...queued, status: 'queued' }, 60_000, 'absent');
      expect((await queue.record(requestId))?.status).toBe('succeeded');
      await queue.store.putRecord({ ...queued, status: 'queued' }, 60_000);
      expect((await queue.record(requestId))?.status).toBe('queued');
    });

    it('runs an event once, as an async invocation, and records its success', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('hello'));
      invoker.on('hello', () => ok({ hi: 1 }));
      const { requestId, duplicate } = await queue.enqueue({ functionName: 'hello', payload: Buffer.from('{"a":1}'), traceId: 'Root=1-abc' });
      expect(duplicate).toBe(false);
      expect((await queue.record(requestId))?.status).toBe('queued');
      consume();
      const rec = await waitFor('success', async () => ((await queue.record(requestId))?.status === 'succeeded' ? queue.record(requestId) : undefined));
      expect(rec).toMatchObject({ requestId, functionName: 'hello', status: 'succeeded', attempts: 1, condition: 'Success', result: { statusCode: 200, payload: '{"hi":1}' } });
      expect(rec?.startedAt).toBeDefined();
      expect(rec?.finishedAt).toBeDefined();
      expect(invoker.calls).toHaveLength(1);
      expect(invoker.calls[0]).toMatchObject({ functionName: 'hello', requestId, type: 'async', traceId: 'Root=1-abc' });
      expect(invoker.calls[0]?.payload.toString()).toBe('{"a":1}');
      await waitFor('empty backlog', async () => {
        const b = await queue.backlog('hello');
        return b.pending === 0 && b.lag === 0;
      });
    });

    it('keeps the request id the caller gives and makes one when none is given', async () => {
      const { queue } = await setup();
      expect((await queue.enqueue({ functionName: 'f', payload: Buffer.from('{}'), requestId: 'req-1' })).requestId).toBe('req-1');
      expect((await queue.enqueue({ functionName: 'f', payload: Buffer.from('{}') })).requestId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers unknown request ids with undefined', async () => {
      const { queue } = await setup();
      expect(await queue.record('no-such-request')).toBeUndefined();
    });

    it('deduplicates enqueues that carry the same idempotency key', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('idem'));
      const a = await queue.enqueue({ functionName: 'idem', payload: Buffer.from('1'), idempotencyKey: 'k1' });
      const b = await queue.enqueue({ functionName: 'idem', payload: Buffer.from('2'), idempotencyKey: 'k1' });
      const c = await queue.enqueue({ functionName: 'idem', payload: Buffer.from('3'), idempotencyKey: 'k2' });
      expect(b).toEqual({ requestId: a.requestId, duplicate: true });
      expect(c.duplicate).toBe(false);
      expect(c.requestId).not.toBe(a.requestId);
      consume();
      await waitFor('both ran', () => invoker.calls.length === 2);
      await sleep(100);
      expect(invoker.calls.map((x) => x.payload.toString()).sort()).toEqual(['1', '3']);
    });

    it('lets an idempotency key be used again after its window', async () => {
      const { queue } = await setup({ idempotencyWindowMs: 50 });
      const a = await queue.enqueue({ functionName: 'win', payload: Buffer.from('1'), idempotencyKey: 'k' });
      await sleep(120);
      const b = await queue.enqueue({ functionName: 'win', payload: Buffer.from('1'), idempotencyKey: 'k' });
      expect(b.duplicate).toBe(false);
      expect(b.requestId).not.toBe(a.requestId);
    });

    it('runs a function that always fails 1 + maxRetries times, then dead-letters it with Lambda\'s record', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('broken', { async: { maxRetries: 2 } }));
      invoker.on('broken', () => fail('always'));
      const { requestId } = await queue.enqueue({ functionName: 'broken', payload: Buffer.from('{"order":42}') });
      consume();
      const [dl] = await waitFor('dead letter', async () => {
        const l = await queue.listDeadLetters('broken');
        return l.length > 0 ? l : undefined;
      });
      await sleep(150);
      expect(invoker.callsFor('broken')).toHaveLength(3);
      expect((await queue.listDeadLetters('broken'))).toHaveLength(1);
      expect(dl?.requestId).toBe(requestId);
      expect(dl?.record).toMatchObject({
        version: '1.0',
        requestContext: { requestId, functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:broken:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: { order: 42 },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: { errorMessage: 'always', errorType: 'Error' },
      });
      expect(Date.parse(dl?.record.timestamp ?? '')).not.toBeNaN();
      const rec = await queue.record(requestId);
      expect(rec).toMatchObject({ status: 'dead-lettered', attempts: 3, condition: 'RetriesExhausted', result: { functionError: 'Unhandled' } });
    });

    it('waits Lambda\'s (scaled) 1 and 2 minutes between function-error retries', async () => {
      const { queue, catalog, invoker, consume } = await setup({ timeScale: 0.005 });
      catalog.set(fnDef('slowretry', { async: { maxRetries: 2 } }));
      const at: number[] = [];
      invoker.on('slowretry', () => {
        at.push(Date.now());
        return fail();
      });
      await queue.enqueue({ functionName: 'slowretry', payload: Buffer.from('{}') });
      consume();
      await waitFor('three runs', () => at.length === 3);
      // 300 ms and 600 ms at this scale; the mover runs every 20 ms.
      expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(290);
      expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(590);
    });

    it('runs once with maxRetries 0', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('once', { async: { maxRetries: 0 } }));
      invoker.on('once', () => fail());
      await queue.enqueue({ functionName: 'once', payload: Buffer.from('{}') });
      consume();
      await waitFor('dead letter', async () => (await queue.listDeadLetters('once')).length === 1);
      await sleep(100);
      expect(invoker.callsFor('once')).toHaveLength(1);
    });

    it('dead-letters an event older than maxEventAgeSeconds without running it', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('stale', { async: { maxEventAgeSeconds: 60 } }));
      const { requestId } = await queue.enqueue({ functionName: 'stale', payload: Buffer.from('{"x":1}') });
      const later = { now: () => Date.now() + 61_000 };
      consume({ clock: later });
      const [dl] = await waitFor('dead letter', async () => {
        const l = await queue.listDeadLetters('stale');
        return l.length > 0 ? l : undefined;
      });
      expect(invoker.calls).toHaveLength(0);
      expect(dl?.record.requestContext).toMatchObject({ requestId, condition: 'EventAgeExceeded', approximateInvokeCount: 0 });
      expect(dl?.record.requestPayload).toEqual({ x: 1 });
      expect(dl?.record.responseContext).toBeUndefined();
      expect((await queue.record(requestId))?.status).toBe('dead-lettered');
    });

    it('retries throttles with backoff and then succeeds', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('busy', { async: { maxRetries: 0 } }));
      invoker.on('busy', (_inv, n) => {
        if (n <= 3) throw new DispatchError('throttled', 'Rate Exceeded.', 'ReservedFunctionConcurrentInvocationLimitExceeded');
        return ok();
      });
      const { requestId } = await queue.enqueue({ functionName: 'busy', payload: Buffer.from('{}') });
      consume();
      const rec = await waitFor('success', async () => ((await queue.record(requestId))?.status === 'succeeded' ? queue.record(requestId) : undefined));
      // Throttles do not count against maxRetries (0 here), and are not runs.
      expect(rec).toMatchObject({ attempts: 1, systemErrors: 3 });
      expect(invoker.callsFor('busy')).toHaveLength(4);
    });

    it('gives up a throttled event once it passes its maximum age', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('jammed', { async: { maxEventAgeSeconds: 60 } }));
      let offset = 0;
      invoker.on('jammed', () => {
        offset = 61_000;
        throw new DispatchError('unavailable', 'no capacity');
      });
      const { requestId } = await queue.enqueue({ functionName: 'jammed', payload: Buffer.from('{}') });
      consume({ clock: { now: () => Date.now() + offset } });
      const [dl] = await waitFor('dead letter', async () => {
        const l = await queue.listDeadLetters('jammed');
        return l.length > 0 ? l : undefined;
      });
      expect(invoker.callsFor('jammed')).toHaveLength(1);
      expect(dl?.record.requestContext).toMatchObject({ requestId, condition: 'EventAgeExceeded', approximateInvokeCount: 0 });
      expect((await queue.record(requestId))?.lastError).toBe('no capacity');
    });

    it('dead-letters at once when the dispatcher says the function does not exist', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('ghost'));
      invoker.on('ghost', () => {
        throw new DispatchError('not-found', 'Function not found');
      });
      await queue.enqueue({ functionName: 'ghost', payload: Buffer.from('{}') });
      consume();
      await waitFor('dead letter', async () => (await queue.listDeadLetters('ghost')).length === 1);
      expect(invoker.callsFor('ghost')).toHaveLength(1);
    });

    it('sends success records to a stream destination and failure records to a function destination', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      const stream = streamName('ok-records');
      catalog.set(fnDef('good', { async: { onSuccess: { stream } } }));
      catalog.set(fnDef('bad', { async: { maxRetries: 0, onFailure: { function: 'failures' } } }));
      catalog.set(fnDef('failures'));
      invoker.on('good', () => ok({ done: true })).on('bad', () => fail('nope'));
      const good = await queue.enqueue({ functionName: 'good', payload: Buffer.from('{"n":1}') });
      const bad = await queue.enqueue({ functionName: 'bad', payload: Buffer.from('{"n":2}') });
      consume();
      const [entry] = await waitFor('stream record', async () => {
        const l = await queue.readStream(stream);
        return l.length > 0 ? l : undefined;
      });
      expect(entry?.record).toMatchObject({
        requestContext: { requestId: good.requestId, condition: 'Success', approximateInvokeCount: 1 },
        requestPayload: { n: 1 },
        responseContext: { statusCode: 200, executedVersion: '$LATEST' },
        responsePayload: { done: true },
      });
      expect(entry?.record.responseContext?.functionError).toBeUndefined();
      const [call] = await waitFor('failure record delivered', () => (invoker.callsFor('failures').length > 0 ? invoker.callsFor('failures') : undefined));
      expect(JSON.parse(call?.payload.toString() ?? '{}')).toMatchObject({
        requestContext: { requestId: bad.requestId, condition: 'RetriesExhausted', approximateInvokeCount: 1 },
        responseContext: { functionError: 'Unhandled' },
        responsePayload: { errorMessage: 'nope' },
      });
    });

    it('POSTs records to a URL destination, and counts a delivery that fails', async () => {
      const bodies: unknown[] = [];
      const server = createServer((req: IncomingMessage, res) => {
        let b = '';
        req.on('data', (c: Buffer) => (b += c.toString()));
        req.on('end', () => {
          bodies.push(JSON.parse(b));
          res.statusCode = req.url === '/refuse' ? 500 : 202;
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const registry = createRegistry({ defaultMetrics: false });
        const metrics = createQueueMetrics(registry);
        const { queue, catalog, consume } = await setup({ metrics });
        catalog.set(fnDef('hooked', { async: { onSuccess: { url: `${base}/ok` } } }));
        catalog.set(fnDef('refused', { async: { onSuccess: { url: `${base}/refuse` } } }));
        const { requestId } = await queue.enqueue({ functionName: 'hooked', payload: Buffer.from('{"h":1}') });
        const refused = await queue.enqueue({ functionName: 'refused', payload: Buffer.from('{}') });
        consume();
        await waitFor('POST', () => bodies.some((b) => (b as { requestContext?: { requestId?: string } }).requestContext?.requestId === requestId));
        // The event's own success stands even though its destination refused the record.
        await waitFor('refused recorded', async () => (await queue.record(refused.requestId))?.status === 'succeeded');
        const failures = await registry.getSingleMetric('hearth_queue_destination_failures_total')?.get();
        expect(failures?.values.find((v) => v.labels.function === 'refused')?.value).toBe(1);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    it('without a dead-letter queue, records the event as failed and still sends the failure record', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      const stream = streamName('failed-records');
      catalog.set(fnDef('nodlq', { async: { maxRetries: 0, deadLetterQueue: { enabled: false }, onFailure: { stream } } }));
      invoker.on('nodlq', () => fail());
      const { requestId } = await queue.enqueue({ functionName: 'nodlq', payload: Buffer.from('{}') });
      consume();
      await waitFor('failed', async () => (await queue.record(requestId))?.status === 'failed');
      expect(await queue.listDeadLetters('nodlq')).toHaveLength(0);
      expect(await queue.readStream(stream)).toHaveLength(1);
    });

    it('redrives dead letters as fresh events', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('flaky', { async: { maxRetries: 0 } }));
      let healthy = false;
      invoker.on('flaky', () => (healthy ? ok() : fail()));
      const ids = await Promise.all([1, 2, 3].map((n) => queue.enqueue({ functionName: 'flaky', payload: Buffer.from(String(n)) })));
      consume();
      await waitFor('three dead letters', async () => (await queue.listDeadLetters('flaky')).length === 3);
      expect(await queue.listDeadLetters('flaky', { limit: 2 })).toHaveLength(2);
      healthy = true;
      const r = await queue.redrive('flaky');
      expect(r.redriven).toBe(3);
      expect(r.requestIds.sort()).toEqual(ids.map((i) => i.requestId).sort());
      expect(await queue.listDeadLetters('flaky')).toHaveLength(0);
      for (const { requestId } of ids) await waitFor('redriven success', async () => (await queue.record(requestId))?.status === 'succeeded');
      expect(invoker.callsFor('flaky')).toHaveLength(6);
      // A redriven event is a fresh one: its runs count from zero again.
      for (const { requestId } of ids) expect((await queue.record(requestId))?.attempts).toBe(1);
      expect((await queue.redrive('flaky')).redriven).toBe(0);
    });

    it('keeps the qualifier with the event through retries, the dead letter and redrive, and records the version that ran', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('pinned', { async: { maxRetries: 1 } }));
      let healthy = false;
      // The dispatcher reports the version an alias sent a call to; here the alias runs version 2.
      invoker.on('pinned', (inv) => ({ ...(healthy ? ok({ v: inv.qualifier }) : fail('v2 broke')), executedVersion: inv.qualifier === 'live' ? '2' : '$LATEST' }));
      const { requestId } = await queue.enqueue({ functionName: 'pinned', qualifier: 'live', payload: Buffer.from('{"n":1}') });
      const plain = await queue.enqueue({ functionName: 'pinned', payload: Buffer.from('{"n":2}') });
      expect(await queue.record(requestId)).toMatchObject({ status: 'queued', qualifier: 'live' });
      expect(await queue.record(plain.requestId)).not.toHaveProperty('qualifier');
      consume();
      const [dl] = await waitFor('dead letter', async () => {
        const l = (await queue.listDeadLetters('pinned')).filter((x) => x.requestId === requestId);
        return l.length > 0 ? l : undefined;
      });
      // The first run and its retry both named the alias.
      expect(invoker.calls.filter((c) => c.requestId === requestId).map((c) => c.qualifier)).toEqual(['live', 'live']);
      expect(invoker.calls.filter((c) => c.requestId === plain.requestId).every((c) => c.qualifier === undefined)).toBe(true);
      // Lambda's record: the ARN the event was invoked as, and the version that ran.
      expect(dl?.record).toMatchObject({
        requestContext: { requestId, functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:pinned:live', condition: 'RetriesExhausted', approximateInvokeCount: 2 },
        responseContext: { statusCode: 200, executedVersion: '2', functionError: 'Unhandled' },
      });
      expect(await queue.record(requestId)).toMatchObject({ status: 'dead-lettered', qualifier: 'live', executedVersion: '2' });
      await waitFor('the unqualified one dead-lettered', async () => (await queue.record(plain.requestId))?.status === 'dead-lettered');
      const plainDl = (await queue.listDeadLetters('pinned')).find((x) => x.requestId === plain.requestId);
      expect(plainDl?.record.requestContext.functionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:pinned:$LATEST');

      healthy = true;
      expect((await queue.redrive('pinned')).redriven).toBe(2);
      expect(await queue.record(requestId)).toMatchObject({ qualifier: 'live' });
      const rec = await waitFor('redriven success', async () => ((await queue.record(requestId))?.status === 'succeeded' ? queue.record(requestId) : undefined));
      expect(rec).toMatchObject({ status: 'succeeded', qualifier: 'live', executedVersion: '2', attempts: 1, result: { payload: '{"v":"live"}' } });
      expect(invoker.calls.filter((c) => c.requestId === requestId).map((c) => c.qualifier)).toEqual(['live', 'live', 'live']);
      const plainRec = await waitFor('redriven plain success', async () => ((await queue.record(plain.requestId))?.status === 'succeeded' ? queue.record(plain.requestId) : undefined));
      expect(plainRec).toMatchObject({ executedVersion: '$LATEST' });
      expect(plainRec).not.toHaveProperty('qualifier');
    });

    it('reclaims the entries of a consumer that stopped acknowledging', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      if (!(queue instanceof StoreQueue)) throw new Error('contract needs a StoreQueue');
      catalog.set(fnDef('orphan'));
      for (let i = 0; i < 5; i++) await queue.enqueue({ functionName: 'orphan', payload: Buffer.from(String(i)) });
      await queue.store.prepare('orphan');
      // A consumer that read and died: its entries are pending under its name.
      const taken = await queue.store.read('orphan', 'dead-consumer', 10, 0);
      expect(taken).toHaveLength(5);
      expect((await queue.backlog('orphan')).pending).toBe(5);
      consume({ visibilityTimeoutMs: () => 200 });
      await waitFor('all reclaimed and run', () => invoker.callsFor('orphan').length === 5);
      await waitFor('acked', async () => (await queue.backlog('orphan')).pending === 0);
      expect(invoker.callsFor('orphan').map((c) => c.payload.toString()).sort()).toEqual(['0', '1', '2', '3', '4']);
    });

    it('hands back the events a stopping consumer has not sent to an instance; another consumer runs them at once, each event once', async () => {
      const { queue, catalog, consume } = await setup();
      catalog.set(fnDef('handoff', { scaling: { maxInstances: 4 } }));
      const ran: string[] = [];
      // The stopping gateway: two of its four events are on instances, two wait for one (a cold start) until told to give up.
      const leaving = new ScriptedInvoker().on('handoff', async (inv, n) => {
        if (n <= 2) {
          inv.onDispatch?.();
          ran.push(inv.requestId);
          await sleep(300);
          return ok();
        }
        return new Promise((_resolve, reject) => inv.signal?.addEventListener('abort', () => reject(inv.signal?.reason as Error)));
      });
      const staying = new ScriptedInvoker().on('handoff', (inv) => {
        inv.onDispatch?.();
        ran.push(inv.requestId);
        return ok();
      });
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue({ functionName: 'handoff', payload: Buffer.from(String(i)) })));
      // A visibility timeout far beyond this test: only a hand-back lets the other consumer take an entry.
      const first = consume({ invoker: leaving, visibilityTimeoutMs: () => 600_000, handBackOnStop: true });
      await waitFor('four events taken', () => leaving.calls.length === 4);
      consume({ invoker: staying, visibilityTimeoutMs: () => 600_000 });
      await waitFor('the other two run elsewhere', () => staying.calls.length === 2);
      await first.stop();
      // The two that were running finished and were settled by the stopping consumer before its stop returned.
      for (const c of leaving.calls.slice(0, 2)) expect((await queue.record(c.requestId))?.status).toBe('succeeded');
      await waitFor('the handed-back two run', () => staying.calls.length === 4, 5_000);
      const records = await Promise.all(ids.map(({ requestId }) => waitFor('success', async () => ((await queue.record(requestId))?.status === 'succeeded' ? queue.record(requestId) : undefined))));
      expect(records.map((r) => r?.attempts)).toEqual([1, 1, 1, 1, 1, 1]);
      expect([...ran].sort()).toEqual(ids.map((i) => i.requestId).sort());
      await waitFor('acked', async () => {
        const b = await queue.backlog('handoff');
        return b.pending === 0 && b.lag === 0;
      });
    });

    it('by default hands back only where other processes share the queue; in memory the held events run before stop returns', async () => {
      const { queue, catalog, consume } = await setup();
      catalog.set(fnDef('parting', { scaling: { maxInstances: 2 } }));
      const ran: string[] = [];
      // Each waits 200 ms for an instance, unless given up.
      const invoker = new ScriptedInvoker().on('parting', async (inv) => {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 200);
          inv.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(inv.signal?.reason as Error);
          });
        });
        inv.onDispatch?.();
        ran.push(inv.requestId);
        return ok();
      });
      const ids = (await Promise.all([0, 1].map((i) => queue.enqueue({ functionName: 'parting', payload: Buffer.from(String(i)) })))).map((r) => r.requestId).sort();
      const first = consume({ invoker, visibilityTimeoutMs: () => 600_000 });
      await waitFor('both taken', () => invoker.calls.length === 2);
      await first.stop();
      if (queue.kind === 'memory') {
        expect([...ran].sort()).toEqual(ids);
        for (const id of ids) expect((await queue.record(id))?.status).toBe('succeeded');
        return;
      }
      expect(ran).toEqual([]);
      expect((await queue.backlog('parting')).pending).toBe(2);
      consume({ invoker, visibilityTimeoutMs: () => 600_000 });
      await waitFor('run by the next consumer', () => ran.length === 2, 5_000);
      expect([...ran].sort()).toEqual(ids);
    });

    it('hands back only entries the consumer still holds', async () => {
      const { queue } = await setup();
      if (!(queue instanceof StoreQueue)) throw new Error('contract needs a StoreQueue');
      const store = queue.store;
      await queue.enqueue({ functionName: 'held', qualifier: '3', payload: Buffer.from('{}') });
      await store.prepare('held');
      const [d] = await store.read('held', 'a', 1, 0);
      if (!d) throw new Error('nothing read');
      expect(d.event?.qualifier).toBe('3');
      // Another consumer took it over (a past visibility timeout) before a hands it back: it stays with b.
      expect((await store.reclaim('held', 'b', 0, 10, '0-0')).deliveries.map((x) => x.id)).toEqual([d.id]);
      await store.handBack('held', 'a', [d.id]);
      expect((await store.reclaim('held', 'c', 600_000, 10, '0-0')).deliveries).toEqual([]);
      await store.handBack('held', 'b', [d.id]);
      const [back] = (await store.reclaim('held', 'c', 600_000, 10, '0-0')).deliveries;
      expect(back?.id).toBe(d.id);
      // What was handed back is the same event, qualifier and all.
      expect(back?.event?.qualifier).toBe('3');
    });

    it('counts a run the crashed consumer had started: the event that runs again says attempts 2', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      if (!(queue instanceof StoreQueue)) throw new Error('contract needs a StoreQueue');
      catalog.set(fnDef('twice'));
      const { requestId } = await queue.enqueue({ functionName: 'twice', payload: Buffer.from('{}') });
      await queue.store.prepare('twice');
      // A consumer that sent the event to an instance (and counted the run, as consumers do then) and died.
      const [d] = await queue.store.read('twice', 'dead-consumer', 1, 0);
      if (!d?.event) throw new Error('nothing read');
      expect(await queue.store.countAttempt(d.event, 60_000)).toBe(1);
      consume({ visibilityTimeoutMs: () => 200 });
      const rec = await waitFor('success', async () => ((await queue.record(requestId))?.status === 'succeeded' ? queue.record(requestId) : undefined));
      expect(invoker.callsFor('twice')).toHaveLength(1);
      expect(rec?.attempts).toBe(2);
    });

    it('takes back the count of a send that provably never ran', async () => {
      const { queue } = await setup();
      if (!(queue instanceof StoreQueue)) throw new Error('contract needs a StoreQueue');
      const { requestId } = await queue.enqueue({ functionName: 'refused', payload: Buffer.from('{}') });
      await queue.store.prepare('refused');
      const [d] = await queue.store.read('refused', 'c', 1, 0);
      if (!d?.event) throw new Error(`nothing read for ${requestId}`);
      expect(await queue.store.countAttempt(d.event, 60_000)).toBe(1);
      expect(await queue.store.countAttempt(d.event, 60_000, -1)).toBe(0);
      expect(await queue.store.countAttempt(d.event, 60_000)).toBe(1);
    });

    it('takes no more of a function\'s events at once than the function can run', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('narrow', { concurrency: 1, scaling: { maxInstances: 2 } }));
      invoker.on('narrow', async () => {
        await sleep(20);
        return ok();
      });
      await Promise.all(Array.from({ length: 12 }, (_, i) => queue.enqueue({ functionName: 'narrow', payload: Buffer.from(String(i)) })));
      consume();
      await waitFor('all ran', () => invoker.callsFor('narrow').length === 12);
      expect(invoker.maxRunning.get('narrow')).toBe(2);
    });

    it('reports backlog: lag before consumption, nothing after', async () => {
      const { queue, catalog, consume } = await setup();
      catalog.set(fnDef('backlogged'));
      for (let i = 0; i < 4; i++) await queue.enqueue({ functionName: 'backlogged', payload: Buffer.from('{}') });
      const before = await queue.backlog('backlogged');
      expect(before).toMatchObject({ lag: 4, pending: 0, delayed: 0, deadLettered: 0 });
      expect(before.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
      consume();
      await waitFor('drained', async () => {
        const b = await queue.backlog('backlogged');
        return b.lag === 0 && b.pending === 0 && b.oldestAgeSeconds === 0;
      });
    });

    it('counts retries, dead letters and processed events in its metrics', async () => {
      const registry = createRegistry({ defaultMetrics: false });
      const metrics = createQueueMetrics(registry);
      const { queue, catalog, invoker, consume } = await setup({ metrics });
      catalog.set(fnDef('metered', { async: { maxRetries: 1 } }));
      invoker.on('metered', () => fail());
      await queue.enqueue({ functionName: 'metered', payload: Buffer.from('{}') });
      consume();
      await waitFor('dead letter', async () => (await queue.listDeadLetters('metered')).length === 1);
      const text = await registry.metrics();
      expect(text).toContain('hearth_queue_enqueued_total{function="metered"} 1');
      expect(text).toContain('hearth_queue_retries_total{function="metered",kind="function"} 1');
      expect(text).toContain('hearth_queue_dead_lettered_total{function="metered",condition="RetriesExhausted"} 1');
      await waitFor('gauge', async () => (await registry.metrics()).includes('hearth_queue_dead_letters{function="metered"} 1'));
    });

    it('keeps binary payloads intact', async () => {
      const { queue, catalog, invoker, consume } = await setup();
      catalog.set(fnDef('bytes'));
      const payload = Buffer.from([0, 255, 1, 254, 0x0d, 0x0a, 128]);
      await queue.enqueue({ functionName: 'bytes', payload });
      consume();
      await waitFor('ran', () => invoker.calls.length === 1);
      expect(Buffer.compare(invoker.calls[0]?.payload ?? Buffer.alloc(0), payload)).toBe(0);
    });
  });
}
