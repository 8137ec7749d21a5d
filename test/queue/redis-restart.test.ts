// Must show: Redis restarted (AOF on) during a run loses no accepted event.
// Enqueues that Redis could not take are refused with QueueUnavailableError
// (the route's 503 with Retry-After); everything that was accepted runs.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { createQueue } from '../../src/queue/index.js';
import { QueueUnavailableError, type Consumer, type Queue } from '../../src/queue/queue.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { fnDef, ScriptedInvoker, sleep, waitFor } from './support.js';

const FN = 'durable';
let server: RedisServer;
let queue: Queue;
let consumer: Consumer | undefined;

beforeAll(async () => {
  server = await startRedis({ aof: true, appendfsync: 'always' });
  queue = createQueue({ redisUrl: server.url, redis: { keyPrefix: `r${randomBytes(3).toString('hex')}`, commandTimeoutMs: 2000 } });
});

afterAll(async () => {
  await consumer?.stop();
  await queue?.close();
  await server?.stop();
});

it('loses no accepted event when Redis crashes and restarts mid-run', { timeout: 120_000 }, async () => {
  const catalog = new MemoryCatalog();
  catalog.set(fnDef(FN, { timeoutSeconds: 1, scaling: { maxInstances: 8 } }));
  const invoker = new ScriptedInvoker();
  const processed = new Set<string>();
  invoker.on(FN, async (inv) => {
    await sleep(1);
    processed.add(inv.requestId);
    return { outcome: 'success', payload: Buffer.from('null'), durationMs: 1 };
  });
  consumer = queue.startConsumer({ invoker, catalog, blockMs: 200, maintenanceIntervalMs: 100, visibilityTimeoutMs: () => 2000 });

  const accepted: string[] = [];
  const refusals: QueueUnavailableError[] = [];
  let stop = false;
  const producers = Array.from({ length: 8 }, async () => {
    while (!stop) {
      try {
        accepted.push((await queue.enqueue({ functionName: FN, payload: Buffer.from('{}') })).requestId);
      } catch (err) {
        if (!(err instanceof QueueUnavailableError)) throw err;
        refusals.push(err);
        await sleep(20);
      }
    }
  });

  await waitFor('a running start', () => accepted.length >= 500 && processed.size >= 200, 30_000);
  // A crash and a second of downtime: SIGKILL with fsync-always AOF keeps every acknowledged XADD.
  await server.kill();
  await sleep(1500);
  await server.start();
  await waitFor('enqueues accepted again', () => accepted.length >= 1500, 30_000);
  // And a graceful restart, Redis flushing its AOF on SIGTERM.
  await server.restart();
  await waitFor('more accepted', () => accepted.length >= 2500, 30_000);
  stop = true;
  await Promise.all(producers);

  await waitFor('every accepted event processed', () => accepted.every((id) => processed.has(id)), 60_000, 50);
  const lost = accepted.filter((id) => !processed.has(id));
  console.log(`redis restart: accepted ${accepted.length}, refused ${refusals.length}, lost ${lost.length}, runs ${invoker.calls.length}`);
  expect(lost).toEqual([]);
  expect(refusals.length).toBeGreaterThan(0);
  for (const r of refusals) expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  await waitFor('backlog drained', async () => {
    const b = await queue.backlog(FN);
    return b.pending === 0 && b.lag === 0;
  }, 30_000, 100);
});

it('refuses enqueues quickly with QueueUnavailableError while Redis is down', { timeout: 30_000 }, async () => {
  await server.kill();
  try {
    const t0 = Date.now();
    const err = await queue.enqueue({ functionName: FN, payload: Buffer.from('{}') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueUnavailableError);
    expect(Date.now() - t0).toBeLessThan(3000);
  } finally {
    await server.start();
  }
  await waitFor('accepted after recovery', async () => {
    try {
      await queue.enqueue({ functionName: FN, payload: Buffer.from('{}') });
      return true;
    } catch {
      return false;
    }
  }, 15_000, 100);
});
