// The Kafka connector against a real broker (Apache Kafka 4.4.0, KRaft, from
// test/servers/kafka.ts) with a fake PartitionSink that records what it is
// given and commits as told: order per partition, commits honoured across a
// stop (at-least-once, nothing skipped), partitions split between two
// connectors of one group and taken over by the survivor, lag, the three
// starting positions, the batching window, heartbeats through a long batch,
// kafka:// onFailure produce, and problems. The offset and lag arithmetic is
// table-tested first (no broker).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceMappingSchema, type EventSourceMapping, type EventSourceMappingInput } from '../../src/api/event-source-mapping.js';
import type { ConnectorHandlers, PartitionSink } from '../../src/sources/connector.js';
import { commitOffsetFor, commitRetryDelayMs, describeKafkaError, kafkaConnector, partitionLag, queueLimit, type KafkaConnector, type KafkaCredentials } from '../../src/sources/kafka/connector.js';
import { positionOf, type KafkaRecord, type SourceRecord } from '../../src/sources/records.js';
import { py, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';
import { fetchKafka, startKafka, type KafkaBroker } from '../servers/kafka.js';

describe('Kafka offsets and lag (pure)', () => {
  it.each([
    // position, last record fetched, end of the fetched range (markers included) → offset committed
    ['41', '99', 100n, '42'],
    ['99', '99', 100n, '100'],
    // The last record is followed by a transaction's commit marker at 100: the commit goes past it.
    ['99', '99', 101n, '101'],
    ['98', '99', 101n, '99'],
    ['99', undefined, undefined, '100'],
    ['18446744073709551614', '18446744073709551614', undefined, '18446744073709551615'],
  ])('done through %s (last record %s, fetched to %s) commits %s', (position, last, end, want) => {
    expect(commitOffsetFor(position, last, end)).toBe(want);
  });

  it.each([
    [{ low: '0', high: '100', committed: '40', startingPosition: 'LATEST' as const }, 60],
    [{ low: '0', high: '100', committed: '100', startingPosition: 'TRIM_HORIZON' as const }, 0],
    [{ low: '0', high: '100', committed: '-1', startingPosition: 'TRIM_HORIZON' as const }, 100],
    [{ low: '0', high: '100', committed: '-1', startingPosition: 'LATEST' as const }, 0],
    [{ low: '0', high: '100', committed: '-1', initial: '90', startingPosition: 'LATEST' as const }, 10],
    [{ low: '0', high: '100', committed: '-1', initial: '25', startingPosition: 'AT_TIMESTAMP' as const }, 75],
    // Retention removed records the commit points at: they are not behind any more.
    [{ low: '50', high: '100', committed: '10', startingPosition: 'TRIM_HORIZON' as const }, 50],
  ])('lag of %j is %i', (p, want) => {
    expect(partitionLag(p)).toBe(want);
  });

  it('pauses a partition once it holds two batches, at least 10,000 records, or 4 MiB', () => {
    expect(queueLimit(100)).toEqual({ records: 10_000, bytes: 4 * 1024 * 1024 });
    expect(queueLimit(10_000)).toEqual({ records: 20_000, bytes: 4 * 1024 * 1024 });
  });

  it.each([
    [{ type: 'UNKNOWN_TOPIC_OR_PARTITION', message: 'This server does not host this topic-partition' }, 'Kafka topic t does not exist on b:9092'],
    [{ name: 'KafkaJSSASLAuthenticationError', message: 'SASL PLAIN authentication failed: Authentication failed' }, 'Kafka refused the credentials (SASL): SASL PLAIN authentication failed: Authentication failed'],
    [{ name: 'KafkaJSConnectionError', message: 'Connection error: connect ECONNREFUSED 127.0.0.1:1' }, 'cannot reach Kafka at b:9092: Connection error: connect ECONNREFUSED 127.0.0.1:1'],
    [{ type: 'GROUP_AUTHORIZATION_FAILED', message: 'Not authorized to access group' }, 'Kafka refused access (GROUP_AUTHORIZATION_FAILED): Not authorized to access group'],
  ])('describes %j', (err, want) => {
    expect(describeKafkaError(Object.assign(new Error(err.message), err), { topic: 't', bootstrap: 'b:9092' })).toBe(want);
  });
});

describe('a commit the broker refused (pure)', () => {
  const err = (type: string, retriable: boolean) => Object.assign(new Error(type), { type, retriable });
  it.each([
    ['a coordinator loading its offsets, first try', err('COORDINATOR_LOAD_IN_PROGRESS', true), 0, 200],
    ['a coordinator that moved, second try', err('NOT_COORDINATOR_FOR_GROUP', true), 1, 400],
    ['a coordinator not available, third try', err('COORDINATOR_NOT_AVAILABLE', true), 2, 800],
    ['still refused after three tries', err('COORDINATOR_NOT_AVAILABLE', true), 3, undefined],
    ['a rebalance under way: the partition may be another member\'s', err('REBALANCE_IN_PROGRESS', true), 0, undefined],
    ['an old generation', err('ILLEGAL_GENERATION', false), 0, undefined],
    ['a member the group forgot', err('UNKNOWN_MEMBER_ID', false), 0, undefined],
    ['not a broker error', new Error('socket closed'), 0, undefined],
  ])('%s', (_what, e, attempt, delay) => {
    expect(commitRetryDelayMs(e, attempt)).toBe(delay);
  });
});

// Fetched before the suite is collected: make test-unit started the fetch beside the other suites; this waits for it.
const fetched = await fetchKafka();

/** A fake PartitionSink per partition: records every call, checks one call at a time, commits the last record unless `behave` says otherwise. */
class Recorder implements ConnectorHandlers {
  readonly holding = new Set<string>();
  readonly got = new Map<string, KafkaRecord[]>();
  readonly calls: Array<{ partition: string; records: KafkaRecord[] }> = [];
  readonly committed = new Map<string, string>();
  readonly released_: string[] = [];
  readonly problems: string[] = [];
  readonly violations: string[] = [];
  /** Runs before the commit; may wait on the signal and throw (a batch stopped mid-way). */
  behave?: (partition: string, records: KafkaRecord[], signal: AbortSignal, call: number) => Promise<void>;

  sinkFor(partition: string, commit: (position: string) => Promise<void>): PartitionSink {
    this.holding.add(partition);
    let busy = false;
    return {
      process: async (records: readonly SourceRecord[], signal: AbortSignal): Promise<void> => {
        if (busy) this.violations.push(`${partition}: two calls in flight`);
        busy = true;
        try {
          const rs = records as KafkaRecord[];
          this.calls.push({ partition, records: [...rs] });
          const list = this.got.get(partition) ?? [];
          list.push(...rs);
          this.got.set(partition, list);
          await this.behave?.(partition, [...rs], signal, this.calls.length);
          const last = rs.at(-1);
          if (last) {
            await commit(positionOf(last));
            this.committed.set(partition, positionOf(last));
          }
        } finally {
          busy = false;
        }
      },
    };
  }

  released(partition: string): void {
    this.holding.delete(partition);
    this.released_.push(partition);
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  offsets(partition: string): number[] {
    return (this.got.get(partition) ?? []).map((r) => Number(r.offset));
  }

  count(): number {
    let n = 0;
    for (const l of this.got.values()) n += l.length;
    return n;
  }
}

describe.skipIf('skip' in fetched)(`Kafka connector on a real broker${'skip' in fetched ? ` (skipped: ${fetched.skip})` : ''}`, () => {
  let broker: KafkaBroker;
  let client: Kafka;
  let admin: Admin;
  let producer: Producer;
  const connectors: KafkaConnector[] = [];

  beforeAll(async () => {
    // A second listener asks for SASL (PLAIN and SCRAM) with this user; a third speaks TLS with a throwaway CA's certificate.
    broker = await startKafka({ partitions: 3, sasl: { users: { alice: 'alice-secret' } }, tls: true });
    client = new Kafka({ clientId: 'hearth-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    admin = client.admin();
    await admin.connect();
    producer = client.producer();
    await producer.connect();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(connectors.map((c) => c.stop()));
    await producer?.disconnect();
    await admin?.disconnect();
    await broker?.stop();
  }, 60_000);

  async function topic(name: string, partitions: number): Promise<string> {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions }], waitForLeaders: true });
    return name;
  }

  function mapping(name: string, t: string, spec: Partial<EventSourceMappingInput['spec']> = {}): EventSourceMapping {
    return EventSourceMappingSchema.parse({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name },
      spec: { functionName: 'fn', kafka: { bootstrapServers: [broker.bootstrap], topics: [t] }, batchSize: 100, ...spec },
    });
  }

  function open(m: EventSourceMapping, o: { sessionTimeoutMs?: number; maxQueuedRecords?: number; reconnectDelayMs?: number; credentials?: KafkaCredentials } = {}): KafkaConnector {
    const c = kafkaConnector(m, { clientId: 'hearth-test', credentials: {}, ...o });
    connectors.push(c);
    return c;
  }

  /** Produces n records per partition, value "P:SEQ", in sends of 500. */
  async function produce(t: string, partitions: number, perPartition: number, from = 0): Promise<void> {
    const all = [];
    for (let i = from; i < from + perPartition; i++) for (let p = 0; p < partitions; p++) all.push({ partition: p, value: `${p}:${i}` });
    for (let i = 0; i < all.length; i += 500) await producer.send({ topic: t, acks: -1, messages: all.slice(i, i + 500) });
  }

  it('delivers 10,000 records over 3 partitions in order per partition, nothing missing, one call in flight per partition, at most batchSize a call, fetching paused and resumed as the queues fill', async () => {
    const t = await topic('orders', 3);
    await produce(t, 3, 3334);
    // 3 × 3334 = 10,002 ≥ 10,000 records.
    const total = 3 * 3334;
    const rec = new Recorder();
    // A small queue: each partition's fetching pauses when a fetch overfills it and resumes as the reader drains it.
    const c = open(mapping('orders', t, { startingPosition: 'TRIM_HORIZON' }), { maxQueuedRecords: 250 });
    expect((await c.lag()).reduce((s, p) => s + p.lag, 0)).toBe(total);
    await c.start(rec);
    await waitFor('every record delivered', () => rec.count() >= total, 90_000, 100);
    expect(rec.violations).toEqual([]);
    expect(rec.count()).toBe(total);
    for (let p = 0; p < 3; p++) {
      const got = rec.got.get(`${t}-${p}`) ?? [];
      expect(got.map((r) => Number(r.offset))).toEqual(Array.from({ length: 3334 }, (_, i) => i));
      expect(got.map((r) => r.value?.toString())).toEqual(Array.from({ length: 3334 }, (_, i) => `${p}:${i}`));
      expect(got.every((r) => r.topic === t && r.partition === p && r.source === 'kafka' && r.timestampType === 'CREATE_TIME')).toBe(true);
    }
    expect(Math.max(...rec.calls.map((x) => x.records.length))).toBeLessThanOrEqual(100);
    // Lag falls to 0 once the sink committed everything.
    await waitFor('lag 0', async () => (await c.lag()).every((p) => p.lag === 0), 30_000, 200);
    expect((await c.lag()).map((p) => p.partition)).toEqual([`${t}-0`, `${t}-1`, `${t}-2`]);
    await c.stop();
    expect(rec.problems).toEqual([]);
  }, 180_000);

  it.each(['stop', 'kill'] as const)('a connector ended mid-batch (%s) gives way to one that resumes from the last commit: nothing skipped, the interrupted batch runs again', async (end) => {
    const t = await topic(`resume-${end}`, 1);
    await produce(t, 1, 1000);
    const m = mapping(`resume-${end}`, t, { startingPosition: 'TRIM_HORIZON', batchSize: 50 });
    const a = new Recorder();
    let hung: { signal: AbortSignal; first: number } | undefined;
    a.behave = async (_p, records, signal, call) => {
      if (call < 4) return;
      // The fourth batch never finishes: it waits for the stop, as a function still running would.
      hung = { signal, first: Number(records[0]?.offset) };
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    };
    const ca = open(m);
    await ca.start(a);
    await waitFor('the fourth batch to hang', () => hung, 60_000, 50);
    expect(a.committed.get(`${t}-0`)).toBe('149');
    if (end === 'stop') await ca.stop();
    else ca.kill();
    // kill aborts at once, without waiting for anything.
    expect(hung?.signal.aborted).toBe(true);
    expect(a.released_).toEqual([`${t}-0`]);

    const b = new Recorder();
    const cb = open(m);
    await cb.start(b);
    await waitFor('the rest delivered', () => (b.offsets(`${t}-0`).at(-1) ?? -1) >= 999, 60_000, 50);
    // B starts right after A's last commit: the hung batch (150..199) comes again, nothing before it does, nothing after is missing.
    expect(b.offsets(`${t}-0`)).toEqual(Array.from({ length: 850 }, (_, i) => 150 + i));
    expect(hung?.first).toBe(150);
    await cb.stop();
  }, 180_000);

  it('two connectors of one group split the partitions, and the survivor takes them all when one stops', async () => {
    const t = await topic('split', 3);
    const m = mapping('split', t, { startingPosition: 'TRIM_HORIZON' });
    const a = new Recorder();
    const b = new Recorder();
    const ca = open(m, { sessionTimeoutMs: 10_000 });
    await ca.start(a);
    await waitFor('A holding all three', () => a.holding.size === 3, 60_000, 50);
    const cb = open(m, { sessionTimeoutMs: 10_000 });
    await cb.start(b);
    await waitFor('the partitions split', () => a.holding.size > 0 && b.holding.size > 0 && a.holding.size + b.holding.size === 3, 60_000, 50);
    expect([...a.holding].filter((p) => b.holding.has(p))).toEqual([]);
    await produce(t, 3, 100);
    const delivered = (p: number): Set<number> => new Set([...a.offsets(`${t}-${p}`), ...b.offsets(`${t}-${p}`)]);
    await waitFor('the first 100 per partition', () => [0, 1, 2].every((p) => delivered(p).size === 100), 60_000, 50);
    // Each partition went to the connector holding it.
    for (const p of a.holding) expect(b.offsets(p)).toEqual([]);
    for (const p of b.holding) expect(a.offsets(p)).toEqual([]);

    await cb.stop();
    await waitFor('A holding all three again', () => a.holding.size === 3, 60_000, 50);
    await produce(t, 3, 100, 100);
    await waitFor('the next 100 per partition, through A', () => [0, 1, 2].every((p) => a.offsets(`${t}-${p}`).includes(199)), 60_000, 50);
    for (let p = 0; p < 3; p++) expect([...delivered(p)].sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect([...a.violations, ...b.violations]).toEqual([]);
    await ca.stop();
  }, 240_000);

  it('reports lag per partition while the sink holds records back, and 0 once it commits them', async () => {
    const t = await topic('lagging', 3);
    await produce(t, 3, 40);
    const rec = new Recorder();
    let open_ = false;
    rec.behave = async () => {
      await waitFor('the gate', () => open_, 60_000, 20);
    };
    const c = open(mapping('lagging', t, { startingPosition: 'TRIM_HORIZON', batchSize: 10 }));
    await c.start(rec);
    await waitFor('three calls held', () => rec.calls.length === 3, 60_000, 20);
    expect(await c.lag()).toEqual([0, 1, 2].map((p) => ({ partition: `${t}-${p}`, lag: 40 })));
    open_ = true;
    await waitFor('lag 0', async () => (await c.lag()).every((p) => p.lag === 0), 60_000, 100);
    await c.stop();
  }, 120_000);

  it('starts a new group at TRIM_HORIZON, LATEST or AT_TIMESTAMP', async () => {
    const t = await topic('positions', 1);
    const base = Date.now() - 3_600_000;
    // Five old records a second apart (CreateTime set by the producer).
    await producer.send({ topic: t, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `old${i}`, timestamp: String(base + i * 1000) })) });

    const trim = new Recorder();
    const latest = new Recorder();
    const at = new Recorder();
    const ct = open(mapping('pos-trim', t, { startingPosition: 'TRIM_HORIZON' }));
    const cl = open(mapping('pos-latest', t, { startingPosition: 'LATEST' }));
    const ca = open(mapping('pos-at', t, { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: new Date(base + 2000).toISOString() }));
    await Promise.all([ct.start(trim), cl.start(latest), ca.start(at)]);
    // LATEST means after the mapping started: records produced from here on.
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'new0' }, { value: 'new1' }] });
    const values = (r: Recorder): string[] => (r.got.get(`${t}-0`) ?? []).map((x) => x.value?.toString() ?? '');
    await waitFor('each reader up to new1', () => [trim, latest, at].every((r) => values(r).at(-1) === 'new1'), 60_000, 50);
    expect(values(trim)).toEqual(['old0', 'old1', 'old2', 'old3', 'old4', 'new0', 'new1']);
    expect(values(latest)).toEqual(['new0', 'new1']);
    expect(values(at)).toEqual(['old2', 'old3', 'old4', 'new0', 'new1']);
    expect((at.got.get(`${t}-0`) ?? [])[0]?.timestampMs).toBe(base + 2000);
    await Promise.all([ct.stop(), cl.stop(), ca.stop()]);

    // A group with a commit goes on from it whatever its starting position says.
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'new2' }] });
    const again = new Recorder();
    const cl2 = open(mapping('pos-latest', t, { startingPosition: 'LATEST' }));
    await cl2.start(again);
    await waitFor('new2', () => values(again).includes('new2'), 60_000, 50);
    expect(values(again)).toEqual(['new2']);
    await cl2.stop();
  }, 180_000);

  it('LATEST is where the mapping started for the whole group: a member taking over a partition with nothing committed yet skips nothing', async () => {
    const t = await topic('latest-group', 1);
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'before' }] });
    const m = mapping('latest-group', t, { startingPosition: 'LATEST' });
    const a = new Recorder();
    // A holds its first batch until it is stopped: nothing of it is committed.
    a.behave = (_p, _r, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    const ca = open(m);
    await ca.start(a);
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'r0' }, { value: 'r1' }] });
    await waitFor('A holding r0, r1', () => a.count() === 2, 60_000, 50);
    // B starts later (the end is 3 by now) and takes the partition when A stops.
    const b = new Recorder();
    const cb = open(m, { sessionTimeoutMs: 10_000 });
    await cb.start(b);
    await ca.stop();
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'r2' }] });
    await waitFor('B up to r2', () => (b.got.get(`${t}-0`) ?? []).some((r) => r.value?.toString() === 'r2'), 60_000, 50);
    expect((b.got.get(`${t}-0`) ?? []).map((r) => r.value?.toString())).toEqual(['r0', 'r1', 'r2']);
    await cb.stop();
  }, 120_000);

  it('gathers records for maximumBatchingWindowInSeconds before handing fewer than batchSize', async () => {
    const t = await topic('window', 1);
    const rec = new Recorder();
    const c = open(mapping('window', t, { startingPosition: 'TRIM_HORIZON', maximumBatchingWindowInSeconds: 3 }));
    await c.start(rec);
    await producer.send({ topic: t, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `a${i}` })) });
    await new Promise((r) => setTimeout(r, 300));
    await producer.send({ topic: t, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ value: `b${i}` })) });
    await waitFor('ten records', () => rec.count() === 10, 30_000, 50);
    // Both sends came within the window: one call with all ten, not one per fetch.
    expect(rec.calls.map((x) => x.records.length)).toEqual([10]);
    await c.stop();
  }, 120_000);

  it('keeps heartbeating while a batch runs longer than the group session: the partition is not taken away', async () => {
    const t = await topic('slow', 1);
    await produce(t, 1, 20);
    const rec = new Recorder();
    rec.behave = async (_p, _r, _s, call) => {
      if (call === 1) await new Promise((r) => setTimeout(r, 9_000));
    };
    // The broker's smallest session (group.min.session.timeout.ms): a member silent for 6 s would lose its partitions.
    const c = open(mapping('slow', t, { startingPosition: 'TRIM_HORIZON', batchSize: 10 }), { sessionTimeoutMs: 6_000 });
    await c.start(rec);
    await waitFor('both batches', () => rec.count() >= 20, 60_000, 50);
    expect(rec.offsets(`${t}-0`)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(rec.released_).toEqual([]);
    await c.stop();
  }, 120_000);

  it('reads only committed transactions, and its commits pass the transaction markers: lag reaches 0', async () => {
    const t = await topic('txn', 1);
    const tx = client.producer({ transactionalId: 'hearth-test-txn', idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    try {
      const aborted = await tx.transaction();
      await aborted.send({ topic: t, messages: [{ value: 'aborted0' }, { value: 'aborted1' }] });
      await aborted.abort();
      const committed = await tx.transaction();
      await committed.send({ topic: t, messages: [{ value: 'kept0' }, { value: 'kept1' }, { value: 'kept2' }] });
      await committed.commit();
    } finally {
      await tx.disconnect();
    }
    // Offsets 0-1 aborted, 2 the abort marker, 3-5 kept, 6 the commit marker: the end is 7 once the coordinator
    // has written the markers (it does so after commit() returns).
    await waitFor('the commit marker written', async () => (await admin.fetchTopicOffsets(t))[0]?.high === '7', 30_000, 50);
    const rec = new Recorder();
    const c = open(mapping('txn', t, { startingPosition: 'TRIM_HORIZON' }));
    await c.start(rec);
    await waitFor('the kept records', () => rec.count() >= 3, 60_000, 50);
    expect((rec.got.get(`${t}-0`) ?? []).map((r) => r.value?.toString())).toEqual(['kept0', 'kept1', 'kept2']);
    await waitFor('lag 0 (the commit past the marker)', async () => (await c.lag())[0]?.lag === 0, 30_000, 100);
    const offsets = await admin.fetchOffsets({ groupId: 'hearth-default-txn', topics: [t] });
    expect(offsets[0]?.partitions[0]?.offset).toBe('7');

    // Then a fetch holding nothing but an aborted transaction (7-8 and its marker at 9): the idle reader commits past it too.
    const tx2 = client.producer({ transactionalId: 'hearth-test-txn', idempotent: true, maxInFlightRequests: 1 });
    await tx2.connect();
    try {
      const aborted = await tx2.transaction();
      await aborted.send({ topic: t, messages: [{ value: 'aborted2' }, { value: 'aborted3' }] });
      await aborted.abort();
    } finally {
      await tx2.disconnect();
    }
    await waitFor('the commit past the aborted transaction', async () => (await admin.fetchOffsets({ groupId: 'hearth-default-txn', topics: [t] }))[0]?.partitions[0]?.offset === '10', 30_000, 100);
    expect((await c.lag())[0]?.lag).toBe(0);
    expect(rec.count()).toBe(3);
    await c.stop();
  }, 120_000);

  it('produces onFailure records to a kafka:// topic of the same cluster', async () => {
    const t = await topic('produce-src', 1);
    const dlq = await topic('produce-dlq', 1);
    const c = open(mapping('produce', t));
    await c.start(new Recorder());
    await c.produce(dlq, Buffer.from('{"failed":true}'));
    const ends = await admin.fetchTopicOffsets(dlq);
    expect(ends[0]?.high).toBe('1');
    await c.stop();
  }, 60_000);

  it('reports a problem for a topic that does not exist, and for brokers it cannot reach', async () => {
    const rec = new Recorder();
    const c = open(mapping('missing', 'no-such-topic'));
    await c.start(rec);
    expect(rec.problems[0]).toBe(`Kafka topic no-such-topic does not exist on ${broker.bootstrap}`);
    await c.stop();

    const down = new Recorder();
    const m = EventSourceMappingSchema.parse({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name: 'down' },
      spec: { functionName: 'fn', kafka: { bootstrapServers: ['127.0.0.1:1'], topics: ['x'] } },
    });
    const cd = open(m);
    await cd.start(down);
    expect(down.problems[0]).toMatch(/^cannot reach Kafka at 127\.0\.0\.1:1: /);
    await cd.stop();
  }, 120_000);

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('reads through a SASL listener with %s credentials, and says so when they are refused', async (mechanism) => {
    const t = await topic(`sasl-${mechanism}`, 1);
    await producer.send({ topic: t, acks: -1, messages: [{ value: mechanism }] });
    const spec = { startingPosition: 'TRIM_HORIZON' as const, kafka: { bootstrapServers: [broker.saslBootstrap as string], topics: [t], sasl: { mechanism, username: { name: 's', key: 'u' }, password: { name: 's', key: 'p' } } } };
    const rec = new Recorder();
    const c = open(mapping(`sasl-${mechanism}`, t, spec), { credentials: { sasl: { mechanism, username: 'alice', password: 'alice-secret' } } });
    await c.start(rec);
    await waitFor('the record', () => rec.count() === 1, 60_000, 50);
    expect(rec.got.get(`${t}-0`)?.[0]?.value?.toString()).toBe(mechanism);
    await c.stop();

    const refused = new Recorder();
    const bad = open(mapping(`sasl-bad-${mechanism}`, t, spec), { credentials: { sasl: { mechanism, username: 'alice', password: 'wrong' } } });
    await bad.start(refused);
    expect(refused.problems[0]).toMatch(/^Kafka refused the credentials \(SASL\): /);
    expect(refused.count()).toBe(0);
    await bad.stop();
  }, 120_000);

  it('reads over TLS trusting the mapping\'s CA, and reports a broker whose certificate it cannot verify', async () => {
    const t = await topic('tls', 1);
    await producer.send({ topic: t, acks: -1, messages: [{ value: 'over tls' }] });
    const spec = { startingPosition: 'TRIM_HORIZON' as const, kafka: { bootstrapServers: [broker.tlsBootstrap as string], topics: [t], tls: { ca: { name: 's', key: 'ca.crt' } } } };
    const rec = new Recorder();
    const c = open(mapping('tls', t, spec), { credentials: { tls: { ca: broker.caPem as string } } });
    await c.start(rec);
    await waitFor('the record', () => rec.count() === 1, 60_000, 50);
    expect(rec.got.get(`${t}-0`)?.[0]?.value?.toString()).toBe('over tls');
    await c.stop();

    // Without the CA the system's CAs are trusted, and none of them signed the broker's certificate.
    const untrusted = new Recorder();
    const u = open(mapping('tls-untrusted', t, { ...spec, kafka: { ...spec.kafka, tls: { enabled: true } } }));
    await u.start(untrusted);
    expect(untrusted.problems[0]).toMatch(/^cannot reach Kafka at .*certificate/);
    expect(untrusted.count()).toBe(0);
    await u.stop();
  }, 120_000);

  it('tries again after a problem: a topic created later is read', async () => {
    const rec = new Recorder();
    const c = open(mapping('later', 'later', { startingPosition: 'TRIM_HORIZON' }), { reconnectDelayMs: 200 });
    await c.start(rec);
    expect(rec.problems[0]).toBe(`Kafka topic later does not exist on ${broker.bootstrap}`);
    await topic('later', 1);
    await producer.send({ topic: 'later', acks: -1, messages: [{ value: 'at last' }] });
    await waitFor('the record', () => rec.count() === 1, 60_000, 50);
    expect(rec.got.get('later-0')?.[0]?.value?.toString()).toBe('at last');
    await c.stop();
  }, 120_000);

  describe('a Kafka mapping under hearth up', () => {
    const SOURCE = `
import json, os

def handler(event, context):
    with open(os.environ['OUT'], 'a') as f:
        for key, recs in event['records'].items():
            f.write(json.dumps({'source': event['eventSource'], 'servers': event['bootstrapServers'], 'key': key,
                                'offsets': [r['offset'] for r in recs], 'values': [r['value'] for r in recs]}) + '\\n')
    return None
`;
    let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
    // Made when the test runs (not when the file is collected), so a filtered-out run leaves nothing behind.
    let out = '';
    afterAll(async () => {
      await platform?.close();
      if (out) rmSync(dirname(out), { recursive: true, force: true });
      if (platform) rmSync(platform.dir, { recursive: true, force: true });
    });

    it('invokes the function with Lambda\'s self-managed Kafka event, in order per partition, and shows the mapping OK with lag 0 (SASL credentials from a Secret file)', async () => {
      out = join(mkdtempSync(join(tmpdir(), 'hearth-kafka-esm-')), 'batches.jsonl');
      const t = await topic('embedded', 3);
      await produce(t, 3, 100);
      platform = await startPlatform(
        { recorder: { ...py(SOURCE), env: [{ name: 'OUT', value: out }] } },
        // Unsandboxed, so the function can write its record of batches where the test reads it.
        { backend: { sandbox: false }, eventSources: { lagIntervalMs: 200 } },
        {
          'recorder-kafka.yaml': stringify({
            apiVersion: 'hearth.dev/v1alpha1',
            kind: 'EventSourceMapping',
            metadata: { name: 'recorder-kafka' },
            spec: {
              functionName: 'recorder',
              // Through the SASL listener, the credentials from a Secret of the functions directory.
              kafka: { bootstrapServers: [broker.saslBootstrap], topics: [t], sasl: { mechanism: 'scram-sha-512', username: { name: 'kafka-creds', key: 'user' }, password: { name: 'kafka-creds', key: 'password' } } },
              startingPosition: 'TRIM_HORIZON',
              batchSize: 50,
            },
          }),
          'kafka-creds.yaml': stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kafka-creds' }, stringData: { user: 'alice', password: 'alice-secret' } }),
        },
      );
      type Line = { source: string; servers: string; key: string; offsets: number[]; values: string[] };
      const lines = (): Line[] => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) : []);
      await waitFor('300 records through the function', () => lines().reduce((n, l) => n + l.offsets.length, 0) >= 300, 120_000, 100);
      for (let p = 0; p < 3; p++) {
        const mine = lines().filter((l) => l.key === `${t}-${p}`);
        expect(mine.flatMap((l) => l.offsets)).toEqual(Array.from({ length: 100 }, (_, i) => i));
        expect(mine.flatMap((l) => l.values).map((v) => Buffer.from(v, 'base64').toString())).toEqual(Array.from({ length: 100 }, (_, i) => `${p}:${i}`));
        expect(Math.max(...mine.map((l) => l.offsets.length))).toBeLessThanOrEqual(50);
      }
      expect(new Set(lines().map((l) => `${l.source} ${l.servers}`))).toEqual(new Set([`SelfManagedKafka ${broker.saslBootstrap}`]));
      await waitFor('the mapping OK with lag 0', async () => {
        await platform?.eventSources?.refreshLag();
        const s = platform?.eventSources?.list()[0]?.status;
        return s?.lastProcessingResult === 'OK' && s.totalLag === 0 && s.lag.length === 3 ? s : undefined;
      }, 30_000, 200);
    }, 180_000);
  });
});
