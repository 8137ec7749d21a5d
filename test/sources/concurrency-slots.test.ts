// scalingConfig.maximumConcurrency is the mapping's, not one gateway's: two
// EventSources ("two gateways") over one real redis-server, each with its own
// RedisConcurrencyLimiter and client, run one Redis Streams mapping over six
// streams (three each) with maximumConcurrency 2. An invoker shared by both
// counts batches in flight: every record is processed, and never more than 2
// at once. A gateway that dies holding both slots keeps the other waiting only
// until its leases lapse. Then the pure wait decision, table-tested, and the
// shared slots' own behaviour (abort, a Redis that is away).
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { EventSourceMappingSchema, defaultConsumerGroup, type EventSourceMapping } from '../../src/api/event-source-mapping.js';
import { LocalConcurrencyLimiter } from '../../src/dispatch/concurrency-limiter.js';
import type { Invocation, Invoker } from '../../src/dispatch/invoker.js';
import { RedisConcurrencyLimiter } from '../../src/dispatch/redis-concurrency-limiter.js';
import { createRedisClient, type RedisClient } from '../../src/queue/redis.js';
import { functionKeys } from '../../src/queue/keys.js';
import { DEFAULT_SLOT_TIMING, SharedSlots, mappingSlotsKey, slotWait, type SlotMiss } from '../../src/sources/concurrency-slots.js';
import { EventSources } from '../../src/sources/mapping-runner.js';
import { redisStreamsConnector } from '../../src/sources/redis-streams/connector.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { FaultLog } from '../faults/collector.js';

const faults = FaultLog.forFile(import.meta.url);
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  // One test stops the server for a while.
  redis.on('error', () => undefined);
});
afterAll(async () => {
  faults.flush();
  redis.disconnect();
  await server.stop();
});

const ok: InvokeResult = { outcome: 'success', payload: Buffer.from('null'), durationMs: 1 };
const LEASE_PREFIX = 'test:esm:lease:';
/** The connectors' stream leases: long enough that the first gateway's ticks leave the second one's streams alone while it starts. */
const STREAM_LEASE_MS = 1500;

function mapping(name: string, streams: string[]): EventSourceMapping {
  return EventSourceMappingSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name },
    spec: { functionName: 'f', batchSize: 1, startingPosition: 'TRIM_HORIZON', redisStreams: { url: server.url, streams }, scalingConfig: { maximumConcurrency: 2 } },
  });
}

/** Batches in flight across every gateway, the most seen, and what each gateway ran. */
class InFlight {
  now = 0;
  max = 0;
  readonly seen = new Set<string>();
  /** The invoker of one gateway: counts its batches, sleeping `ms` in each; `hang` keeps a batch running until released. */
  invoker(gateway: string[], ms: number, hang?: Promise<void>): Invoker {
    return {
      invoke: async (inv: Invocation): Promise<InvokeResult> => {
        this.now++;
        this.max = Math.max(this.max, this.now);
        try {
          const event = JSON.parse(inv.payload.toString()) as { records: Record<string, Array<{ fields: { id: string } }>> };
          for (const r of Object.values(event.records).flat()) gateway.push(r.fields.id);
          if (hang) {
            // A dead gateway's call: it ends with the process, having done nothing.
            await hang;
            throw new Error('the gateway died');
          }
          await new Promise((r) => setTimeout(r, ms));
          for (const r of Object.values(event.records).flat()) this.seen.add(r.fields.id);
          return ok;
        } finally {
          this.now--;
        }
      },
    };
  }
}

interface Gateway {
  es: EventSources;
  client: RedisClient;
  limiter: RedisConcurrencyLimiter;
  ran: string[];
}

function gateway(flight: InFlight, opts: { ms: number; hang?: Promise<void>; leaseMs: number }): Gateway {
  const client = createRedisClient({ url: server.url });
  client.on('error', () => undefined);
  const limiter = new RedisConcurrencyLimiter({ redis: client, leaseMs: opts.leaseMs });
  const ran: string[] = [];
  const es = new EventSources({
    invoker: flight.invoker(ran, opts.ms, opts.hang),
    queue: { enqueue: async () => ({ requestId: 'x', duplicate: false }) },
    connectorFor: (m) => redisStreamsConnector(m, { leaseMs: STREAM_LEASE_MS, idlePollMs: 10, leasePrefix: LEASE_PREFIX }),
    functionArn: (n) => `arn:aws:lambda:us-east-1:000000000000:function:${n}`,
    logger: pino({ level: 'silent' }),
    lagIntervalMs: 100,
    retryDelayMs: () => 5,
    limiter,
  });
  return { es, client, limiter, ran };
}

async function close(g: Gateway): Promise<void> {
  await g.es.stop();
  await g.limiter.close();
  g.client.disconnect();
}

async function fill(streams: string[], perStream: number): Promise<string[]> {
  const ids: string[] = [];
  for (const s of streams) {
    for (let i = 0; i < perStream; i++) {
      const id = `${s}/${i}`;
      await redis.xadd(s, '*', 'id', id);
      ids.push(id);
    }
  }
  return ids;
}

/**
 * Starts `first` with the last three streams held by nobody it knows, then
 * `second` once those are let go: each gateway reads three of the six
 * streams (the connector does not balance; this makes the split certain).
 */
async function startSplit(m: EventSourceMapping, streams: string[], first: Gateway, second: Gateway): Promise<void> {
  const later = streams.slice(3).map((s) => `${LEASE_PREFIX}${defaultConsumerGroup(m)}:${s}`);
  for (const k of later) await redis.set(k, 'someone-else', 'PX', 60_000);
  await first.es.set([m]);
  await waitFor('the first gateway running batches', () => first.ran.length > 0);
  await redis.del(...later);
  await second.es.set([m]);
}

describe('maximumConcurrency across gateways', () => {
  it('two gateways sharing a Redis limiter keep a mapping within 2 batches in flight, and process every record', { timeout: 30_000 }, async () => {
    const streams = Array.from({ length: 6 }, (_, i) => `cs1:${i}`);
    const ids = await fill(streams, 8);
    const flight = new InFlight();
    const a = gateway(flight, { ms: 30, leaseMs: 5000 });
    const b = gateway(flight, { ms: 30, leaseMs: 5000 });
    try {
      await startSplit(mapping('shared', streams), streams, a, b);
      await waitFor('every record processed', () => ids.every((id) => flight.seen.has(id)), 20_000);
      // Both gateways ran batches of their own streams, at the same time as each other.
      expect(new Set(a.ran.map((id) => id.split('/')[0]))).toEqual(new Set(streams.slice(0, 3)));
      expect(new Set(b.ran.map((id) => id.split('/')[0]))).toEqual(new Set(streams.slice(3)));
      expect(flight.max).toBe(2);
    } finally {
      await close(a);
      await close(b);
    }
  });

  it('a gateway that dies holding both slots keeps the other waiting only until its leases lapse', { timeout: 30_000 }, async () => {
    await faults.run(
      'fault',
      'gateway killed holding all of a mapping\'s maximumConcurrency slots (Redis leases)',
      'the other gateway runs nothing until the dead one\'s leases lapse (one lease life), then every record; never more than the bound in flight',
      async (rec) => {
        const streams = Array.from({ length: 6 }, (_, i) => `cs2:${i}`);
        const ids = await fill(streams, 3);
        rec.tried();
        rec.accepted(ids.length);
        const flight = new InFlight();
        const leaseMs = 600;
        let unhang: () => void = () => undefined;
        const hang = new Promise<void>((r) => (unhang = r));
        // Gateway A's batches never end: it holds both slots until it dies.
        const a = gateway(flight, { ms: 0, hang, leaseMs });
        const b = gateway(flight, { ms: 10, leaseMs });
        try {
          await startSplit(mapping('dies', streams), streams, a, b);
          await waitFor('A holding both slots', () => a.ran.length === 2);
          // B has its streams and records waiting, and no slot.
          await new Promise((r) => setTimeout(r, 300));
          expect(b.ran).toEqual([]);
          // A crashes: its pollers stop, its limiter no longer renews, its connection is gone (nothing is handed back).
          a.es.kill();
          await a.limiter.close();
          a.client.disconnect();
          // Its two calls end with it (they share this test's process, so end them by hand).
          unhang();
          const killedAt = Date.now();
          await waitFor('B running once the leases lapsed', () => b.ran.length > 0, leaseMs + 2000);
          const waited = Date.now() - killedAt;
          // Not before the leases could lapse (a lease life after A's last renewal, a third of it): A gave nothing back, its leases ran out.
          expect(waited).toBeGreaterThanOrEqual(leaseMs - leaseMs / 3 - 50);
          // B takes A's streams over too (the connector's own leases) and processes every record, A's two unfinished batches again.
          await waitFor('every record processed', () => ids.every((id) => flight.seen.has(id)), 20_000);
          expect(new Set(b.ran)).toEqual(new Set(ids));
          expect(flight.max).toBe(2);
          rec.lost(ids.filter((id) => !flight.seen.has(id)).length);
          rec.observe(`A killed holding both slots of maximumConcurrency 2 (lease life ${leaseMs} ms): B ran nothing for ${waited} ms, then all ${ids.length} records (A's 2 unfinished batches again), at most ${flight.max} in flight`);
        } finally {
          unhang();
          await close(b);
          await a.es.stop();
        }
      },
    );
  });
});

describe('slotWait', () => {
  const t = { pollMs: 200, retryMs: 250, maxRetryMs: 5000 };
  it.each<[string, SlotMiss, { ms: number; wakeOnRelease: boolean }]>([
    ['full: poll for another gateway\'s release, or be woken by one here', { kind: 'full', releasedMeanwhile: false }, { ms: 200, wakeOnRelease: true }],
    ['full, but a slot came back here while asking: ask again at once', { kind: 'full', releasedMeanwhile: true }, { ms: 0, wakeOnRelease: false }],
    ['unreachable once: the first backoff', { kind: 'unreachable', failures: 1 }, { ms: 250, wakeOnRelease: false }],
    ['unreachable twice: doubled', { kind: 'unreachable', failures: 2 }, { ms: 500, wakeOnRelease: false }],
    ['unreachable 5 times', { kind: 'unreachable', failures: 5 }, { ms: 4000, wakeOnRelease: false }],
    ['unreachable long: capped', { kind: 'unreachable', failures: 6 }, { ms: 5000, wakeOnRelease: false }],
    ['unreachable very long: still capped', { kind: 'unreachable', failures: 10_000 }, { ms: 5000, wakeOnRelease: false }],
  ])('%s', (_, miss, want) => {
    expect(slotWait(miss, t)).toEqual(want);
  });

  it('defaults (README): another gateway\'s release is seen within 200 ms; a Redis away is asked again at most every 5 s', () => {
    expect(DEFAULT_SLOT_TIMING).toEqual({ pollMs: 200, retryMs: 250, maxRetryMs: 5000 });
    expect(slotWait({ kind: 'full', releasedMeanwhile: false })).toEqual({ ms: 200, wakeOnRelease: true });
    expect(slotWait({ kind: 'unreachable', failures: 100 })).toEqual({ ms: 5000, wakeOnRelease: false });
  });
});

describe('mappingSlotsKey', () => {
  it('names the mapping, and can never be a function\'s own leases', () => {
    expect(mappingSlotsKey('default/orders')).toBe('esm:default/orders');
    // A function name is a DNS label: the key is outside every name a function can have, and still a valid lease key.
    expect(mappingSlotsKey('default/orders')).not.toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    expect(functionKeys(mappingSlotsKey('default/orders')).leases).toBe('hearth:{esm:default/orders}:leases');
    // A namespace of a mapping file may be any string: braces would break the hash tag (and the limiter refuses them).
    expect(mappingSlotsKey('we{ir}d/orders')).toBe('esm:we%7Bir%7Dd/orders');
    expect(functionKeys(mappingSlotsKey('we{ir}d/orders')).leases).toBe('hearth:{esm:we%7Bir%7Dd/orders}:leases');
  });
});

describe('SharedSlots', () => {
  it('a slot given back on this gateway wakes a waiting batch at once, not at the next poll', async () => {
    const limiter = new LocalConcurrencyLimiter();
    const slots = new SharedSlots(limiter, 'esm:default/m', 2, { pollMs: 60_000 });
    const signal = new AbortController().signal;
    const first = await slots.acquire(signal);
    await slots.acquire(signal);
    let third: (() => void) | undefined;
    void slots.acquire(signal).then((r) => (third = r));
    await new Promise((r) => setTimeout(r, 50));
    expect(third).toBeUndefined();
    first();
    first(); // twice: still one slot back
    await waitFor('the waiting batch', () => third !== undefined, 2000);
    expect(limiter.held('esm:default/m')).toBe(2);
  });

  it('a batch given up while it waits rejects with its reason and holds nothing', async () => {
    const limiter = new LocalConcurrencyLimiter();
    const slots = new SharedSlots(limiter, 'esm:default/m', 2, { pollMs: 20 });
    const keep = new AbortController().signal;
    await slots.acquire(keep);
    await slots.acquire(keep);
    const ac = new AbortController();
    const waiting = slots.acquire(ac.signal);
    await new Promise((r) => setTimeout(r, 60));
    ac.abort(new Error('revoked'));
    await expect(waiting).rejects.toThrow('revoked');
    expect(limiter.held('esm:default/m')).toBe(2);
  });

  it('waits out a Redis that is away, never failing the batch, and takes its slot once Redis is back', { timeout: 30_000 }, async () => {
    const client = createRedisClient({ url: server.url });
    client.on('error', () => undefined);
    const limiter = new RedisConcurrencyLimiter({ redis: client, leaseMs: 5000, connectWaitMs: 50 });
    const logged: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logged.push((JSON.parse(line) as { msg: string }).msg) });
    const slots = new SharedSlots(limiter, 'esm:default/away', 2, { retryMs: 50, maxRetryMs: 200, logger });
    try {
      await server.kill();
      let outcome: 'held' | Error | undefined;
      const got = slots.acquire(new AbortController().signal);
      got.then(
        () => (outcome = 'held'),
        (err: Error) => (outcome = err),
      );
      await new Promise((r) => setTimeout(r, 800));
      expect(outcome).toBeUndefined();
      // Said once, not on every try.
      expect(logged.filter((m) => m.includes('cannot be counted'))).toHaveLength(1);
      await server.start();
      await waitFor('the slot once Redis is back', () => outcome !== undefined, 15_000);
      expect(outcome).toBe('held');
      expect(limiter.held('esm:default/away')).toBe(1);
      expect(await redis.zcard(functionKeys('esm:default/away').leases)).toBe(1);
      expect(logged.filter((m) => m.includes('counted again'))).toHaveLength(1);
    } finally {
      if (redis.status !== 'ready') await waitFor('the test client back', () => redis.status === 'ready', 10_000);
      await limiter.close();
      client.disconnect();
    }
  });
});
