// The partition processor with a scripted Invoker: batches in order, one in
// flight, filtered-out records committed without an invocation, retries,
// bisection, partial batch failures, onFailure before commit, and what an
// abort leaves. FailureSenders against a real HTTP server and a real Redis.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { DispatchError, type Invocation, type Invoker } from '../../src/dispatch/invoker.js';
import type { BatchPolicy } from '../../src/sources/batch-plan.js';
import { FailureSenders } from '../../src/sources/failure-senders.js';
import { Semaphore } from '../../src/sources/concurrency-slots.js';
import { MAX_BATCH_PAYLOAD_BYTES, PartitionProcessor, type FailedBatch, type PartitionProcessorOptions } from '../../src/sources/partition-processor.js';
import type { RedisStreamRecord, SourceRecord } from '../../src/sources/records.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const rec = (i: number): RedisStreamRecord => ({ source: 'redis-streams', stream: 's', id: `${1_000 + i}-0`, fields: [['seq', String(i)]] });
const records = (n: number, from = 1): RedisStreamRecord[] => Array.from({ length: n }, (_, k) => rec(from + k));
const seqs = (rs: readonly SourceRecord[]): number[] => rs.map((r) => Number((r as RedisStreamRecord).fields[0]?.[1]));

const ok = (payload = 'null'): InvokeResult => ({ outcome: 'success', payload: Buffer.from(payload), durationMs: 1 });
const err = (): InvokeResult => ({ outcome: 'handled', payload: Buffer.from('{"errorType":"Poison","errorMessage":"bad"}'), errorType: 'Poison', durationMs: 1 });

/** An Invoker answering from a script over the batch's sequence numbers; records every call and the most calls at once. */
class ScriptedInvoker implements Invoker {
  calls: number[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly answer: (batch: number[], call: number) => InvokeResult | Error | Promise<InvokeResult>) {}
  async invoke(inv: Invocation): Promise<InvokeResult> {
    const batch = (JSON.parse(inv.payload.toString()) as number[]).slice();
    this.calls.push(batch);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 2));
      const a = await this.answer(batch, this.calls.length);
      if (a instanceof Error) throw a;
      return a;
    } finally {
      this.inFlight--;
    }
  }
}

const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({ batchSize: 10, reportBatchItemFailures: false, bisectOnError: false, maximumRetryAttempts: -1, maximumRecordAgeMs: -1, ...p });

function processor(invoker: Invoker, p: Partial<BatchPolicy>, extra: Partial<PartitionProcessorOptions> = {}) {
  const commits: string[] = [];
  const failures: FailedBatch[] = [];
  const proc = new PartitionProcessor({
    functionName: 'f',
    invoker,
    policy: policy(p),
    filter: () => true,
    payload: (rs) => Buffer.from(JSON.stringify(seqs(rs))),
    sendFailure: async (b) => void failures.push(b),
    commit: async (pos) => void commits.push(pos),
    delayMs: () => 1,
    ...extra,
  });
  return { proc, commits, failures };
}

const signal = () => new AbortController().signal;

describe('partition processor', () => {
  it('slices records into batches of batchSize, invoked in order one at a time, each committed through its last', async () => {
    const inv = new ScriptedInvoker(() => ok());
    const { proc, commits } = processor(inv, { batchSize: 10 });
    await proc.process(records(25), signal());
    expect(inv.calls).toEqual([seqs(records(10)), seqs(records(10, 11)), seqs(records(5, 21))]);
    expect(inv.maxInFlight).toBe(1);
    expect(commits).toEqual([rec(10).id, rec(20).id, rec(25).id]);
  });

  it('refuses a second call while one runs: one batch in flight per partition', async () => {
    let release: (() => void) | undefined;
    const inv = new ScriptedInvoker(() => new Promise<InvokeResult>((r) => (release = () => r(ok()))));
    const { proc } = processor(inv, {});
    const first = proc.process(records(3), signal());
    await expect(proc.process(records(3, 4), signal())).rejects.toThrow(/one batch in flight/);
    while (!release) await new Promise((r) => setTimeout(r, 1));
    release();
    await first;
  });

  it('commits filtered-out records without invoking them', async () => {
    const inv = new ScriptedInvoker(() => ok());
    const even = (r: SourceRecord) => seqs([r])[0]! % 2 === 0;
    const { proc, commits } = processor(inv, { batchSize: 2 }, { filter: even });
    await proc.process(records(7), signal());
    expect(inv.calls).toEqual([[2, 4], [6]]);
    // 1 (filtered) before the first batch, through 4, 5 (filtered) before the next, through 6, and 7 (filtered) at the end.
    expect(commits).toEqual([rec(1).id, rec(4).id, rec(5).id, rec(6).id, rec(7).id]);

    const none = new ScriptedInvoker(() => ok());
    const all = processor(none, {}, { filter: () => false });
    await all.proc.process(records(5), signal());
    expect(none.calls).toEqual([]);
    expect(all.commits).toEqual([rec(5).id]);
  });

  it('retries a failing batch until it succeeds, committing only then; platform errors are retried without counting', async () => {
    const inv = new ScriptedInvoker((_, call) => (call <= 2 ? err() : call <= 4 ? new DispatchError('throttled', 'busy') : ok()));
    const { proc, commits, failures } = processor(inv, { maximumRetryAttempts: 2 });
    await proc.process(records(3), signal());
    expect(inv.calls).toHaveLength(5);
    expect(failures).toEqual([]);
    expect(commits).toEqual([rec(3).id]);
  });

  it('sends a batch to onFailure once its retries are exhausted, then goes on', async () => {
    const inv = new ScriptedInvoker((batch) => (batch.includes(3) ? err() : ok()));
    const { proc, commits, failures } = processor(inv, { batchSize: 3, maximumRetryAttempts: 2 });
    await proc.process(records(6), signal());
    expect(inv.calls).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3], [4, 5, 6]]);
    expect(failures).toHaveLength(1);
    expect(seqs(failures[0]!.records)).toEqual([1, 2, 3]);
    expect(failures[0]).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 });
    expect(commits).toEqual([rec(3).id, rec(6).id]);
  });

  it('bisects a failing batch down to the poison record', async () => {
    const inv = new ScriptedInvoker((batch) => (batch.includes(3) ? err() : ok()));
    const { proc, commits, failures } = processor(inv, { batchSize: 4, bisectOnError: true, maximumRetryAttempts: 0 });
    await proc.process(records(4), signal());
    expect(inv.calls).toEqual([[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]);
    expect(failures.map((f) => seqs(f.records))).toEqual([[3]]);
    expect(commits).toEqual([rec(2).id, rec(3).id, rec(4).id]);
  });

  it('ReportBatchItemFailures: retries the failed record and those after it, committing those before', async () => {
    const inv = new ScriptedInvoker((batch, call) => (call === 1 ? ok(JSON.stringify({ batchItemFailures: [{ itemIdentifier: rec(3).id }] })) : ok('{"batchItemFailures":[]}')));
    const { proc, commits } = processor(inv, { batchSize: 5, reportBatchItemFailures: true });
    await proc.process(records(5), signal());
    expect(inv.calls).toEqual([
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);
    expect(commits).toEqual([rec(2).id, rec(5).id]);
  });

  it('commits a failed batch only after onFailure took it', async () => {
    const inv = new ScriptedInvoker(() => err());
    let deliver: (() => void) | undefined;
    const { proc, commits } = processor(inv, { maximumRetryAttempts: 0 }, { sendFailure: () => new Promise<void>((r) => (deliver = r)) });
    const done = proc.process(records(2), signal());
    while (!deliver) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(commits).toEqual([]);
    deliver();
    await done;
    expect(commits).toEqual([rec(2).id]);
  });

  it('an abort rejects at once with its reason, mid-call or mid-delay, and nothing after it is committed', async () => {
    const hang = new ScriptedInvoker((batch) => (batch[0] === 1 ? ok() : new Promise<InvokeResult>(() => undefined)));
    const a = processor(hang, { batchSize: 1 });
    const ac = new AbortController();
    const p = a.proc.process(records(3), ac.signal);
    while (hang.calls.length < 2) await new Promise((r) => setTimeout(r, 1));
    ac.abort(new Error('revoked'));
    await expect(p).rejects.toThrow('revoked');
    expect(a.commits).toEqual([rec(1).id]);

    const failing = new ScriptedInvoker(() => err());
    const b = processor(failing, {}, { delayMs: () => 60_000 });
    const bc = new AbortController();
    const q = b.proc.process(records(2), bc.signal);
    while (failing.calls.length < 1) await new Promise((r) => setTimeout(r, 1));
    bc.abort(new Error('stopping'));
    await expect(q).rejects.toThrow('stopping');
    expect(b.commits).toEqual([]);
  });

  it('splits a batch over the 6 MB payload limit; a single record over it goes to onFailure as PayloadTooLarge', async () => {
    const inv = new ScriptedInvoker(() => ok());
    // Record 2 alone makes a payload over the limit; each of the others is small.
    const payload = (rs: readonly SourceRecord[]) => (seqs(rs).includes(2) ? Buffer.alloc(MAX_BATCH_PAYLOAD_BYTES + 1) : Buffer.from(JSON.stringify(seqs(rs))));
    const { proc, commits, failures } = processor(inv, { batchSize: 4 }, { payload });
    await proc.process(records(4), signal());
    expect(inv.calls).toEqual([[1], [3, 4]]);
    expect(failures.map((f) => [seqs(f.records), f.condition, f.approximateInvokeCount])).toEqual([[[2], 'PayloadTooLarge', 0]]);
    expect(commits.at(-1)).toBe(rec(4).id);
  });

  it('maximumConcurrency bounds batches in flight across partitions', async () => {
    const inv = new ScriptedInvoker(async () => {
      await new Promise((r) => setTimeout(r, 10));
      return ok();
    });
    const sem = new Semaphore(2);
    const procs = [1, 2, 3, 4].map(() => processor(inv, { batchSize: 1 }, { slots: sem }).proc);
    await Promise.all(procs.map((p) => p.process(records(3), signal())));
    expect(inv.calls).toHaveLength(12);
    expect(inv.maxInFlight).toBe(2);
  });
});

describe('failure senders', () => {
  let server: Server;
  let url: string;
  let answers: number[] = [];
  const bodies: unknown[] = [];
  let redisServer: RedisServer;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += String(d)));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.statusCode = answers.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/failures`;
    redisServer = await startRedis();
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await redisServer.stop();
  });

  it('retries a URL that fails until it takes the record', async () => {
    answers = [500, 503];
    const errors: string[] = [];
    const senders = new FailureSenders({ queue: { enqueue: async () => ({ requestId: 'x', duplicate: false }) }, firstBackoffMs: 5 });
    await senders.send({ kind: 'url', url }, { hello: 1 }, signal(), (m) => errors.push(m));
    expect(bodies).toEqual([{ hello: 1 }, { hello: 1 }, { hello: 1 }]);
    expect(errors[0]).toMatch(/answered 500/);
  });

  it('writes redis-stream:// records with XADD, enqueues function destinations, and gives up only on abort', async () => {
    const redis = new Redis(redisServer.url);
    const enqueued: unknown[] = [];
    const senders = new FailureSenders({ queue: { enqueue: async (r) => (enqueued.push({ ...r, payload: JSON.parse(r.payload.toString()) }), { requestId: 'x', duplicate: false }) }, redis: () => redis });
    await senders.send({ kind: 'redis-stream', key: 'failures' }, { a: 1 }, signal());
    const [[, fields]] = (await redis.xrange('failures', '-', '+')) as [[string, string[]]];
    expect(JSON.parse(fields[1]!)).toEqual({ a: 1 });
    await senders.send({ kind: 'function', functionName: 'dlq', qualifier: 'live' }, { b: 2 }, signal());
    expect(enqueued).toEqual([{ functionName: 'dlq', qualifier: 'live', payload: { b: 2 } }]);
    redis.disconnect();

    const none = new FailureSenders({ queue: { enqueue: async () => ({ requestId: 'x', duplicate: false }) }, firstBackoffMs: 5 });
    const ac = new AbortController();
    const p = none.send({ kind: 'redis-stream', key: 'x' }, {}, ac.signal);
    setTimeout(() => ac.abort(new Error('stop')), 30);
    await expect(p).rejects.toThrow('stop');
  });
});
