// Kafka event-source mappings as files beside Functions, run by the embedded
// platform (`hearth up`) against a real broker (Apache Kafka from
// test/servers/kafka.ts), invoking real Python functions that record the
// sequence numbers they got: 10,000 records over 3 partitions each processed
// once and in order per partition, a poison record sent to onFailure (a
// kafka:// topic gets Lambda's per-record messages, a function the batch's
// failure record) while the rest go on, partial batch failures with Lambda's
// Kafka itemIdentifier, filter patterns from Lambda's documentation, a
// gateway killed mid-batch and another of the consumer group taking over,
// and lag scaling the function up and back.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceMappingSchema, type EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import { kafkaConnector } from '../../src/sources/kafka/connector.js';
import { EventSources } from '../../src/sources/mapping-runner.js';
import { FaultLog } from '../faults/collector.js';
import { startPlatform } from '../helpers/platform.js';
import { firstSeen, range, recordedBatches, recordingFunctions } from '../helpers/recording-function.js';
import { waitFor } from '../helpers/wait.js';
import { fetchKafka, startKafka, type KafkaBroker } from '../servers/kafka.js';

const faults = FaultLog.forFile(import.meta.url);

// Fetched before the suite is collected (make test-unit started the fetch beside the other suites); under CI=true a failed fetch fails.
const fetched = await fetchKafka();

/** A record of Lambda's filtering guide (Kafka/MSK), with a sequence number. */
const device = (seq: number, id: string, duration: number): string => JSON.stringify({ seq, device_ID: id, session: { start_time: '2024-01-01T00:00:00', duration } });

describe.skipIf('skip' in fetched)(`Kafka mappings in the functions directory${'skip' in fetched ? ` (skipped: ${fetched.skip})` : ''}`, () => {
  let broker: KafkaBroker;
  let admin: Admin;
  let producer: Producer;
  let client: Kafka;
  let out = '';
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let maxScalerInstances = 0;
  let maxScalerLag = 0;
  let sampler: NodeJS.Timeout | undefined;

  const batches = (file: string): Map<string, number[][]> => recordedBatches(out, file);

  function mappingDoc(name: string, topic: string, spec: Partial<EventSourceMappingSpecInput> & { functionName: string }): string {
    return stringify({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name },
      spec: { kafka: { bootstrapServers: [broker.bootstrap], topics: [topic] }, startingPosition: 'TRIM_HORIZON', ...spec },
    });
  }

  async function send(topic: string, messages: Array<{ partition?: number; key?: string; value: string }>): Promise<void> {
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500).map((m) => ({ partition: m.partition ?? 0, value: m.value, ...(m.key !== undefined ? { key: m.key } : {}) })) });
  }

  /** `perPartition` records {"seq": i} in each of `partitions` partitions. */
  async function fill(topic: string, partitions: number, perPartition: number, marks: (seq: number) => Record<string, unknown> = () => ({}), from = 0): Promise<void> {
    const all = [];
    for (let i = from; i < from + perPartition; i++) for (let p = 0; p < partitions; p++) all.push({ partition: p, key: `k${i}`, value: JSON.stringify({ seq: i, ...marks(i) }) });
    await send(topic, all);
  }

  /** The group's committed offsets of a topic's partitions (0 where none). */
  async function committed(group: string, topic: string): Promise<number[]> {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (t?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => Math.max(0, Number(p.offset)));
  }

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'hearth-kafka-mapping-'));
    broker = await startKafka({ partitions: 3 });
    client = new Kafka({ clientId: 'hearth-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    admin = client.admin();
    await admin.connect();
    producer = client.producer();
    await producer.connect();
    const topics: Array<[string, number]> = [
      ['bulk', 3],
      ['poison-k', 1],
      ['poison-f', 1],
      ['failures', 1],
      ['partial', 1],
      ['filter-prefix', 1],
      ['filter-numeric', 1],
      ['filter-plain', 1],
      ['scale', 3],
      ['takeover', 3],
      ['via-api', 1],
    ];
    await admin.createTopics({ topics: topics.map(([topic, numPartitions]) => ({ topic, numPartitions })), waitForLeaders: true });
    // Records are there before the platform starts: the mappings read from the start of each partition (TRIM_HORIZON).
    // 3 × 3334 = 10,002 ≥ 10,000 records.
    await fill('bulk', 3, 3334);
    await fill('poison-k', 1, 20, (seq) => (seq === 7 ? { poison: 1 } : {}), 1);
    await fill('poison-f', 1, 20, (seq) => (seq === 12 ? { poison: 1 } : {}), 1);
    await fill('partial', 1, 5, (seq) => (seq === 3 ? { fail: 1 } : {}), 1);
    await fill('scale', 3, 1200);
    await fill('via-api', 1, 50);
    // Lambda's guide: a JSON value's fields (prefix, numeric), and a plain-string value (anything-but). Each topic: offsets 1 and 3 match.
    await send('filter-prefix', [device(0, 'CD1234', 162), device(1, 'AB1234', 162), device(2, 'XY1234', 162), device(3, 'AB9876', 20)].map((value) => ({ value })));
    await send('filter-numeric', [device(0, 'AB1234', 100), device(1, 'AB1234', 162), device(2, 'AB1234', 50), device(3, 'CD1234', 101)].map((value) => ({ value })));
    await send('filter-plain', ['error', 'Hello, this is a test.', 'error', 'ok'].map((value) => ({ value })));

    const docs = [
      mappingDoc('bulk', 'bulk', { functionName: 'recorder', batchSize: 100 }),
      mappingDoc('poison-to-topic', 'poison-k', { functionName: 'poison', batchSize: 5, bisectBatchOnFunctionError: true, maximumRetryAttempts: 2, destinationConfig: { onFailure: { destination: 'kafka://failures' } } }),
      mappingDoc('poison-to-function', 'poison-f', { functionName: 'poison', batchSize: 5, maximumRetryAttempts: 1, destinationConfig: { onFailure: { destination: 'dlq' } } }),
      mappingDoc('partial', 'partial', { functionName: 'partial', batchSize: 5, functionResponseTypes: ['ReportBatchItemFailures'] }),
      mappingDoc('filter-prefix', 'filter-prefix', { functionName: 'recorder', filterCriteria: { filters: [{ pattern: '{"value": {"device_ID": [{"prefix": "AB"}]}}' }] } }),
      mappingDoc('filter-numeric', 'filter-numeric', { functionName: 'recorder', filterCriteria: { filters: [{ pattern: '{"value": {"session": {"duration": [{"numeric": [">", 100]}]}}}' }] } }),
      mappingDoc('filter-plain', 'filter-plain', { functionName: 'recorder', filterCriteria: { filters: [{ pattern: '{"value": [{"anything-but": ["error"]}]}' }] } }),
      mappingDoc('scaler', 'scale', { functionName: 'scaler', batchSize: 10 }),
    ];
    platform = await startPlatform(
      recordingFunctions(out),
      // Plain processes: a sandbox's private /tmp would hide the files the functions record into.
      { eventSources: { lagIntervalMs: 200, retryDelayMs: () => 20 }, backend: { sandbox: false } },
      { 'mappings.yaml': docs.join('---\n') },
    );
    sampler = setInterval(() => {
      maxScalerInstances = Math.max(maxScalerInstances, platform?.backend.instances('scaler').length ?? 0);
      maxScalerLag = Math.max(maxScalerLag, platform?.eventSources?.lag('scaler') ?? 0);
    }, 100);
  }, 180_000);

  afterAll(async () => {
    faults.flush();
    clearInterval(sampler);
    await platform?.close();
    await producer?.disconnect();
    await admin?.disconnect();
    await broker?.stop();
    if (platform) rmSync(platform.dir, { recursive: true, force: true });
    if (out) rmSync(out, { recursive: true, force: true });
  }, 60_000);

  it('10,000 records over 3 partitions: each processed, none lost, in order per partition', async () => {
    await waitFor('every bulk record', () => ['bulk-0', 'bulk-1', 'bulk-2'].reduce((n, p) => n + (batches('bulk.jsonl').get(p)?.flat().length ?? 0), 0) >= 10_002, 60_000, 200);
    const got = batches('bulk.jsonl');
    let again = 0;
    for (const p of ['bulk-0', 'bulk-1', 'bulk-2']) {
      // Each record, in partition order, in batches of at most 100.
      expect(firstSeen(got.get(p))).toEqual(range(0, 3334));
      expect(Math.max(...(got.get(p) ?? []).map((b) => b.length))).toBeLessThanOrEqual(100);
      // At-least-once: a record runs twice only when the partition is read again from its last commit (a commit the broker did not
      // take, early on a fresh broker), so the whole run is the records in order, going back only to replay, never skipping one.
      const run = got.get(p)?.flat() ?? [];
      run.forEach((seq, i) => {
        if (i > 0 && seq !== (run[i - 1] as number) + 1) expect(seq, `${p}: after ${run[i - 1]} came ${seq}`).toBeLessThanOrEqual(run[i - 1] as number);
      });
      again += run.length - 3334;
    }
    if (again > 0) console.info(`[kafka-mapping] ${again} of 10,002 records ran again after a partition was read again from its last commit`);
    await waitFor('the group committed through the end', async () => (await committed('hearth-default-bulk', 'bulk')).every((o) => o === 3334), 20_000, 100);
  }, 90_000);

  it('a poison record goes to a kafka:// destination as Lambda\'s per-record message after its retries; the rest go on', async () => {
    const reader = client.consumer({ groupId: 'test-failures-reader' });
    const messages: Array<{ key: string | undefined; value: Record<string, unknown> }> = [];
    await reader.connect();
    try {
      await reader.subscribe({ topic: 'failures', fromBeginning: true });
      await reader.run({ eachMessage: async ({ message }) => void messages.push({ key: message.key?.toString(), value: JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown> }) });
      await waitFor('the failure message', () => messages.length > 0, 60_000, 100);
      await waitFor('the rest of poison-k', () => firstSeen(batches('poison.jsonl').get('poison-k-0')).length === 20, 30_000, 100);
      await waitFor('poison-k committed through the end', async () => (await committed('hearth-default-poison-to-topic', 'poison-k'))[0] === 20, 20_000, 100);
    } finally {
      await reader.disconnect();
    }
    // Bisected down to the poison record alone: one message, with the record's own key.
    expect(messages).toHaveLength(1);
    const [{ key, value }] = messages as [(typeof messages)[0]];
    expect(key).toBe('k7');
    expect(value.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, functionArn: expect.stringMatching(/:function:poison/) });
    expect(value.responseContext).toMatchObject({ statusCode: 200, functionError: expect.stringMatching(/Unhandled|Handled/) });
    expect(value.version).toBe('1.0');
    // The poison record is seq 7: offset 6.
    expect(value.KafkaBatchInfo).toMatchObject({ batchSize: 1, bootstrapServers: broker.bootstrap, recordInfo: { offset: '6', timestamp: expect.any(String) } });
    const payload = value.payload as { eventSource: string; records: Record<string, Array<{ offset: number; key: string; value: string }>> };
    expect(payload.eventSource).toBe('SelfManagedKafka');
    expect(Object.keys(payload.records)).toEqual(['poison-k-0']);
    const [rec] = payload.records['poison-k-0'] ?? [];
    expect(rec?.offset).toBe(6);
    expect(JSON.parse(Buffer.from(rec?.value ?? '', 'base64').toString())).toEqual({ seq: 7, poison: 1 });
  }, 120_000);

  it('a poison record goes to a function destination (invoked asynchronously with the batch\'s failure record)', async () => {
    await waitFor('the dlq function', () => existsSync(join(out, 'dlq.jsonl')), 60_000, 100);
    const [record] = readFileSync(join(out, 'dlq.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(record?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
    // Without bisection the whole batch holding the poison record (seqs 11-15, offsets 10-14) failed.
    expect(record?.KafkaBatchInfo).toMatchObject({ batchSize: 5, bootstrapServers: broker.bootstrap, recordsInfo: { 'poison-f-0': { firstRecordOffset: '10', lastRecordOffset: '14' } } });
    await waitFor('the rest of poison-f', () => firstSeen(batches('poison.jsonl').get('poison-f-0')).length === 20, 30_000, 100);
    await waitFor('poison-f committed through the end', async () => (await committed('hearth-default-poison-to-function', 'poison-f'))[0] === 20, 20_000, 100);
  }, 90_000);

  it('ReportBatchItemFailures with Lambda\'s Kafka itemIdentifier {partition, offset} retries only the failed record and those after it', async () => {
    await waitFor('the retry', () => (batches('partial.jsonl').get('partial-0')?.length ?? 0) >= 2, 60_000, 100);
    await waitFor('partial committed through the end', async () => (await committed('hearth-default-partial', 'partial'))[0] === 5, 20_000, 100);
    expect(batches('partial.jsonl').get('partial-0')).toEqual([
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);
  }, 90_000);

  it('filter patterns from Lambda\'s guide (prefix, numeric on a JSON value; anything-but on a plain string): records that match none are committed, never invoked', async () => {
    const topics = ['filter-prefix', 'filter-numeric', 'filter-plain'];
    for (const t of topics) await waitFor(`${t} committed through the end`, async () => (await committed(`hearth-default-${t}`, t))[0] === 4, 60_000, 100);
    const got = batches('bulk.jsonl');
    // Offsets 1 and 3 of each topic match (a plain-string value is recorded as its offset); the rest were never invoked.
    for (const t of topics) expect(got.get(`${t}-0`)?.flat()).toEqual([1, 3]);
    const metrics = await (await fetch(`${platform?.url}/metrics`)).text();
    for (const t of topics) expect(metrics).toMatch(new RegExp(`hearth_event_source_records_filtered_total\\{mapping="default/${t}",function="recorder"\\} 2`));
  }, 90_000);

  it('a gateway killed mid-batch loses nothing: the other member of the consumer group takes its partitions over', async () => {
    await faults.run('fault', 'event-source poller (Kafka) killed mid-batch', 'the other gateway of the consumer group takes the partitions over: every record processed, in order per partition, none lost', async (rec) => {
      const perPartition = 40;
      const mapping = EventSourceMappingSchema.parse({
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'takeover' },
        spec: { functionName: 'taker', batchSize: 5, startingPosition: 'TRIM_HORIZON', kafka: { bootstrapServers: [broker.bootstrap], topics: ['takeover'] } },
      });
      const p = platform as NonNullable<typeof platform>;
      // Two "gateways": the platform's dispatcher behind two runners, each a member of the mapping's group; each says which
      // partitions it holds and which have a batch in flight.
      const gateway = (id: string) => {
        const holding = new Set<string>();
        const inFlight = new Set<string>();
        const runner = new EventSources({
          invoker: p.dispatcher,
          queue: p.queue,
          functionArn: (n, q) => p.dispatcher.arn(n, q),
          connectorFor: (m) => {
            const c = kafkaConnector(m, { clientId: id, credentials: {}, sessionTimeoutMs: 10_000 });
            return {
              ...c,
              start: (h) =>
                c.start({
                  ...h,
                  sinkFor: (partition, commit) => {
                    holding.add(partition);
                    const sink = h.sinkFor(partition, commit);
                    return {
                      process: async (records, signal) => {
                        inFlight.add(partition);
                        try {
                          await sink.process(records, signal);
                        } finally {
                          inFlight.delete(partition);
                        }
                      },
                    };
                  },
                  released: (partition) => {
                    holding.delete(partition);
                    h.released(partition);
                  },
                }),
            };
          },
          logger: pino({ level: 'silent' }),
        });
        return { runner, holding, inFlight };
      };
      const parts = ['takeover-0', 'takeover-1', 'takeover-2'];
      const seen = (): number => parts.reduce((n, k) => n + firstSeen(batches('takeover.jsonl').get(k)).length, 0);
      const done = async (): Promise<number> => (await committed('hearth-default-takeover', 'takeover')).reduce((s, o) => s + o, 0);
      const a = gateway('gateway-a');
      const b = gateway('gateway-b');
      try {
        await a.runner.set([mapping]);
        await b.runner.set([mapping]);
        await waitFor('the partitions split between A and B', () => a.holding.size > 0 && b.holding.size > 0 && a.holding.size + b.holding.size === 3, 60_000, 50);
        await fill('takeover', 3, perPartition);
        rec.tried();
        rec.accepted(3 * perPartition);
        // Killed with a batch handed to the function and not finished: mid-batch.
        const held = await waitFor('A a few batches in, one in flight', async () => ((await done()) >= 10 && a.inFlight.size > 0 ? [...a.inFlight] : undefined), 60_000, 5);
        a.runner.kill();
        const killedAfter = [...batches('takeover.jsonl').values()].flat().length;
        await waitFor('B holding every partition', () => b.holding.size === 3, 60_000, 50);
        await waitFor('every takeover record', () => seen() === 3 * perPartition, 60_000, 50);
        await waitFor('every takeover record committed', async () => (await done()) === 3 * perPartition, 30_000, 50);
        const got = batches('takeover.jsonl');
        expect([...got.values()].flat().length).toBeGreaterThan(killedAfter);
        let ran = 0;
        for (const k of parts) {
          // Nothing lost, order kept: the first time each record ran was in partition order; a batch A had in flight may have run twice (at-least-once).
          expect(firstSeen(got.get(k))).toEqual(range(0, perPartition));
          for (const batch of got.get(k) ?? []) expect(batch).toEqual([...batch].sort((x, y) => x - y));
          ran += (got.get(k) ?? []).flat().length;
        }
        rec.lost(3 * perPartition - seen());
        rec.observe(`A killed with a batch in flight on ${held.join(', ')}; B, already in the group, took A's partitions and all ${3 * perPartition} records ran in order per partition, ${ran - 3 * perPartition} of them twice`);
      } finally {
        a.runner.kill();
        await b.runner.stop();
      }
    });
  }, 120_000);

  it('a mapping made with CreateEventSourceMapping runs as a file does; ListEventSourceMappings shows it at once; after DeleteEventSourceMapping nothing more is read', async () => {
    const api = `${platform?.url ?? ''}/2015-03-31/event-source-mappings`;
    const call = async (method: string, path = '', body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${api}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const listed = async (): Promise<string[]> => ((await call('GET', '/?FunctionName=recorder')).json.EventSourceMappings as Array<{ Topics?: string[]; UUID: string }>).filter((m) => m.Topics?.includes('via-api')).map((m) => m.UUID);
    const created = await call('POST', '/', {
      FunctionName: 'recorder',
      Topics: ['via-api'],
      SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: [broker.bootstrap] } },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(202);
    const uuid = String(created.json.UUID);
    expect(await listed()).toEqual([uuid]);
    await waitFor('the 50 records of via-api', () => firstSeen(batches('bulk.jsonl').get('via-api-0')).length === 50, 60_000, 200);
    expect(batches('bulk.jsonl').get('via-api-0')?.flat()).toEqual(range(0, 50));
    const got = await waitFor('the mapping to say OK', async () => {
      const g = await call('GET', `/${uuid}`);
      return g.json.LastProcessingResult === 'OK' && g.json.TotalLag === 0 ? g.json : undefined;
    }, 20_000, 200);
    expect(got).toMatchObject({ State: 'Enabled', BatchSize: 10, Topics: ['via-api'] });

    expect((await call('DELETE', `/${uuid}`)).status).toBe(202);
    expect(await listed()).toEqual([]);
    await waitFor('the mapping to stop running', () => !(platform?.eventSources?.list() ?? []).some((r) => r.status.uuid === uuid), 20_000, 100);
    await fill('via-api', 1, 5, () => ({}), 50);
    // Bounded: a poller still reading would have recorded them well within this.
    await new Promise((r) => setTimeout(r, 2000));
    expect(batches('bulk.jsonl').get('via-api-0')?.flat().length).toBe(50);
  }, 120_000);

  it('lag scales the function up, then back', async () => {
    await waitFor('every scaler record', () => ['scale-0', 'scale-1', 'scale-2'].every((k) => firstSeen(batches('scale.jsonl').get(k)).length === 1200), 60_000, 200);
    // The lag the autoscaler was given rose (3,600 records behind at the start), and the function went past one instance.
    expect(maxScalerLag).toBeGreaterThan(0);
    expect(maxScalerInstances).toBeGreaterThan(1);
    await waitFor('the scaler\'s lag back to 0', () => platform?.eventSources?.lag('scaler') === 0, 20_000, 200);
    await waitFor('the scaler back to at most one instance', () => (platform?.backend.instances('scaler').length ?? 0) <= 1, 40_000, 200);
  }, 120_000);
});
