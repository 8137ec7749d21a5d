// The Redis lease against a real redis-server. Rounds run by hand and time is
// a fake clock, except in the one test that waits for Redis itself to expire
// a key, which polls rather than asserting on elapsed time.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlwaysLeader, RedisLeaseElector, type RedisLeaseOptions } from '../../src/autoscaler/leader.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let server: RedisServer;
const clients: Redis[] = [];
const electors: RedisLeaseElector[] = [];
let keySeq = 0;

function client(): Redis {
  // Fail fast instead of queueing while the server is down, so a round reports the error.
  const r = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: false });
  r.on('error', () => undefined);
  clients.push(r);
  return r;
}

async function connected(r: Redis): Promise<Redis> {
  if (r.status !== 'ready') await new Promise<void>((resolve) => r.once('ready', () => resolve()));
  return r;
}

function elector(opts: Partial<RedisLeaseOptions> & { redis: Redis; key: string }): RedisLeaseElector {
  const e = new RedisLeaseElector({ leaseMs: 10_000, schedule: () => () => undefined, ...opts });
  electors.push(e);
  return e;
}

beforeAll(async () => {
  server = await startRedis();
});

afterEach(async () => {
  for (const e of electors.splice(0)) await e.stop();
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server.stop();
});

describe('AlwaysLeader', () => {
  it('always leads', async () => {
    const l = new AlwaysLeader();
    await l.start();
    expect(l.isLeader()).toBe(true);
    await l.stop();
    expect(l.isLeader()).toBe(true);
  });
});

describe('RedisLeaseElector', () => {
  it('lets exactly one of two replicas lead, and renews only its own lease', async () => {
    const key = `lease-${++keySeq}`;
    const redis = await connected(client());
    let now = 1000;
    const a = elector({ redis, key, identity: 'a', now: () => now });
    const b = elector({ redis: await connected(client()), key, identity: 'b', now: () => now });
    await a.start();
    await b.start();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(await redis.get(key)).toBe('a');
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);

    now += 5000;
    expect(await a.round()).toBe(true);
    expect(await b.round()).toBe(false);
    expect(await redis.get(key)).toBe('a');
  });

  it('hands over at once when the leader stops', async () => {
    const key = `lease-${++keySeq}`;
    const changes: boolean[] = [];
    const a = elector({ redis: await connected(client()), key, identity: 'a', onChange: (l) => changes.push(l) });
    const b = elector({ redis: await connected(client()), key, identity: 'b' });
    await a.start();
    expect(await b.round()).toBe(false);
    await a.stop();
    expect(a.isLeader()).toBe(false);
    expect(changes).toEqual([true, false]);
    expect(await b.round()).toBe(true);
  });

  it('notices on renewal that its lease was taken, and does not extend the new owner\'s', async () => {
    const key = `lease-${++keySeq}`;
    const redis = await connected(client());
    const changes: boolean[] = [];
    const a = elector({ redis, key, identity: 'a', onChange: (l) => changes.push(l) });
    await a.start();
    // As if a's lease had expired and another replica had won it.
    await redis.set(key, 'other', 'PX', 777_000);
    expect(await a.round()).toBe(false);
    expect(changes).toEqual([true, false]);
    expect(await redis.get(key)).toBe('other');
    expect(await redis.pttl(key)).toBeGreaterThan(10_000);
    // Stopping must not delete a lease it does not hold.
    await a.stop();
    expect(await redis.get(key)).toBe('other');
  });

  it('stops calling itself leader when it cannot renew before its lease runs out', async () => {
    const key = `lease-${++keySeq}`;
    let now = 50_000;
    const errors: unknown[] = [];
    const a = elector({ redis: await connected(client()), key, identity: 'a', now: () => now, leaseMs: 9000, onError: (e) => errors.push(e) });
    await a.start();
    expect(a.isLeader()).toBe(true);
    await server.kill();
    try {
      now += 3000;
      // A failed renewal inside the lease keeps leadership: nobody else can hold it yet.
      expect(await a.round()).toBe(true);
      expect(errors.length).toBeGreaterThan(0);
      // Lease 9 s less a 10% safety margin: from 8.1 s after the last successful request it no longer leads.
      now = 50_000 + 8099;
      expect(a.isLeader()).toBe(true);
      now = 50_000 + 8100;
      expect(a.isLeader()).toBe(false);
    } finally {
      await server.start();
    }
  });

  it('a follower takes over once Redis expires a lease that nobody renews', async () => {
    const key = `lease-${++keySeq}`;
    const a = elector({ redis: await connected(client()), key, identity: 'a', leaseMs: 200 });
    const b = elector({ redis: await connected(client()), key, identity: 'b', leaseMs: 200 });
    await a.start(); // and never renews: its scheduler is a no-op
    let took = false;
    for (let i = 0; i < 200 && !took; i++) {
      took = await b.round();
      if (!took) await new Promise((r) => setTimeout(r, 20));
    }
    expect(took).toBe(true);
    expect(a.isLeader()).toBe(false);
  });

  it('renews on its own schedule once started', async () => {
    const key = `lease-${++keySeq}`;
    const scheduled: (() => void)[] = [];
    let now = 0;
    const a = elector({
      redis: await connected(client()),
      key,
      identity: 'a',
      now: () => now,
      schedule: (fn) => {
        scheduled.push(fn);
        return () => undefined;
      },
    });
    await a.start();
    expect(scheduled).toHaveLength(1);
    now = 8000; // close to the end of the 10 s lease less its margin
    scheduled[0]!();
    await a.round(); // joins the round the timer started
    expect(a.isLeader()).toBe(true);
    now = 16_000; // beyond the first lease, inside the renewed one
    expect(a.isLeader()).toBe(true);
  });
});
