// A gateway's shutdown drains its event-source pollers (`hearth up` here,
// against a real redis-server, with a real Python function that sleeps): a
// batch running when close() begins finishes and is acknowledged, no batch
// starts after it, and the group's next reader gets only what came after it;
// one still running at the drain deadline (--drain-timeout-seconds) is cut
// there and left pending for the stream's next holder (nothing lost).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { py, startPlatform } from '../helpers/platform.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const SLEEPER = `
import json, os, time

def _log(name, event):
    seqs = [int(r['fields']['seq']) for rs in event['records'].values() for r in rs]
    with open(os.path.join(os.environ['OUT'], name), 'a') as f:
        f.write(json.dumps(seqs) + '\\n')

def handler(event, context):
    _log('started.jsonl', event)
    time.sleep(float(os.environ['DELAY']))
    _log('finished.jsonl', event)
    return None
`;

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const lines = (file: string): number[][] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as number[]) : []);
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** A platform with one mapping over `stream` (20 entries, batches of 5) to a function sleeping `delay` seconds per batch. */
async function platformWithBatchInFlight(stream: string, delay: number, drainTimeoutMs: number) {
  for (let i = 0; i < 20; i++) await redis.xadd(stream, '*', 'seq', String(i));
  const out = mkdtempSync(join(tmpdir(), 'hearth-esm-shutdown-'));
  const mapping = stringify({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name: stream },
    spec: { functionName: 'sleeper', batchSize: 5, startingPosition: 'TRIM_HORIZON', redisStreams: { url: server.url, streams: [stream] } },
  });
  const platform = await startPlatform(
    { sleeper: { ...py(SLEEPER), env: [{ name: 'OUT', value: out }, { name: 'DELAY', value: String(delay) }], timeoutSeconds: 60 } },
    // Plain processes: a sandbox's private /tmp would hide the files the function records into. A lease shorter than the batch: the drain renews it.
    { eventSources: { leaseMs: 600, idlePollMs: 20 }, backend: { sandbox: false }, shutdown: { drainTimeoutMs } },
    { 'mapping.yaml': mapping },
  );
  await waitFor('a batch running', () => lines(join(out, 'started.jsonl')).length > 0, 60_000, 20);
  return { platform, started: () => lines(join(out, 'started.jsonl')), finished: () => lines(join(out, 'finished.jsonl')), group: `hearth-default-${stream}` };
}

const pending = async (stream: string, group: string): Promise<number> => ((await redis.xpending(stream, group)) as [number])[0];

/** What the group's next reader gets: the entries never delivered to it, by seq. */
async function nextRead(stream: string, group: string): Promise<number[]> {
  const reply = (await redis.xreadgroup('GROUP', group, 'next-holder', 'COUNT', 100, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]> | null;
  return (reply?.[0]?.[1] ?? []).map(([, f]) => Number(f[1]));
}

describe('a gateway shutting down with an event-source batch running', () => {
  it('lets the batch finish and acknowledges it, starting no other: the next reader gets only what came after it', async () => {
    const s = await platformWithBatchInFlight('shutdown-drain', 1.5, 30_000);
    await s.platform.close();
    expect(s.finished()).toEqual([range(0, 5)]);
    expect(s.started()).toEqual([range(0, 5)]);
    expect(await pending('shutdown-drain', s.group)).toBe(0);
    expect(await nextRead('shutdown-drain', s.group)).toEqual(range(5, 15));
  }, 120_000);

  it('cuts a batch still running at the drain deadline and leaves its entries pending for the next holder', async () => {
    const s = await platformWithBatchInFlight('shutdown-cut', 30, 500);
    const began = Date.now();
    await s.platform.close();
    // Cut at the deadline, not after the half minute the batch would take.
    expect(Date.now() - began).toBeLessThan(20_000);
    expect(s.finished()).toEqual([]);
    expect(await pending('shutdown-cut', s.group)).toBe(5);
    expect(await nextRead('shutdown-cut', s.group)).toEqual(range(5, 15));
  }, 120_000);
});
