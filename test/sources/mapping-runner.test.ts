// EventSources over a real redis-server with a scripted Invoker: a batch
// that cannot be processed and has no onFailure is skipped; a missing
// function acknowledges nothing until it exists; disabling keeps the
// position and enabling goes on from it; Redis unreachable shows, then
// clears; the unit lag counts for; the UUID.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { EventSourceMappingSchema, type EventSourceMapping, type EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import { DispatchError, type Invocation, type Invoker } from '../../src/dispatch/invoker.js';
import { EventSources, mappingUnit, mappingUuid } from '../../src/sources/mapping-runner.js';
import { redisStreamsConnector } from '../../src/sources/redis-streams/connector.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function mapping(name: string, stream: string, spec: Partial<EventSourceMappingSpecInput> = {}): EventSourceMapping {
  return EventSourceMappingSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name },
    spec: { functionName: 'f', batchSize: 1, startingPosition: 'TRIM_HORIZON', redisStreams: { url: server.url, streams: [stream] }, ...spec },
  });
}

/** Records the seq fields of every batch invoked; the answer decides per batch. */
class RecordingInvoker implements Invoker {
  seen: string[] = [];
  constructor(public answer: (seq: string) => InvokeResult | Error) {}
  async invoke(inv: Invocation): Promise<InvokeResult> {
    const event = JSON.parse(inv.payload.toString()) as { records: Record<string, Array<{ fields: { seq: string } }>> };
    const seq = Object.values(event.records).flat()[0]?.fields.seq ?? '';
    this.seen.push(seq);
    const a = this.answer(seq);
    if (a instanceof Error) throw a;
    return a;
  }
}

const ok: InvokeResult = { outcome: 'success', payload: Buffer.from('null'), durationMs: 1 };
const bad: InvokeResult = { outcome: 'unhandled', payload: Buffer.from('{"errorType":"Boom"}'), errorType: 'Boom', durationMs: 1 };

function runner(invoker: Invoker, exists: () => boolean = () => true): EventSources {
  return new EventSources({
    invoker,
    queue: { enqueue: async () => ({ requestId: 'x', duplicate: false }) },
    connectorFor: (m) => redisStreamsConnector(m, { leaseMs: 600, idlePollMs: 10 }),
    functionExists: exists,
    functionArn: (n) => `arn:aws:lambda:us-east-1:000000000000:function:${n}`,
    logger: pino({ level: 'silent' }),
    lagIntervalMs: 50,
    retryDelayMs: () => 5,
  });
}

const pending = async (stream: string, group: string) => ((await redis.xpending(stream, group)) as [number])[0];

describe('event sources', () => {
  it('skips a batch that cannot be processed when the mapping has no onFailure, and goes on', async () => {
    for (const seq of ['1', '2', '3']) await redis.xadd('mr1', '*', 'seq', seq);
    const inv = new RecordingInvoker((seq) => (seq === '2' ? bad : ok));
    const es = runner(inv);
    await es.set([mapping('skip', 'mr1', { maximumRetryAttempts: 1 })]);
    await waitFor('every entry acknowledged', async () => inv.seen.includes('3') && (await pending('mr1', 'hearth-default-skip')) === 0);
    expect(inv.seen).toEqual(['1', '2', '2', '3']);
    expect(es.status('default/skip')?.lastProcessingResult).toBe('OK');
    await es.stop();
  });

  it('a mapping whose function is missing acknowledges nothing until it exists', async () => {
    await redis.xadd('mr2', '*', 'seq', '1');
    let exists = false;
    const inv = new RecordingInvoker(() => (exists ? ok : new DispatchError('not-found', 'Function not found: f')));
    const es = runner(inv, () => exists);
    await es.set([mapping('ghost', 'mr2', { maximumRetryAttempts: 0 })]);
    await waitFor('a few tries', () => inv.seen.length >= 3);
    expect(es.status('default/ghost')?.lastProcessingResult).toMatch(/^PROBLEM: Function not found: f/);
    await waitFor('the lag', () => es.status('default/ghost')?.totalLag === 1);
    expect(es.backlog('f')).toBe(1);
    expect(await pending('mr2', 'hearth-default-ghost')).toBe(1);
    exists = true;
    await waitFor('acknowledged once the function exists', async () => (await pending('mr2', 'hearth-default-ghost')) === 0);
    expect(es.status('default/ghost')?.lastProcessingResult).toBe('OK');
    await es.stop();
  });

  it('enabled: false stops and keeps the position; enabled again goes on from it', async () => {
    await redis.xadd('mr3', '*', 'seq', '1');
    const inv = new RecordingInvoker(() => ok);
    const es = runner(inv);
    await es.set([mapping('toggle', 'mr3')]);
    await waitFor('the first entry', () => inv.seen.length === 1);
    await es.set([mapping('toggle', 'mr3', { enabled: false })]);
    expect(es.status('default/toggle')?.state).toBe('Disabled');
    await redis.xadd('mr3', '*', 'seq', '2');
    await new Promise((r) => setTimeout(r, 200));
    expect(inv.seen).toEqual(['1']);
    await es.set([mapping('toggle', 'mr3')]);
    await waitFor('the entry added while disabled', () => inv.seen.length === 2);
    expect(inv.seen).toEqual(['1', '2']);
    expect(es.status('default/toggle')?.state).toBe('Enabled');
    await es.set([]);
    expect(es.status('default/toggle')).toBeUndefined();
    await es.stop();
  });

  it('shows Redis unreachable while it is, and its last result again once Redis answers', async () => {
    const own = await startRedis();
    const client = new Redis(own.url);
    await client.xadd('mr4', '*', 'seq', '1');
    client.disconnect();
    const inv = new RecordingInvoker(() => ok);
    const es = runner(inv);
    try {
      const m = mapping('flaky', 'mr4');
      await es.set([{ ...m, spec: { ...m.spec, redisStreams: { streams: ['mr4'], url: own.url } } }]);
      await waitFor('OK', () => es.status('default/flaky')?.lastProcessingResult === 'OK');
      await own.kill();
      await waitFor('the outage', () => es.status('default/flaky')?.lastProcessingResult.startsWith('PROBLEM: cannot reach Redis'), 10_000);
      await own.start();
      await waitFor('OK again', () => es.status('default/flaky')?.lastProcessingResult === 'OK', 15_000);
    } finally {
      await es.stop();
      await own.stop();
    }
  });

  it('lag counts for the version\'s unit when the qualifier is a version, else $LATEST\'s; UUIDs are stable', () => {
    expect(mappingUnit(mapping('a', 's', { qualifier: '3' }))).toBe('f:3');
    expect(mappingUnit(mapping('a', 's', { qualifier: 'live' }))).toBe('f');
    expect(mappingUnit(mapping('a', 's'))).toBe('f');
    const u = mappingUuid({ metadata: { name: 'orders' } });
    expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(mappingUuid({ metadata: { name: 'orders', namespace: 'default' } })).toBe(u);
    expect(mappingUuid({ metadata: { name: 'orders', namespace: 'prod' } })).not.toBe(u);
  });

  it('a connector slow to start holds up only its own mapping: the other mapping changes at once, and its own disable shows at once and stops it once the start ends', async () => {
    // A source that takes long to answer (a Kafka broker retrying a refused connection takes ~10 s) must not freeze other mappings' changes.
    const log: string[] = [];
    let release = (): void => undefined;
    const slowStart = new Promise<void>((resolve) => (release = resolve));
    const es = new EventSources({
      invoker: new RecordingInvoker(() => ok),
      queue: { enqueue: async () => ({ requestId: 'x', duplicate: false }) },
      connectorFor: (m) => ({
        start: async () => {
          log.push(`start ${m.metadata.name} batch ${m.spec.batchSize}`);
          if (m.metadata.name === 'slow') await slowStart;
        },
        stop: async () => void log.push(`stop ${m.metadata.name} batch ${m.spec.batchSize}`),
        lag: async () => [],
      }),
      functionArn: (n) => n,
      logger: pino({ level: 'silent' }),
    });
    const slow = mapping('slow', 'mr-slow');
    const quick = mapping('quick', 'mr-quick');
    const first = es.set([slow, quick]);
    // The quick mapping's change does not wait for the slow one's start (and its first spec, replaced before its turn, never starts).
    await es.set([slow, mapping('quick', 'mr-quick', { batchSize: 2 })]);
    expect(log).toEqual(['start slow batch 1', 'start quick batch 2']);
    // Disabling the slow mapping shows at once; its connector stops when its start has ended.
    void es.set([mapping('slow', 'mr-slow', { enabled: false }), mapping('quick', 'mr-quick', { batchSize: 2 })]);
    expect(es.status('default/slow')?.state).toBe('Disabled');
    expect(log).not.toContain('stop slow batch 1');
    release();
    await first;
    await waitFor('the slow mapping to stop', () => log.includes('stop slow batch 1'), 5000);
    await es.stop();
    expect(log.filter((l) => l.startsWith('start slow'))).toEqual(['start slow batch 1']);
  });
});
