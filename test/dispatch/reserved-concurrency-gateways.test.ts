// Reserved concurrency is a cap on the function, wherever its calls enter:
// two embedded gateways share one real Redis and one function with
// `reservedConcurrency: 2` whose handler records how many of its runs overlap
// (a file per run in a shared directory). Sync calls split across both never
// run more than two at once and the rest get 429; async events beyond the cap
// wait and all run; a gateway that died holding leases blocks the function
// only until they lapse; without Redis a capped function is refused with a
// 503 while a function without a cap is still served.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESERVED_CONCURRENCY_REASON } from '../../src/autoscaler/core.js';
import { RedisConcurrencyLimiter } from '../../src/dispatch/redis-concurrency-limiter.js';
import { createRedisClient } from '../../src/queue/redis.js';
import { py, startPlatform } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

// On entry a run leaves a file and counts the files there: the most it ever
// counts is the most runs that overlapped (any overlap includes an entry).
const overlapHandler = `import os, time, uuid
def handler(event, context):
    d = os.environ["OVERLAP_DIR"]
    me = os.path.join(d, uuid.uuid4().hex)
    open(me, "w").close()
    running = len(os.listdir(d))
    time.sleep(event.get("sleep", 0.5))
    os.remove(me)
    return {"running": running}
`;

interface Answer {
  status: number;
  errorType: string | null;
  functionError: string | null;
  body: string;
}

async function invoke(url: string, name: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<Answer & { requestId: string | null }> {
  const r = await fetch(`${url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: JSON.stringify(payload), headers: { 'x-amz-invocation-type': type } });
  return { status: r.status, errorType: r.headers.get('x-amzn-errortype'), functionError: r.headers.get('x-amz-function-error'), requestId: r.headers.get('x-amzn-requestid'), body: await r.text() };
}

describe('reservedConcurrency across two gateways sharing Redis', () => {
  let redis: RedisServer;
  let overlapDir: string;
  let gateways: [Platform, Platform];

  beforeAll(async () => {
    redis = await startRedis();
    overlapDir = mkdtempSync(join(tmpdir(), 'hearth-overlap-'));
    const fns = {
      capped: { ...py(overlapHandler), reservedConcurrency: 2, timeoutSeconds: 30, env: [{ name: 'OVERLAP_DIR', value: overlapDir }] },
      free: py('def handler(event, context):\n    return "ok"\n'),
    };
    // No sandbox: runs count each other through a directory of the host's that they share.
    const opts = { redisUrl: redis.url, retryTimeScale: 0.05, warmPoolSize: 0, backend: { sandbox: false } };
    gateways = [await startPlatform(fns, opts), await startPlatform(fns, opts)];
  }, 120_000);

  afterAll(async () => {
    for (const g of gateways ?? []) await g?.close();
    await redis?.stop();
    if (overlapDir) rmSync(overlapDir, { recursive: true, force: true });
  }, 60_000);

  it('runs at most 2 of 20 parallel sync calls at once and answers the rest 429', { timeout: 60_000 }, async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => invoke(gateways[i % 2]!.url, 'capped', {})));
    const ok = answers.filter((a) => a.status === 200);
    const throttled = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
    for (const a of throttled) {
      expect(a.errorType).toBe('TooManyRequestsException');
      expect(JSON.parse(a.body)).toMatchObject({ Reason: RESERVED_CONCURRENCY_REASON });
    }
    expect(ok.filter((a) => a.functionError !== null)).toEqual([]);
    const maxOverlap = Math.max(...ok.map((a) => (JSON.parse(a.body) as { running: number }).running));
    expect(maxOverlap).toBeLessThanOrEqual(2);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
  });

  it('keeps async events beyond the cap waiting in the queue until they can run, never more than 2 at once', { timeout: 90_000 }, async () => {
    const accepted = await Promise.all(Array.from({ length: 6 }, (_, i) => invoke(gateways[i % 2]!.url, 'capped', { sleep: 0.3 }, 'Event')));
    expect(accepted.map((a) => a.status)).toEqual(Array(6).fill(202));
    const ids = accepted.map((a) => a.requestId as string);
    const records = await Promise.all(
      ids.map((id) =>
        waitFor(
          `event ${id} done`,
          async () => {
            const r = await gateways[0].queue.record(id);
            return r && ['succeeded', 'failed', 'dead-lettered'].includes(r.status) ? r : undefined;
          },
          60_000,
          100,
        ),
      ),
    );
    expect(records.map((r) => r.status)).toEqual(Array(6).fill('succeeded'));
    const running = records.map((r) => (JSON.parse(r.result?.payload ?? '{}') as { running: number }).running);
    expect(Math.max(...running)).toBeLessThanOrEqual(2);
  });

  it('frees the function once the leases of a gateway that died holding them lapse', { timeout: 30_000 }, async () => {
    // A third gateway takes both slots and dies: no release, no renewal.
    const client = createRedisClient({ url: redis.url });
    client.on('error', () => undefined);
    const dead = new RedisConcurrencyLimiter({ redis: client, leaseMs: 1500, renewEveryMs: 500, connectWaitMs: 5000 });
    expect(await dead.tryAcquire('capped', 2)).toBeDefined();
    expect(await dead.tryAcquire('capped', 2)).toBeDefined();
    await dead.close();
    client.disconnect();

    const refused = await invoke(gateways[0].url, 'capped', { sleep: 0 });
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ Reason: RESERVED_CONCURRENCY_REASON });
    const served = await waitFor('a call served again', async () => {
      const a = await invoke(gateways[1].url, 'capped', { sleep: 0 });
      return a.status === 200 ? a : undefined;
    }, 10_000, 200);
    expect(served.functionError).toBeNull();
  });

  it('refuses a capped function with 503 ServiceException while Redis is away, and still serves one without a cap', { timeout: 30_000 }, async () => {
    await redis.kill();
    const capped = await invoke(gateways[0].url, 'capped', { sleep: 0 });
    expect(capped.status).toBe(503);
    expect(capped.errorType).toBe('ServiceException');
    const free = await invoke(gateways[1].url, 'free', {});
    expect(free.status).toBe(200);
    expect(free.body).toBe('"ok"');
  });
});
