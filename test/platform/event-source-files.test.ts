// Redis Streams event-source mappings as files beside Functions, run by the
// embedded platform (`hearth up`) against a real redis-server, invoking real
// Python functions that record what they got: every entry processed once and
// in order per stream, a poison entry sent to onFailure with Lambda's failure
// record while the rest go on, partial batch failures, a poller killed
// mid-batch and another taking over after the lease, lag scaling the function
// up and back, and the status routes (with a mapping's problems).
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSourceMappingSchema, type EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import { EventSources, mappingUuid } from '../../src/sources/mapping-runner.js';
import { redisStreamsConnector } from '../../src/sources/redis-streams/connector.js';
import { startPlatform } from '../helpers/platform.js';
import { firstSeen, range, recordedBatches, recordingFunctions } from '../helpers/recording-function.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { FaultLog } from '../faults/collector.js';

const faults = FaultLog.forFile(import.meta.url);

let server: RedisServer;
let redis: Redis;
const out = mkdtempSync(join(tmpdir(), 'hearth-esm-out-'));

function mappingDoc(name: string, spec: Partial<EventSourceMappingSpecInput> & { functionName: string }, streams: string[], url?: string): string {
  return stringify({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name },
    spec: { redisStreams: { url: url ?? server.url, streams }, startingPosition: 'TRIM_HORIZON', ...spec },
  });
}

async function fill(stream: string, from: number, count: number, extra: (seq: number) => string[] = () => []): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(from + count, i + 1000); j++) p.xadd(stream, '*', 'seq', String(j), ...extra(j));
    for (const [, id] of (await p.exec()) ?? []) ids.push(String(id));
  }
  return ids;
}

const batches = (file: string): Map<string, number[][]> => recordedBatches(out, file);

let platform: Awaited<ReturnType<typeof startPlatform>>;
let maxScalerInstances = 0;
let sampler: NodeJS.Timeout | undefined;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  // Entries are there before the platform starts: the mappings read from the start of each stream (TRIM_HORIZON).
  for (const s of ['bulk:a', 'bulk:b', 'bulk:c']) await fill(s, 0, 3334);
  await fill('poison:s', 1, 20, (seq) => (seq === 7 ? ['poison', '1'] : []));
  await fill('poison:f', 1, 20, (seq) => (seq === 12 ? ['poison', '1'] : []));
  await fill('partial', 1, 5, (seq) => (seq === 3 ? ['fail', '1'] : []));
  for (const s of ['scale:a', 'scale:b', 'scale:c']) await fill(s, 0, 1200);
  await fill('filter', 1, 4, (seq) => ['kind', seq % 2 === 1 ? 'paid' : 'refunded']);

  const docs = [
    mappingDoc('bulk', { functionName: 'recorder', batchSize: 100 }, ['bulk:a', 'bulk:b', 'bulk:c']),
    mappingDoc('poison-to-stream', { functionName: 'poison', batchSize: 5, bisectBatchOnFunctionError: true, maximumRetryAttempts: 2, destinationConfig: { onFailure: { destination: 'redis-stream://failures' } } }, ['poison:s']),
    mappingDoc('poison-to-function', { functionName: 'poison', batchSize: 5, maximumRetryAttempts: 1, destinationConfig: { onFailure: { destination: 'dlq' } } }, ['poison:f']),
    mappingDoc('partial', { functionName: 'partial', batchSize: 5, functionResponseTypes: ['ReportBatchItemFailures'] }, ['partial']),
    mappingDoc('scaler', { functionName: 'scaler', batchSize: 10 }, ['scale:a', 'scale:b', 'scale:c']),
    mappingDoc('filtered', { functionName: 'recorder', filterCriteria: { filters: [{ pattern: '{"fields": {"kind": ["paid"]}}' }] } }, ['filter']),
    mappingDoc('no-function', { functionName: 'ghost' }, ['ghost']),
    mappingDoc('bad-filter', { functionName: 'recorder', filterCriteria: { filters: [{ pattern: 'not json' }] } }, ['unused']),
    mappingDoc('bad-destination', { functionName: 'recorder', destinationConfig: { onFailure: { destination: 'ftp://nowhere' } } }, ['unused']),
    mappingDoc('redis-down', { functionName: 'recorder' }, ['x'], 'redis://127.0.0.1:1'),
  ];
  platform = await startPlatform(
    recordingFunctions(out),
    // Plain processes: a sandbox's private /tmp would hide the files the functions record into.
    { eventSources: { leaseMs: 1500, idlePollMs: 20, lagIntervalMs: 200, retryDelayMs: () => 20 }, backend: { sandbox: false } },
    { 'mappings.yaml': docs.join('---\n') },
  );
  sampler = setInterval(() => {
    maxScalerInstances = Math.max(maxScalerInstances, platform.backend.instances('scaler').length);
  }, 100);
}, 120_000);

afterAll(async () => {
  faults.flush();
  clearInterval(sampler);
  await platform?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('Redis Streams mappings in the functions directory', () => {
  it('10,000 entries over 3 streams: each processed, none lost, in order per stream', async () => {
    await waitFor('every bulk entry', () => [...batches('bulk.jsonl').values()].reduce((n, bs) => n + bs.flat().length, 0) >= 10_002, 60_000, 200);
    const got = batches('bulk.jsonl');
    for (const s of ['bulk:a', 'bulk:b', 'bulk:c']) {
      // Exactly each entry once, in stream order (no batch failed, so none ran twice), in batches of at most 100.
      expect(got.get(s)?.flat()).toEqual(range(0, 3334));
      expect(Math.max(...(got.get(s) ?? []).map((b) => b.length))).toBeLessThanOrEqual(100);
    }
    expect(await redis.xpending('bulk:a', 'hearth-default-bulk')).toEqual([0, null, null, null]);
  }, 90_000);

  it('a poison entry goes to a redis-stream:// destination with Lambda\'s failure record after its retries; the rest go on', async () => {
    const entries = await waitFor('the failure record', async () => ((await redis.xrange('failures', '-', '+')).length > 0 ? await redis.xrange('failures', '-', '+') : undefined), 30_000, 100);
    expect(entries).toHaveLength(1);
    const record = JSON.parse(entries[0]![1][1]!) as Record<string, unknown>;
    const poisonId = (await redis.xrange('poison:s', '-', '+')).find(([, f]) => f.includes('poison'))![0];
    expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, functionArn: expect.stringMatching(/:function:poison$/) });
    expect(record.responseContext).toMatchObject({ statusCode: 200, functionError: expect.stringMatching(/Unhandled|Handled/) });
    expect(record.version).toBe('1.0');
    expect(record.RedisStreamsBatchInfo).toMatchObject({ batchSize: 1, recordsInfo: { 'poison:s': { firstRecordId: poisonId, lastRecordId: poisonId } } });
    await waitFor('the rest of poison:s', () => firstSeen(batches('poison.jsonl').get('poison:s')).length === 20, 30_000, 100);
    expect(await redis.xpending('poison:s', 'hearth-default-poison-to-stream')).toEqual([0, null, null, null]);
  }, 60_000);

  it('a poison entry goes to a function destination (invoked asynchronously with the failure record)', async () => {
    await waitFor('the dlq function', () => existsSync(join(out, 'dlq.jsonl')), 30_000, 100);
    const [record] = readFileSync(join(out, 'dlq.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(record?.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
    // Without bisection the whole batch holding the poison entry (11-15) failed.
    const info = record?.RedisStreamsBatchInfo as { batchSize: number; recordsInfo: Record<string, { firstRecordId: string }> };
    expect(info.batchSize).toBe(5);
    const ids = (await redis.xrange('poison:f', '-', '+')).map(([id]) => id);
    expect(info.recordsInfo['poison:f']?.firstRecordId).toBe(ids[10]);
    await waitFor('the rest of poison:f', () => firstSeen(batches('poison.jsonl').get('poison:f')).length === 20, 30_000, 100);
  }, 60_000);

  it('filter patterns: entries that match none are acknowledged without an invocation', async () => {
    await waitFor('the filter stream done', async () => ((await redis.xpending('filter', 'hearth-default-filtered')) as [number])[0] === 0 && batches('bulk.jsonl').has('filter'), 30_000, 100);
    expect(batches('bulk.jsonl').get('filter')?.flat()).toEqual([1, 3]);
    expect(((await redis.xinfo('GROUPS', 'filter')) as unknown[][])[0]).toEqual(expect.arrayContaining(['lag', 0]));
  }, 60_000);

  it('ReportBatchItemFailures retries only the failed entry and those after it', async () => {
    await waitFor('the retry', () => (batches('partial.jsonl').get('partial')?.length ?? 0) >= 2, 30_000, 100);
    await new Promise((r) => setTimeout(r, 300));
    expect(batches('partial.jsonl').get('partial')).toEqual([
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);
  }, 60_000);

  it('a poller killed mid-batch loses nothing: another gateway\'s takes the stream over after the lease', async () => {
    await faults.run('fault', 'event-source poller (Redis Streams) killed mid-batch', 'another gateway takes the stream over after the lease: every entry processed, in order, none lost', async (rec) => {
      await fill('takeover', 0, 60);
      rec.tried();
      rec.accepted(60);
      const mapping = EventSourceMappingSchema.parse({
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'takeover' },
        spec: { functionName: 'taker', batchSize: 5, startingPosition: 'TRIM_HORIZON', redisStreams: { url: server.url, streams: ['takeover'] } },
      });
      // Two "gateways": the platform's dispatcher behind two runners, each its own consumer.
      const runner = () =>
        new EventSources({
          invoker: platform.dispatcher,
          queue: platform.queue,
          functionArn: (n, q) => platform.dispatcher.arn(n, q),
          connectorFor: (m) => redisStreamsConnector(m, { leaseMs: 1000, idlePollMs: 20 }),
          logger: pino({ level: 'silent' }),
        });
      const a = runner();
      await a.set([mapping]);
      const b = runner();
      const inFlight = async () => ((await redis.xpending('takeover', 'hearth-default-takeover')) as [number])[0];
      // Killed with a batch delivered to it and not acknowledged: mid-batch.
      await waitFor('A a few batches in, one in flight', async () => (batches('takeover.jsonl').get('takeover')?.length ?? 0) >= 3 && (await inFlight()) > 0, 30_000, 5);
      a.kill();
      const pendingAtKill = await inFlight();
      expect(pendingAtKill).toBeGreaterThan(0);
      await b.set([mapping]);
      const killedAfter = batches('takeover.jsonl').get('takeover')?.length ?? 0;
      try {
        await waitFor('every takeover entry', () => firstSeen(batches('takeover.jsonl').get('takeover')).length === 60, 30_000, 50);
        await waitFor('every takeover entry acknowledged', async () => ((await redis.xpending('takeover', 'hearth-default-takeover')) as [number])[0] === 0, 10_000, 50);
      } finally {
        await b.stop();
      }
      const got = batches('takeover.jsonl').get('takeover') ?? [];
      expect(got.length).toBeGreaterThan(killedAfter);
      // Nothing lost, order kept: the first time each entry ran was in stream order; a batch A had in flight may have run twice (at-least-once).
      expect(firstSeen(got)).toEqual(range(0, 60));
      for (const batch of got) expect(batch).toEqual([...batch].sort((x, y) => x - y));
      expect(((await redis.xinfo('GROUPS', 'takeover')) as unknown[][])[0]).toEqual(expect.arrayContaining(['lag', 0]));
      rec.lost(60 - firstSeen(got).length);
      rec.observe(`killed with ${pendingAtKill} entries delivered and not acknowledged; the second poller took the stream after the lease (1 s) and ran all 60 in order, ${got.flat().length - 60} run twice`);
    });
  }, 60_000);

  it('lag scales the function up, then back', async () => {
    await waitFor('every scaler entry', () => ['scale:a', 'scale:b', 'scale:c'].every((s) => firstSeen(batches('scale.jsonl').get(s)).length === 1200), 60_000, 200);
    expect(maxScalerInstances).toBeGreaterThan(1);
    await waitFor('the scaler back to at most one instance', () => platform.backend.instances('scaler').length <= 1, 40_000, 200);
  }, 120_000);

  it('status routes: Lambda\'s shapes, with each mapping\'s problems', async () => {
    const list = (await (await fetch(`${platform.url}/2015-03-31/event-source-mappings/`)).json()) as { EventSourceMappings: Array<Record<string, unknown>> };
    const byName = (name: string) => list.EventSourceMappings.find((c) => c.UUID === mappingUuid({ metadata: { name, namespace: 'default' } }));
    expect(list.EventSourceMappings).toHaveLength(10);
    expect(byName('bulk')).toMatchObject({ State: 'Enabled', LastProcessingResult: 'OK', BatchSize: 100, StartingPosition: 'TRIM_HORIZON', FunctionArn: expect.stringMatching(/:function:recorder$/), TotalLag: 0 });
    expect(byName('no-function')?.LastProcessingResult).toMatch(/^PROBLEM: Function not found: ghost/);
    expect(byName('bad-filter')).toMatchObject({ State: 'Disabled', LastProcessingResult: expect.stringMatching(/^PROBLEM: filterCriteria/) });
    expect(byName('bad-destination')).toMatchObject({ State: 'Disabled', LastProcessingResult: expect.stringMatching(/^PROBLEM: destinationConfig\.onFailure\.destination/) });
    expect(byName('redis-down')?.LastProcessingResult).toMatch(/^PROBLEM: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    const one = await fetch(`${platform.url}/2015-03-31/event-source-mappings/${byName('partial')?.UUID}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'], RedisStreamsSource: { Streams: ['partial'] } });
    const filtered = (await (await fetch(`${platform.url}/2015-03-31/event-source-mappings?FunctionName=poison`)).json()) as { EventSourceMappings: unknown[] };
    expect(filtered.EventSourceMappings).toHaveLength(2);
    expect((await fetch(`${platform.url}/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    const metrics = await (await fetch(`${platform.url}/metrics`)).text();
    expect(metrics).toMatch(/hearth_event_source_records_processed_total\{mapping="default\/bulk",function="recorder"\} 10002/);
    expect(metrics).toMatch(/hearth_event_source_records_filtered_total\{mapping="default\/filtered",function="recorder"\} 2/);
    expect(metrics).toMatch(/hearth_event_source_batches_total\{mapping="default\/poison-to-stream",function="poison",outcome="failure"\} 1/);
  });

  it('a mapping file changed while running: a new mapping starts, a removed one stops', async () => {
    await fill('late', 0, 3);
    appendFileSync(join(platform.dir, 'mappings.yaml'), '---\n' + mappingDoc('late', { functionName: 'recorder' }, ['late']));
    await waitFor('the late mapping', () => (batches('bulk.jsonl').get('late')?.flat().length ?? 0) === 3, 20_000, 100);
    writeFileSync(join(platform.dir, 'mappings.yaml'), mappingDoc('late', { functionName: 'recorder' }, ['late']));
    await waitFor('the others gone', async () => {
      const l = (await (await fetch(`${platform.url}/2015-03-31/event-source-mappings`)).json()) as { EventSourceMappings: unknown[] };
      return l.EventSourceMappings.length === 1;
    }, 20_000, 100);
  }, 30_000);
});
