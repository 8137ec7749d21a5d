// Redis going down and coming back under the embedded platform's queue,
// with real runtimes: while it is down, Event invocations are refused with
// 503 (so the caller knows to retry); every event answered 202 runs.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { FaultLog } from './collector.js';
import { invokePath, post, terminalRecords, waitFor } from './support.js';

const log = FaultLog.forFile(import.meta.url);
let redis: RedisServer;
let platform: Awaited<ReturnType<typeof startPlatform>>;

beforeAll(async () => {
  redis = await startRedis({ aof: true, appendfsync: 'always' });
  platform = await startPlatform({ steady: { ...py('def handler(event, context):\n    return event\n'), timeoutSeconds: 2, scaling: { maxInstances: 2 } } }, { redisUrl: redis.url, retryTimeScale: 0.01 });
}, 120_000);

afterAll(async () => {
  await platform?.close();
  await redis?.stop();
  log.flush();
});

it('refuses events with 503 while Redis is down and runs every accepted one after it returns', { timeout: 180_000 }, async () => {
  await log.run('fault', 'Redis SIGKILLed (AOF fsync always) during a run, restarted after the gateway has refused events', '202 while up; 503 ServiceException with Retry-After while down; every 202-accepted event reaches a succeeded record', async (rec) => {
    const accepted: string[] = [];
    const refusals = new Map<string, number>();
    let stop = false;
    const producers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const a = await post(platform.url, invokePath('steady'), '{"n":1}', { 'x-amz-invocation-type': 'Event' });
        rec.tried();
        if (a.status === 202) accepted.push(String(a.headers['x-amzn-requestid']));
        else {
          const k = `${a.status} ${String(a.headers['x-amzn-errortype'])}${a.headers['retry-after'] !== undefined ? ' Retry-After' : ''}`;
          refusals.set(k, (refusals.get(k) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await waitFor('a running start', async () => accepted.length >= 100, 60_000, 20);
    await redis.kill();
    await waitFor('a refusal while Redis is down', async () => [...refusals.values()].reduce((a, b) => a + b, 0) >= 5, 60_000, 20);
    await redis.start();
    const before = accepted.length;
    await waitFor('events accepted again', async () => accepted.length >= before + 100, 60_000, 20);
    stop = true;
    await Promise.all(producers);
    rec.accepted(accepted.length);

    const records = await terminalRecords(platform.url, accepted, 150_000);
    const lost = accepted.filter((id) => records.get(id)?.status !== 'succeeded');
    rec.lost(accepted.filter((id) => !records.has(id)).length);
    rec.observe(`${accepted.length} accepted, refusals: ${[...refusals].map(([k, n]) => `${n}× ${k}`).join(', ')}; ${records.size - lost.length} succeeded, ${lost.length} not`);
    for (const k of refusals.keys()) expect(k).toBe('503 ServiceException Retry-After');
    expect(lost).toEqual([]);
  });
});
