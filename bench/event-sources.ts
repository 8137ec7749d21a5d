// Kafka event-source mappings end to end: a real broker (Apache Kafka 4.4.0,
// KRaft, test/servers/kafka.ts) holds a backlog of records over 3
// partitions; the embedded platform, given a Kafka EventSourceMapping (batch
// size 100) to a no-op Python function, drains it through EventSources, the
// partition processors and the platform's invoker. Beside it, on the same
// broker and backlog in the same run: Kafka's own ConsumerPerformance (the
// JVM client reading as fast as it can, the baseline) and the Kafka connector
// alone with a sink that commits at once (what kafkajs and the connector
// cost before any function runs). Each reader is its own consumer group;
// a run ends when the group's commits reach the end of every partition.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { EventSourceMappingSchema } from '../src/api/event-source-mapping.js';
import { kafkaConnector } from '../src/sources/kafka/connector.js';
import { positionOf } from '../src/sources/records.js';
import { startEmbedded } from '../src/platform/embedded.js';
import { fetchKafka, startKafka, type KafkaBroker } from '../test/servers/kafka.js';
import { skipped, type Row } from './report.js';

const RECORDS = Number(process.env.BENCH_EVENT_SOURCES_RECORDS ?? 100_000);
const PARTITIONS = 3;
const BATCH = 100;
const VALUE = Buffer.alloc(200, 'x');
const TOPIC = 'bench-events';

async function fill(kafka: Kafka, admin: Admin): Promise<void> {
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < RECORDS; i += 1000) {
      await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: Math.min(1000, RECORDS - i) }, (_, j) => ({ partition: (i + j) % PARTITIONS, value: VALUE })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Waits (bounded) until the group has committed the end of every partition; the time it took from `since`. */
async function drained(admin: Admin, groupId: string, since: number, timeoutMs = 600_000): Promise<number> {
  const ends = new Map((await admin.fetchTopicOffsets(TOPIC)).map((p) => [p.partition, p.high]));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const committed = (await admin.fetchOffsets({ groupId, topics: [TOPIC] }))[0]?.partitions ?? [];
    if (committed.length === PARTITIONS && committed.every((p) => p.offset === ends.get(p.partition))) return performance.now() - since;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not drain ${TOPIC} in ${timeoutMs} ms: ${JSON.stringify(committed)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Kafka's ConsumerPerformance on the same broker: its own figure of records per second (after its group join). */
async function consumerPerformance(broker: KafkaBroker): Promise<Row> {
  const { stdout } = await broker.runTool('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    TOPIC,
    '--messages',
    String(RECORDS),
    '--group',
    'bench-consumer-performance',
    '--timeout',
    '60000',
  ]);
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = stdout.trim().split('\n');
  const header = (lines.find((l) => l.includes('nMsg.sec')) ?? '').split(',').map((c) => c.trim());
  const values = (lines.at(-1) ?? '').split(',').map((c) => c.trim());
  const col = (name: string): number => Number(values[header.indexOf(name)]);
  const rps = col('nMsg.sec');
  if (!Number.isFinite(rps)) throw new Error(`ConsumerPerformance printed no figures: ${stdout}`);
  return { name: 'Kafka ConsumerPerformance (baseline)', p50Ms: Number.NaN, p99Ms: Number.NaN, rps: Math.round(rps), note: `${col('data.consumed.in.nMsg')} records of ${VALUE.length} B, JVM client, same broker; ${Math.round(col('fetch.nMsg.sec'))}/s while fetching` };
}

/** The Kafka connector with a sink that commits each hand-over at once: kafkajs and the connector alone. */
async function connectorAlone(broker: KafkaBroker, admin: Admin): Promise<Row> {
  const mapping = EventSourceMappingSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name: 'bench-connector' },
    spec: { functionName: 'none', kafka: { bootstrapServers: [broker.bootstrap], topics: [TOPIC], consumerGroupId: 'bench-connector' }, batchSize: BATCH, startingPosition: 'TRIM_HORIZON' },
  });
  const connector = kafkaConnector(mapping, { clientId: 'hearth-bench', credentials: {} });
  const t0 = performance.now();
  await connector.start({
    sinkFor: (_partition, commit) => ({
      process: async (records) => {
        const last = records.at(-1);
        if (last) await commit(positionOf(last));
      },
    }),
    released: () => undefined,
    problem: (m) => console.error(`bench event-sources: connector problem: ${m}`),
  });
  try {
    const ms = await drained(admin, 'bench-connector', t0);
    return { name: 'Kafka connector, committing sink', p50Ms: Number.NaN, p99Ms: Number.NaN, rps: Math.round((RECORDS / ms) * 1000), note: `kafkajs, ${BATCH} a hand-over, a commit each; no function` };
  } finally {
    await connector.stop();
  }
}

const NOOP_FUNCTION = {
  apiVersion: 'hearth.dev/v1alpha1',
  kind: 'Function',
  metadata: { name: 'noop' },
  spec: { runtime: 'python3.12', handler: 'app.handler', concurrency: 1, scaling: { minInstances: 1, maxInstances: PARTITIONS }, code: { inline: { 'app.py': 'def handler(event, context):\n    return None\n' } } },
};

/** The embedded platform: a Kafka mapping (batch size 100) through EventSources to a warm no-op Python function. */
async function endToEnd(broker: KafkaBroker, admin: Admin): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-esm-'));
  writeFileSync(join(dir, 'noop.yaml'), stringify(NOOP_FUNCTION));
  const platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  try {
    // Warm: the first call pays the cold start, which is not what this bench measures.
    const warm = await fetch(`${platform.url}/2015-03-31/functions/noop/invocations`, { method: 'POST', body: '{}' });
    if (warm.status !== 200) throw new Error(`warming the function: ${warm.status} ${await warm.text()}`);
    const t0 = performance.now();
    writeFileSync(
      join(dir, 'noop-kafka.yaml'),
      stringify({
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'noop-kafka' },
        spec: { functionName: 'noop', kafka: { bootstrapServers: [broker.bootstrap], topics: [TOPIC], consumerGroupId: 'bench-event-sources' }, batchSize: BATCH, startingPosition: 'TRIM_HORIZON' },
      }),
    );
    const ms = await drained(admin, 'bench-event-sources', t0);
    const status = platform.eventSources?.list()[0]?.status;
    return {
      name: 'EventSources → no-op Python function',
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      rps: Math.round((RECORDS / ms) * 1000),
      note: `embedded platform, batch size ${BATCH}, ${PARTITIONS} partitions (a batch in flight each); from the mapping file to the last commit; ${status?.lastProcessingResult ?? '?'}`,
    };
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchEventSources(): Promise<Row[]> {
  const fetched = await fetchKafka();
  if ('skip' in fetched) return [skipped('Kafka event sources', fetched.skip)];
  const broker = await startKafka();
  const kafka = new Kafka({ clientId: 'hearth-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await fill(kafka, admin);
    const rows: Row[] = [];
    rows.push(await consumerPerformance(broker));
    rows.push(await connectorAlone(broker, admin));
    rows.push(await endToEnd(broker, admin));
    return rows;
  } finally {
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
  }
}
