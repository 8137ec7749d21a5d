// Replicas racing for the same ticks through a real redis-server, single and
// in cluster mode: each tick is taken once per namespace, whichever replica
// sends it first. Time is fake for the schedulers (ticks are driven by hand);
// the enqueues are real round trips.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import { createQueue, type Queue, type RedisConnectionOptions } from '../../src/queue/index.js';
import { namespaceKeyPrefix } from '../../src/queue/keys.js';
import { Scheduler } from '../../src/schedules/scheduler.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { FakeTime } from './fake-time.js';

let single: RedisServer;
let cluster: RedisServer;
beforeAll(async () => {
  [single, cluster] = await Promise.all([startRedis(), startRedis({ cluster: true })]);
});
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
});

describe.each([
  ['a single Redis', (): RedisConnectionOptions => ({ url: single.url })],
  ['Redis in cluster mode', (): RedisConnectionOptions => ({ cluster: [{ host: '127.0.0.1', port: cluster.port }] })],
])('replicas over %s', (_what, connection) => {
  it('take each tick once per namespace, however many replicas send it', async () => {
    const run = randomBytes(4).toString('hex');
    const time = new FakeTime(Date.parse('2026-01-01T00:00:00.500Z'));
    const fn = FunctionSchema.parse({
      apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' },
      spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, schedules: [{ name: 'tick', cron: '*/2 * * * * *' }] },
    });
    const queues: Queue[] = [];
    const schedulers: Scheduler[] = [];
    const sent: { ns: string; duplicate: boolean; key: string }[] = [];
    // Three replicas in namespace a, one in namespace b: the same function name, other keys.
    for (const ns of ['a', 'a', 'a', 'b']) {
      const queue = createQueue({ redis: { ...connection(), keyPrefix: namespaceKeyPrefix(`${ns}-${run}`) } });
      queues.push(queue);
      const catalog = new MemoryCatalog();
      catalog.set(fn);
      const s = new Scheduler({
        catalog,
        clock: time,
        timers: time,
        functionArn: (n) => `arn:aws:lambda:us-east-1:000000000000:function:${n}`,
        queue: {
          enqueue: async (req) => {
            const res = await queue.enqueue(req);
            sent.push({ ns, duplicate: res.duplicate, key: req.idempotencyKey ?? '' });
            return res;
          },
        },
      });
      s.start();
      schedulers.push(s);
    }
    try {
      await time.advance(10_000);
      await waitFor('every replica to have sent every tick', () => sent.length === 20, 10_000);
      const taken = (ns: string) => sent.filter((s) => s.ns === ns && !s.duplicate).map((s) => s.key).sort();
      expect(taken('a')).toHaveLength(5);
      expect(new Set(taken('a')).size).toBe(5);
      expect(taken('b')).toEqual(taken('a'));
      expect((await queues[0]?.backlog('f'))?.lag).toBe(5);
      expect((await queues[3]?.backlog('f'))?.lag).toBe(5);
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await Promise.all(queues.map((q) => q.close()));
    }
  });
});
