// Must show: 10,000 events enqueued while the consumer is SIGKILLed and
// restarted midway are all processed at least once; duplicates are counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQueue } from '../../src/queue/index.js';
import type { Queue } from '../../src/queue/queue.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { sleep, waitFor } from './support.js';

const EVENTS = 10_000;
const FN = 'crashy';
const CHILD = fileURLToPath(new URL('./fixtures/consumer-child.ts', import.meta.url));

let server: RedisServer;
let queue: Queue;
let redis: Redis;
const children = new Set<ChildProcess>();
const prefix = `k${randomBytes(3).toString('hex')}`;
const processedKey = `${prefix}:processed`;

function startChild(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, REDIS_URL: server.url, KEY_PREFIX: prefix, FUNCTION: FN, PROCESSED_KEY: processedKey, VISIBILITY_MS: '1500' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('consumer child did not start')), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`consumer child exited early (${code})`)));
  });
}

beforeAll(async () => {
  server = await startRedis();
  queue = createQueue({ redisUrl: server.url, redis: { keyPrefix: prefix } });
  redis = new Redis(server.url);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
});

it('processes every one of 10,000 events at least once across a SIGKILL of the consumer', { timeout: 150_000 }, async () => {
  let first = await startChild();
  const ids: string[] = [];
  const enqueueing = (async () => {
    for (let i = 0; i < EVENTS; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, EVENTS - i) }, (_, j) => queue.enqueue({ functionName: FN, payload: Buffer.from(JSON.stringify({ n: i + j })) })),
      );
      ids.push(...batch.map((b) => b.requestId));
    }
  })();

  // Kill it while it works: some events done, some in flight, most still to come.
  await waitFor('first events processed', async () => (await redis.hlen(processedKey)) >= 1500, 60_000, 5);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const atKill = await redis.hlen(processedKey);
  first = await startChild();
  await enqueueing;
  expect(ids).toHaveLength(EVENTS);

  await waitFor('all processed', async () => (await redis.hlen(processedKey)) >= EVENTS, 120_000, 100);
  await waitFor('backlog empty', async () => {
    const b = await queue.backlog(FN);
    return b.pending === 0 && b.lag === 0;
  }, 30_000, 100);

  const counts = await redis.hgetall(processedKey);
  const missing = ids.filter((id) => counts[id] === undefined);
  const duplicates = Object.values(counts).reduce((n, c) => n + (Number(c) - 1), 0);
  console.log(`sigkill: ${EVENTS} events, processed at kill ${atKill}, lost ${missing.length}, duplicates ${duplicates}`);
  expect(missing).toEqual([]);
  expect(Object.keys(counts)).toHaveLength(EVENTS);
  // Only events the killed consumer ran but had not acknowledged can run twice: at most its in-flight limit.
  expect(duplicates).toBeLessThanOrEqual(32);
  first.kill('SIGTERM');
  await sleep(100);
});
