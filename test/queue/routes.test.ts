// The records and dead-letter routes, and `hearth dlq` against them over HTTP.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { dlqCommand } from '../../src/cli/dlq.js';
import dlqRoutes from '../../src/gateway/plugins/dlq.js';
import recordRoutes from '../../src/gateway/plugins/records.js';
import { createQueue } from '../../src/queue/index.js';
import { QueueUnavailableError, type Consumer, type Queue } from '../../src/queue/queue.js';
import { fail, fnDef, ScriptedInvoker, waitFor } from './support.js';

let app: FastifyInstance;
let queue: Queue;
let consumer: Consumer;
let url: string;
const invoker = new ScriptedInvoker();

beforeAll(async () => {
  queue = createQueue({ timeScale: 0.0001 });
  const catalog = new MemoryCatalog();
  catalog.set(fnDef('sad', { async: { maxRetries: 0 } }));
  invoker.on('sad', () => fail('sad path'));
  consumer = queue.startConsumer({ invoker, catalog, blockMs: 20, maintenanceIntervalMs: 20 });
  app = Fastify();
  await app.register(recordRoutes, { queue });
  await app.register(dlqRoutes, { queue });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await consumer?.stop();
  await app?.close();
  await queue?.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

function captureConsole() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err };
}

describe('GET /invocations/:requestId', () => {
  it('answers 404 in Lambda\'s error shape for an unknown id', async () => {
    const res = await app.inject({ method: 'GET', url: '/invocations/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
    expect(res.json()).toEqual({ Type: 'User', message: 'Invocation not found: nope' });
  });

  it('shows the record of an event through to its end', async () => {
    const { requestId } = await queue.enqueue({ functionName: 'sad', payload: Buffer.from('{"q":1}') });
    await waitFor('dead-lettered', async () => (await queue.record(requestId))?.status === 'dead-lettered');
    const res = await app.inject({ method: 'GET', url: `/invocations/${requestId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ requestId, functionName: 'sad', status: 'dead-lettered', attempts: 1, condition: 'RetriesExhausted' });
  });

  it('answers 503 with Retry-After while the queue is unavailable', async () => {
    const down = Fastify();
    await down.register(recordRoutes, {
      queue: {
        record: async () => {
          throw new QueueUnavailableError('redis is not reachable', 2);
        },
      },
    });
    const res = await down.inject({ method: 'GET', url: '/invocations/x' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.headers['x-amzn-errortype']).toBe('ServiceException');
    expect(res.json()).toMatchObject({ Type: 'Service' });
    await down.close();
  });
});

describe('dead-letter routes and hearth dlq', () => {
  it('rejects a malformed function name and limit', async () => {
    const bad = await app.inject({ method: 'GET', url: '/dlq/Not_A_Name' });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['x-amzn-errortype']).toBe('InvalidParameterValueException');
    expect((await app.inject({ method: 'GET', url: '/dlq/sad?limit=0' })).statusCode).toBe(400);
  });

  it('lists and redrives over HTTP', async () => {
    const before = (await queue.listDeadLetters('sad')).length;
    const ids = await Promise.all([1, 2].map((n) => queue.enqueue({ functionName: 'sad', payload: Buffer.from(`{"n":${n}}`) })));
    await waitFor('dead letters', async () => (await queue.listDeadLetters('sad')).length === before + 2);

    const listed = await app.inject({ method: 'GET', url: '/dlq/sad?limit=1000' });
    expect(listed.statusCode).toBe(200);
    const body = listed.json<{ deadLetters: Array<{ requestId: string; record: { requestContext: { condition: string } } }> }>();
    expect(body.deadLetters.map((d) => d.requestId)).toEqual(expect.arrayContaining(ids.map((i) => i.requestId)));
    expect(body.deadLetters[0]?.record.requestContext.condition).toBe('RetriesExhausted');

    let c = captureConsole();
    expect(await dlqCommand(['list', 'sad', '--url', url])).toBe(0);
    const text = c.out.join('\n');
    expect(text).toContain('REQUEST ID');
    for (const { requestId } of ids) expect(text).toContain(requestId);
    expect(text).toContain('sad path');
    vi.restoreAllMocks();

    c = captureConsole();
    expect(await dlqCommand(['list', 'sad', '--json', '--limit', '1', '--url', url])).toBe(0);
    expect((JSON.parse(c.out.join('')) as { deadLetters: unknown[] }).deadLetters).toHaveLength(1);
    vi.restoreAllMocks();

    const runs = invoker.callsFor('sad').length;
    c = captureConsole();
    expect(await dlqCommand(['redrive', 'sad', '--url', url])).toBe(0);
    expect(c.out.join('')).toBe(`redrove ${before + 2} events of sad`);
    vi.restoreAllMocks();
    // They fail again (the function still fails) and come back to the dead-letter stream.
    await waitFor('ran again', () => invoker.callsFor('sad').length === runs + before + 2);
  });

  it('reports usage errors and gateway errors with exit codes', async () => {
    const c = captureConsole();
    expect(await dlqCommand([])).toBe(2);
    expect(await dlqCommand(['purge', 'sad'])).toBe(2);
    expect(await dlqCommand(['list', 'sad', '--limit', 'x'])).toBe(2);
    expect(await dlqCommand(['list', 'Bad_Name', '--url', url])).toBe(1);
    expect(c.err.join('\n')).toContain('InvalidParameterValueException (400)');
    expect(await dlqCommand(['--help'])).toBe(0);
  });
});
