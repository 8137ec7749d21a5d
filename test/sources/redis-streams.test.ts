// The Redis Streams connector against a real redis-server, with a recording
// sink standing in for the partition processor: order per stream, commits as
// XACK, pending entries first, leases and takeover after a reader is killed
// mid-batch, starting positions, and lag.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceMappingSchema, type EventSourceMapping, type EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import type { ConnectorHandlers, PartitionSink } from '../../src/sources/connector.js';
import type { RedisStreamRecord, SourceRecord } from '../../src/sources/records.js';
import { compareIds, groupStartId, redisStreamsConnector, type RedisStreamsConnector } from '../../src/sources/redis-streams/connector.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let server: RedisServer;
let redis: Redis;
const open: RedisStreamsConnector[] = [];
let n = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function mapping(streams: string[], spec: Partial<EventSourceMappingSpecInput> = {}): EventSourceMapping {
  n++;
  return EventSourceMappingSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name: `m${n}` },
    spec: { functionName: 'f', redisStreams: { url: server.url, streams }, startingPosition: 'TRIM_HORIZON', batchSize: 10, ...spec },
  });
}

/** A sink per partition that records what it gets and commits each call's last record, after `hold` resolves when given. */
function recorder(opts: { hold?: (records: readonly SourceRecord[]) => Promise<void> } = {}) {
  const got = new Map<string, string[]>();
  const calls: number[] = [];
  const problems: string[] = [];
  const released: string[] = [];
  const handlers: ConnectorHandlers = {
    sinkFor(partition, commit): PartitionSink {
      return {
        async process(records, signal) {
          // A hold gives way when the partition is given up, as the real processor does.
          if (opts.hold) await Promise.race([opts.hold(records), new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))]);
          signal.throwIfAborted();
          calls.push(records.length);
          const ids = got.get(partition) ?? [];
          for (const r of records) ids.push((r as RedisStreamRecord).id);
          got.set(partition, ids);
          await commit((records.at(-1) as RedisStreamRecord).id);
        },
      };
    },
    released: (p) => released.push(p),
    problem: (m) => problems.push(m),
  };
  return { got, calls, problems, released, handlers };
}

async function fill(stream: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 500) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 500); j++) p.xadd(stream, '*', 'seq', String(j));
    for (const [, id] of (await p.exec()) ?? []) ids.push(String(id));
  }
  return ids;
}

function connect(m: EventSourceMapping, leaseMs = 600): RedisStreamsConnector {
  const c = redisStreamsConnector(m, { leaseMs, idlePollMs: 20 });
  open.push(c);
  return c;
}

describe('redis streams connector', () => {
  it('reads every entry of each stream in order and acknowledges what is committed', async () => {
    const streams = ['rs1:a', 'rs1:b', 'rs1:c'];
    const ids = await Promise.all(streams.map((s) => fill(s, 300)));
    const m = mapping(streams);
    const rec = recorder();
    await connect(m).start(rec.handlers);
    await waitFor('every entry', () => streams.every((s) => (rec.got.get(s)?.length ?? 0) >= 300));
    streams.forEach((s, i) => expect(rec.got.get(s)).toEqual(ids[i]));
    const pending = (await redis.xpending('rs1:a', 'hearth-default-' + m.metadata.name)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
    expect(rec.problems).toEqual([]);
  });

  it('a killed reader loses nothing: another takes the stream over after the lease, pending entries first', async () => {
    const ids = await fill('rs2', 100);
    const m = mapping(['rs2']);
    let stall: (() => void) | undefined;
    const first = recorder({
      // The first reader commits two batches, then hangs in its third, as a gateway dying mid-batch.
      hold: (records) => ((records[0] as RedisStreamRecord).id === ids[20] ? new Promise<void>((r) => (stall = r)) : Promise.resolve()),
    });
    const a = connect(m, 500);
    await a.start(first.handlers);
    await waitFor('the first reader mid-batch', () => stall !== undefined);
    a.kill();
    stall?.();
    expect(first.got.get('rs2')).toEqual(ids.slice(0, 20));
    const second = recorder();
    await connect(m, 500).start(second.handlers);
    await waitFor('the rest, from the second reader', () => (second.got.get('rs2')?.length ?? 0) >= 80, 10_000);
    // It starts at the first entry not acknowledged: the killed batch's, taken over from the dead reader.
    expect(second.got.get('rs2')).toEqual(ids.slice(20));
  });

  it('one reader per stream: a second connector in the group waits for the lease', async () => {
    await fill('rs3', 10);
    const m = mapping(['rs3']);
    const a = recorder();
    const b = recorder();
    await connect(m, 400).start(a.handlers);
    await waitFor('the first reader', () => (a.got.get('rs3')?.length ?? 0) === 10);
    // The lease: a key per group and stream, expiring unless renewed.
    const lease = `hearth:esm:lease:hearth-default-${m.metadata.name}:rs3`;
    expect(await redis.get(lease)).toBeTruthy();
    expect(await redis.pttl(lease)).toBeGreaterThan(0);
    const cb = connect(m, 400);
    await cb.start(b.handlers);
    const more = await fill('rs3', 5);
    await waitFor('the new entries', () => (a.got.get('rs3')?.length ?? 0) === 15);
    expect(b.got.size).toBe(0);
    // The first one stops cleanly: its lease is released, and the second reads on at once.
    await open[0]?.stop();
    const later = await fill('rs3', 3);
    await waitFor('the second reader', () => (b.got.get('rs3')?.length ?? 0) === 3, 5000);
    expect(b.got.get('rs3')).toEqual(later);
    expect(a.got.get('rs3')?.slice(10)).toEqual(more);
  });

  it('LATEST starts after the entries already there; AT_TIMESTAMP at the entries from then on', async () => {
    await fill('rs4', 5);
    const latest = recorder();
    await connect(mapping(['rs4'], { startingPosition: 'LATEST' })).start(latest.handlers);
    await new Promise((r) => setTimeout(r, 100));
    const added = await fill('rs4', 2);
    await waitFor('the new entries', () => (latest.got.get('rs4')?.length ?? 0) === 2);
    expect(latest.got.get('rs4')).toEqual(added);

    await redis.xadd('rs5', '1000-0', 'seq', 'old');
    await redis.xadd('rs5', '2000-0', 'seq', 'at');
    await redis.xadd('rs5', '2000-1', 'seq', 'after');
    const at = recorder();
    await connect(mapping(['rs5'], { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: new Date(2000).toISOString() })).start(at.handlers);
    await waitFor('entries from the timestamp', () => (at.got.get('rs5')?.length ?? 0) === 2);
    expect(at.got.get('rs5')).toEqual(['2000-0', '2000-1']);
  });

  it('maximumBatchingWindowInSeconds gathers entries for a fuller batch', async () => {
    const rec = recorder();
    await connect(mapping(['rs7'], { startingPosition: 'TRIM_HORIZON', maximumBatchingWindowInSeconds: 1 })).start(rec.handlers);
    await fill('rs7', 3);
    await new Promise((r) => setTimeout(r, 300));
    await fill('rs7', 2);
    await waitFor('the batch', () => rec.calls.length > 0, 5000);
    expect(rec.calls).toEqual([5]);
  });

  it('lag counts entries not acknowledged, per stream', async () => {
    await fill('rs6', 40);
    const m = mapping(['rs6', 'rs6b'], { batchSize: 10 });
    let release: (() => void) | undefined;
    const rec = recorder({ hold: () => new Promise<void>((r) => (release = r)) });
    const c = connect(m);
    await c.start(rec.handlers);
    await waitFor('a batch in flight', () => release !== undefined);
    expect(await c.lag()).toEqual([
      { partition: 'rs6', lag: 40 },
      { partition: 'rs6b', lag: 0 },
    ]);
    release?.();
    await waitFor('one batch committed', async () => (await c.lag())[0]?.lag === 30 || undefined);
    await c.stop();
  });

  it('goes on after its Redis restarts, losing nothing acknowledged or added', async () => {
    const own = await startRedis({ aof: true });
    const client = new Redis(own.url, { maxRetriesPerRequest: null });
    try {
      const add = async (from: number, n: number) => {
        for (let i = from; i < from + n; i++) await client.xadd('rr', '*', 'seq', String(i));
      };
      await add(0, 10);
      const m = EventSourceMappingSchema.parse({
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'restart' },
        spec: { functionName: 'f', batchSize: 5, startingPosition: 'TRIM_HORIZON', redisStreams: { url: own.url, streams: ['rr'] } },
      });
      const seqs: string[] = [];
      const c = connect(m, 600);
      await c.start({
        sinkFor: (_p, commit) => ({
          async process(records) {
            for (const r of records) seqs.push((r as RedisStreamRecord).fields[0]?.[1] ?? '');
            await commit((records.at(-1) as RedisStreamRecord).id);
          },
        }),
        released: () => undefined,
        problem: () => undefined,
      });
      await waitFor('the first entries', () => seqs.length >= 10);
      await own.restart({ kill: true });
      await add(10, 10);
      await waitFor('the entries added after the restart', () => new Set(seqs).size === 20, 10_000);
      // At least once: what was acknowledged before the crash is not read again (AOF, fsync always), nothing is skipped.
      expect([...new Set(seqs)]).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(seqs.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    } finally {
      client.disconnect();
      await own.stop();
    }
  });

  it('reports an unreachable Redis as a problem', async () => {
    const m = EventSourceMappingSchema.parse({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name: 'down' },
      spec: { functionName: 'f', redisStreams: { url: 'redis://127.0.0.1:1', streams: ['x'] } },
    });
    const rec = recorder();
    await connect(m).start(rec.handlers);
    expect(rec.problems[0]).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('start ids and id order', () => {
    expect(groupStartId({ startingPosition: 'TRIM_HORIZON' })).toBe('0');
    expect(groupStartId({ startingPosition: 'LATEST' })).toBe('$');
    expect(groupStartId({ startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: '1970-01-01T00:00:02Z' })).toBe('1999-18446744073709551615');
    expect(compareIds('10-0', '9-5')).toBe(1);
    expect(compareIds('10-2', '10-10')).toBe(-1);
    expect(compareIds('10-2', '10-2')).toBe(0);
  });
});
