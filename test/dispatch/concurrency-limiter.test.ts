// The reserved-concurrency limiters: one table of acquire/release steps run
// against the in-process count and against the Redis count (two limiters on
// one Redis, as two gateways), with Redis standalone and in Cluster mode;
// leases of a gateway that died lapse; a live gateway's leases do not; an
// unreachable Redis refuses rather than admits.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalConcurrencyLimiter, leaseTiming, type ConcurrencyLimiter, type Lease } from '../../src/dispatch/concurrency-limiter.js';
import { RedisConcurrencyLimiter } from '../../src/dispatch/redis-concurrency-limiter.js';
import { functionKeys, hashTagOf } from '../../src/queue/keys.js';
import { createRedisClient, type RedisClient } from '../../src/queue/redis.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('leaseTiming', () => {
  it.each([
    { asked: {}, expected: { leaseMs: 15_000, renewEveryMs: 5_000 } },
    { asked: { leaseMs: 900 }, expected: { leaseMs: 900, renewEveryMs: 300 } },
    { asked: { leaseMs: 1000, renewEveryMs: 100 }, expected: { leaseMs: 1000, renewEveryMs: 100 } },
  ])('$asked gives $expected', ({ asked, expected }) => {
    expect(leaseTiming(asked)).toEqual(expected);
  });

  it.each([
    { asked: { leaseMs: 50 }, error: /leaseMs must be at least 100/ },
    { asked: { leaseMs: Number.NaN }, error: /leaseMs must be at least 100/ },
    { asked: { leaseMs: 1000, renewEveryMs: 1000 }, error: /renewEveryMs must be above 0 and below leaseMs/ },
    { asked: { leaseMs: 1000, renewEveryMs: 0 }, error: /renewEveryMs must be above 0 and below leaseMs/ },
  ])('refuses $asked', ({ asked, error }) => {
    expect(() => leaseTiming(asked)).toThrow(error);
  });
});

it('keeps the leases under the function\'s hash tag, with its other keys', () => {
  const k = functionKeys('resize', 'hearth:ns:prod');
  expect(k.leases).toBe('hearth:ns:prod:{resize}:leases');
  expect(hashTagOf(k.leases)).toBe(hashTagOf(k.events));
});

/** One step: which gateway (0 or 1) acquires for which function with which limit, or releases its n-th lease. */
type Step =
  | { acquire: string; limit: number; via: 0 | 1; admitted: boolean }
  | { release: number };

interface Case {
  name: string;
  steps: Step[];
}

const a = (fn: string, limit: number, via: 0 | 1, admitted: boolean): Step => ({ acquire: fn, limit, via, admitted });

const CASES: Case[] = [
  { name: 'a cap of 0 admits nothing', steps: [a('f', 0, 0, false), a('f', 0, 1, false)] },
  { name: 'a cap of 1 admits one call at a time', steps: [a('f', 1, 0, true), a('f', 1, 1, false), a('f', 1, 0, false), { release: 0 }, a('f', 1, 1, true)] },
  {
    name: 'a cap of 2 holds across both gateways',
    steps: [a('f', 2, 0, true), a('f', 2, 1, true), a('f', 2, 0, false), a('f', 2, 1, false), { release: 1 }, a('f', 2, 0, true), a('f', 2, 1, false)],
  },
  { name: 'functions are counted apart', steps: [a('f', 1, 0, true), a('g', 1, 1, true), a('f', 1, 1, false), a('g', 1, 0, false)] },
  { name: 'releasing twice frees one slot', steps: [a('f', 2, 0, true), a('f', 2, 1, true), { release: 0 }, { release: 0 }, a('f', 2, 0, true), a('f', 2, 1, false)] },
  { name: 'a lowered cap applies to calls admitted afterwards', steps: [a('f', 3, 0, true), a('f', 3, 1, true), a('f', 1, 0, false), { release: 0 }, { release: 1 }, a('f', 1, 1, true)] },
];

/** Runs the steps; a release goes to both limiters, since only the one that holds the lease acts on it. */
async function runSteps(limiters: readonly [ConcurrencyLimiter, ConcurrencyLimiter], steps: Step[]): Promise<void> {
  const leases: Lease[] = [];
  for (const [i, step] of steps.entries()) {
    if ('release' in step) {
      const lease = leases[step.release];
      if (!lease) throw new Error(`step ${i}: no lease ${step.release}`);
      for (const l of limiters) l.release(lease);
      continue;
    }
    const lease = await limiters[step.via].tryAcquire(step.acquire, step.limit);
    expect({ step: i, admitted: lease !== undefined }).toEqual({ step: i, admitted: step.admitted });
    if (lease) leases.push(lease);
  }
}

describe('LocalConcurrencyLimiter', () => {
  it.each(CASES)('$name', async ({ steps }) => {
    // One process's count: both "gateways" are the same limiter.
    const local = new LocalConcurrencyLimiter();
    await runSteps([local, local], steps);
  });
});

const modes = [
  { mode: 'standalone', cluster: false },
  { mode: 'cluster', cluster: true },
] as const;

describe.each(modes)('RedisConcurrencyLimiter ($mode)', ({ cluster }) => {
  let server: RedisServer;
  const clients: RedisClient[] = [];
  const limiters: RedisConcurrencyLimiter[] = [];

  beforeAll(async () => {
    server = await startRedis({ cluster });
  }, 30_000);
  afterEach(async () => {
    for (const l of limiters.splice(0)) await l.close();
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const client = (): RedisClient => {
    const c = createRedisClient(cluster ? { cluster: [{ host: '127.0.0.1', port: server.port }] } : { url: server.url });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  /** A gateway's limiter, on a connection of its own. */
  const gateway = (opts: { leaseMs?: number; renewEveryMs?: number; keyPrefix: string }): RedisConcurrencyLimiter => {
    const l = new RedisConcurrencyLimiter({ redis: client(), connectWaitMs: 5000, ...opts });
    limiters.push(l);
    return l;
  };
  const prefix = (): string => `t${randomBytes(4).toString('hex')}`;

  it.each(CASES)('$name', async ({ steps }) => {
    const keyPrefix = prefix();
    await runSteps([gateway({ keyPrefix }), gateway({ keyPrefix })], steps);
  });

  it('admits no more than the cap when many calls race from two gateways', async () => {
    const keyPrefix = prefix();
    const [g0, g1] = [gateway({ keyPrefix }), gateway({ keyPrefix })];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? g0 : g1).tryAcquire('race', 3)));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(g0.held('race') + g1.held('race')).toBe(3);
  });

  it('frees the slots of a gateway that died holding them once its leases lapse', async () => {
    const keyPrefix = prefix();
    const dyingClient = client();
    const dying = new RedisConcurrencyLimiter({ redis: dyingClient, keyPrefix, leaseMs: 600, renewEveryMs: 200 });
    limiters.push(dying);
    const survivor = gateway({ keyPrefix, leaseMs: 600, renewEveryMs: 200 });
    expect(await dying.tryAcquire('fn', 2)).toBeDefined();
    expect(await dying.tryAcquire('fn', 2)).toBeDefined();
    expect(await survivor.tryAcquire('fn', 2)).toBeUndefined();
    // The gateway dies: no release, no renewal (its connection is gone).
    dyingClient.disconnect();
    const diedAt = Date.now();
    await waitFor('a slot comes back', async () => (await survivor.tryAcquire('fn', 2)) !== undefined, 5000);
    // Not before the lease lapsed (less a little for the two clocks' disagreement).
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(400);
    // The two leases were taken (and last renewed) at different moments, so the
    // second may lapse a renewal period after the first: wait for it too.
    await waitFor('the second slot comes back', async () => (await survivor.tryAcquire('fn', 2)) !== undefined, 5000);
    expect(await survivor.tryAcquire('fn', 2)).toBeUndefined();
  });

  it('keeps a live gateway\'s leases past their first life by renewing them', async () => {
    const keyPrefix = prefix();
    const holder = gateway({ keyPrefix, leaseMs: 400, renewEveryMs: 100 });
    const other = gateway({ keyPrefix, leaseMs: 400, renewEveryMs: 100 });
    const lease = await holder.tryAcquire('long-call', 1);
    expect(lease).toBeDefined();
    await new Promise((r) => setTimeout(r, 1200));
    expect(await other.tryAcquire('long-call', 1)).toBeUndefined();
    holder.release(lease!);
    await waitFor('the released slot is free', async () => (await other.tryAcquire('long-call', 1)) !== undefined, 2000);
  });

  it('counts a running call again when Redis lost its lease', async () => {
    const keyPrefix = prefix();
    const holder = gateway({ keyPrefix, leaseMs: 60_000 });
    const other = gateway({ keyPrefix, leaseMs: 60_000 });
    expect(await holder.tryAcquire('lost', 1)).toBeDefined();
    // A Redis that restarted without its data.
    const admin = client();
    if (admin.status !== 'ready') await new Promise((r) => admin.once('ready', r));
    await admin.del(functionKeys('lost', keyPrefix).leases);
    await holder.renew();
    expect(await other.tryAcquire('lost', 1)).toBeUndefined();
  });

  it('refuses, rather than admits, when Redis cannot be reached', async () => {
    const port = await freePort();
    const c = createRedisClient(cluster ? { cluster: [{ host: '127.0.0.1', port }] } : { url: `redis://127.0.0.1:${port}` });
    c.on('error', () => undefined);
    clients.push(c);
    const l = new RedisConcurrencyLimiter({ redis: c, connectWaitMs: 200 });
    limiters.push(l);
    await expect(l.tryAcquire('fn', 5)).rejects.toThrow(/redis is not reachable/);
  });
});
