// Async queue throughput on a real redis-server started for the run: the
// enqueue rate (what a 202 costs), the end-to-end rate of a no-op function
// (enqueue → consumer → dispatch → record → ack), and, as the baseline,
// redis-benchmark's raw XADD rate against the same server in the same run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MemoryCatalog } from '../src/api/catalog.js';
import { FunctionSchema } from '../src/api/function.js';
import type { Invoker } from '../src/dispatch/invoker.js';
import { createQueue } from '../src/queue/index.js';
import type { Queue } from '../src/queue/queue.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { summarize, type Row } from './report.js';

const run = promisify(execFile);
const EVENTS = Number(process.env.BENCH_QUEUE_EVENTS ?? 20_000);
const CONCURRENCY = 50;
const WARMUPS = 5_000;
/** Rounds of the baseline and the Redis enqueue, interleaved (enqueueBesideBaseline). */
const ROUNDS = Number(process.env.BENCH_QUEUE_ROUNDS ?? 3);
/** Events per Redis enqueue round: about as long a run as redis-benchmark's 100,000 XADDs. */
const ENQUEUE_EVENTS = Number(process.env.BENCH_QUEUE_ENQUEUE_EVENTS ?? 50_000);
const PAYLOAD = Buffer.from(JSON.stringify({ bench: true, n: 12345 }));

function noopFunction(name: string) {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.js': '' } }, concurrency: 8, scaling: { maxInstances: 8 } },
  });
}

async function redisBenchmarkXadd(server: RedisServer): Promise<Row> {
  // Fields shaped like a queue entry, so the baseline writes what enqueue writes.
  const args = ['-p', String(server.port), '-n', '100000', '-c', String(CONCURRENCY), '--csv', 'XADD', 'bench:{baseline}:events', '*', 'r', '00000000-0000-0000-0000-000000000000', 'p', PAYLOAD.toString(), 't', '1700000000000', 'a', '0', 'fe', '0', 'se', '0'];
  const { stdout } = await run('redis-benchmark', args, { timeout: 120_000 });
  const line = stdout.trim().split('\n').pop() ?? '';
  const cells = line.split('","').map((c) => c.replace(/"/g, ''));
  // "test","rps","avg","min","p50","p95","p99","max"
  return { name: 'redis-benchmark XADD (baseline)', p50Ms: Number(cells[4]), p99Ms: Number(cells[6]), rps: Number(cells[1]), note: `${CONCURRENCY} clients, same server` };
}

/** Enqueues from CONCURRENCY callers until n were made, so V8 has compiled the path: the figures are the steady state's (redis-benchmark is C). */
async function warmUp(queue: Queue, fn: string, n: number): Promise<void> {
  let made = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (made++ < n) await queue.enqueue({ functionName: fn, payload: PAYLOAD });
    }),
  );
}

async function enqueueRate(queue: Queue, fn: string, n: number): Promise<Row> {
  const samples: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        const s = performance.now();
        await queue.enqueue({ functionName: fn, payload: PAYLOAD });
        samples.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const how = queue.kind === 'redis' ? ', each XADD + record SET NX, one script call per 32 enqueues of a turn at most' : '';
  return summarize(`${queue.kind} enqueue (202 latency)`, samples, { rps: n / secs, note: `${n} events after ${WARMUPS} warm-ups, ${CONCURRENCY} concurrent callers${how}` });
}

function median<T>(xs: readonly T[], by: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => by(a) - by(b));
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (m === undefined) throw new Error('no rounds');
  return m;
}

/**
 * redis-benchmark's XADD and Hearth's enqueue on the same server, back to
 * back, ROUNDS times. On a shared machine the load changes from one second
 * to the next, and two figures taken apart compare the moments as much as
 * the code: each row is its median round, and the ratio the median of the
 * rounds' own ratios. The keys are dropped between rounds, so each round
 * starts from the same empty server.
 */
async function enqueueBesideBaseline(server: RedisServer, queue: Queue): Promise<Row[]> {
  await warmUp(queue, 'bench-enqueue-warm', WARMUPS);
  const base: Row[] = [];
  const ours: Row[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await run('redis-cli', ['-p', String(server.port), 'FLUSHDB']);
    base.push(await redisBenchmarkXadd(server));
    ours.push(await enqueueRate(queue, 'bench-enqueue', ENQUEUE_EVENTS));
  }
  await run('redis-cli', ['-p', String(server.port), 'FLUSHDB']);
  const ratios = ours.map((o, i) => (o.rps ?? Number.NaN) / (base[i]?.rps ?? Number.NaN));
  const k = (rows: Row[]): string => rows.map((x) => `${Math.round((x.rps ?? 0) / 1000)}k`).join(', ');
  const b = median(base, (x) => x.rps ?? 0);
  const o = median(ours, (x) => x.rps ?? 0);
  return [
    { ...b, note: `${b.note}; median of ${ROUNDS} rounds (${k(base)})` },
    { ...o, note: `${(o.note ?? '').replace(` after ${WARMUPS} warm-ups`, '')}; median of ${ROUNDS} rounds (${k(ours)}); ${median(ratios, (x) => x).toFixed(2)}x the baseline (rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')})` },
  ];
}

/** Enqueues n events while a consumer runs them through a no-op Invoker; latency is enqueue start → invoke. */
async function endToEnd(queue: Queue, fn: string, n: number): Promise<Row> {
  const catalog = new MemoryCatalog();
  catalog.set(noopFunction(fn));
  const started = new Map<string, number>();
  const samples: number[] = [];
  let done = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  const invoker: Invoker = {
    async invoke(inv) {
      const s = started.get(inv.requestId);
      if (s !== undefined) samples.push(performance.now() - s);
      if (++done === n) resolveAll();
      return { outcome: 'success', payload: Buffer.from('null'), durationMs: 0 };
    },
  };
  const consumer = queue.startConsumer({ invoker, catalog, blockMs: 100, maintenanceIntervalMs: 500 });
  try {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const requestId = `e2e-${next++}`;
          started.set(requestId, performance.now());
          await queue.enqueue({ functionName: fn, payload: PAYLOAD, requestId });
        }
      }),
    );
    const timeout = setTimeout(() => resolveAll(), 300_000);
    await all;
    clearTimeout(timeout);
    const secs = (performance.now() - t0) / 1000;
    return summarize(`${queue.kind} end-to-end, no-op function`, samples, { rps: done / secs, note: `${done}/${n} processed; enqueue → invoke latency; consumer takes 64 at once` });
  } finally {
    await consumer.stop();
  }
}

/** Drains a backlog filled beforehand: the consumer side alone. */
async function drain(queue: Queue, fn: string, n: number): Promise<Row> {
  const catalog = new MemoryCatalog();
  catalog.set(noopFunction(fn));
  for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => queue.enqueue({ functionName: fn, payload: PAYLOAD })));
  let done = 0;
  let last = 0;
  const gaps: number[] = [];
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  const invoker: Invoker = {
    async invoke() {
      const now = performance.now();
      if (last) gaps.push(now - last);
      last = now;
      if (++done === n) resolveAll();
      return { outcome: 'success', payload: Buffer.from('null'), durationMs: 0 };
    },
  };
  const t0 = performance.now();
  const consumer = queue.startConsumer({ invoker, catalog, blockMs: 100, maintenanceIntervalMs: 500 });
  const timeout = setTimeout(() => resolveAll(), 300_000);
  await all;
  clearTimeout(timeout);
  const secs = (performance.now() - t0) / 1000;
  await consumer.stop();
  return summarize(`${queue.kind} drain of a ${n}-event backlog`, gaps, { rps: done / secs, note: 'latency columns: gap between invocations' });
}

export async function benchQueue(): Promise<Row[]> {
  const server = await startRedis();
  const rows: Row[] = [];
  try {
    const redis = createQueue({ redisUrl: server.url, redis: { keyPrefix: 'bench' } });
    try {
      rows.push(...(await enqueueBesideBaseline(server, redis)));
      rows.push(await endToEnd(redis, 'bench-e2e', EVENTS));
      rows.push(await drain(redis, 'bench-drain', EVENTS));
    } finally {
      await redis.close();
    }
    // The in-memory queue refuses events beyond its bound (10,000 by default): the enqueue row
    // leaves its EVENTS (and warm-ups) unconsumed while the end-to-end row adds as many, so the bound fits both.
    const memory = createQueue({ memory: { maxRecords: 2 * EVENTS + WARMUPS } });
    try {
      await warmUp(memory, 'bench-enqueue-warm', WARMUPS);
      rows.push(await enqueueRate(memory, 'bench-enqueue', EVENTS));
      rows.push(await endToEnd(memory, 'bench-e2e', EVENTS));
    } finally {
      await memory.close();
    }
  } finally {
    await server.stop();
  }
  return rows;
}
