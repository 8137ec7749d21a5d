// A graceful stop's decisions (drain.ts), table-tested, and the partition
// processor's drain(): the invocation in flight finishes and its outcome is
// committed, and nothing starts after it (no next batch, no retry, no half of
// a split, no rest after a partial failure, no call waiting for a slot).
// The connectors' drains against real Redis and Kafka are in
// graceful-stop.test.ts.
import { describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import type { Invocation, Invoker } from '../../src/dispatch/invoker.js';
import type { BatchPolicy } from '../../src/sources/batch-plan.js';
import { Semaphore } from '../../src/sources/concurrency-slots.js';
import { DEFAULT_DRAIN_MS, drainMsUntil, mayStart, type PartitionStep } from '../../src/sources/drain.js';
import { PartitionProcessor, type FailedBatch } from '../../src/sources/partition-processor.js';
import type { RedisStreamRecord, SourceRecord } from '../../src/sources/records.js';

describe('drain decisions (pure)', () => {
  it.each<[PartitionStep, boolean, boolean]>([
    ['batch', false, true],
    ['retry', false, true],
    ['split', false, true],
    ['rest', false, true],
    ['failure-delivery', false, true],
    ['commit', false, true],
    // Draining: nothing that invokes starts; what settles the invocation that ran goes on.
    ['batch', true, false],
    ['retry', true, false],
    ['split', true, false],
    ['rest', true, false],
    ['failure-delivery', true, true],
    ['commit', true, true],
  ])('%s while draining=%s: starts %s', (step, draining, want) => {
    expect(mayStart(step, draining)).toBe(want);
  });

  it.each([
    [10_000, 4_000, 6_000],
    [10_000, 10_000, 0],
    [10_000, 12_000, 0],
    [10_000.9, 4_000, 6_000],
  ])('deadline %d at %d leaves %d ms', (deadline, now, want) => {
    expect(drainMsUntil(deadline, now)).toBe(want);
  });

  it('a mapping stopped on its own (disabled, changed, deleted) drains for at most 30 s (README)', () => {
    expect(DEFAULT_DRAIN_MS).toBe(30_000);
  });
});

const rec = (i: number): RedisStreamRecord => ({ source: 'redis-streams', stream: 's', id: `${1_000 + i}-0`, fields: [['seq', String(i)]] });
const records = (n: number, from = 1): RedisStreamRecord[] => Array.from({ length: n }, (_, k) => rec(from + k));
const seqs = (rs: readonly SourceRecord[]): number[] => rs.map((r) => Number((r as RedisStreamRecord).fields[0]?.[1]));
const ok: InvokeResult = { outcome: 'success', payload: Buffer.from('null'), durationMs: 1 };
const bad: InvokeResult = { outcome: 'handled', payload: Buffer.from('{"errorType":"Poison"}'), errorType: 'Poison', durationMs: 1 };

/** An Invoker whose calls wait until the test lets them answer; records each batch's sequence numbers. */
class GatedInvoker implements Invoker {
  calls: number[][] = [];
  #waiting: Array<() => void> = [];
  constructor(private readonly answer: (batch: number[], call: number) => InvokeResult) {}
  async invoke(inv: Invocation): Promise<InvokeResult> {
    const batch = JSON.parse(inv.payload.toString()) as number[];
    this.calls.push(batch);
    const n = this.calls.length;
    await new Promise<void>((r) => this.#waiting.push(r));
    return this.answer(batch, n);
  }
  /** Lets the oldest waiting call answer. */
  answerOne(): void {
    this.#waiting.shift()?.();
  }
  get waiting(): number {
    return this.#waiting.length;
  }
}

const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({ batchSize: 10, reportBatchItemFailures: false, bisectOnError: false, maximumRetryAttempts: -1, maximumRecordAgeMs: -1, ...p });

function processor(invoker: Invoker, p: Partial<BatchPolicy>, extra: { slots?: Semaphore; delayMs?: number } = {}) {
  const commits: string[] = [];
  const failures: FailedBatch[] = [];
  const proc = new PartitionProcessor({
    functionName: 'f',
    invoker,
    policy: policy(p),
    filter: (r) => (r as RedisStreamRecord).fields[0]?.[1] !== 'skip',
    payload: (rs) => Buffer.from(JSON.stringify(seqs(rs))),
    sendFailure: async (b) => void failures.push(b),
    commit: async (pos) => void commits.push(pos),
    delayMs: () => extra.delayMs ?? 1,
    ...(extra.slots ? { slots: extra.slots } : {}),
  });
  return { proc, commits, failures };
}

const until = async (what: string, probe: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !probe(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!probe()) throw new Error(`timed out waiting for ${what}`);
};

describe('partition processor drain()', () => {
  it('lets the batch in flight finish and commit, then starts no next batch; the call resolves', async () => {
    const inv = new GatedInvoker(() => ok);
    const { proc, commits } = processor(inv, { batchSize: 10 });
    const done = proc.process(records(30), new AbortController().signal);
    await until('the first batch in flight', () => inv.waiting === 1);
    proc.drain();
    inv.answerOne();
    await done;
    expect(inv.calls).toEqual([seqs(records(10))]);
    expect(commits).toEqual([rec(10).id]);
    // Later calls do nothing: the partition is leaving.
    await proc.process(records(5, 31), new AbortController().signal);
    expect(inv.calls.length).toBe(1);
  });

  it('does not retry a failed batch: its records are left uncommitted for the next owner', async () => {
    const inv = new GatedInvoker(() => bad);
    const { proc, commits } = processor(inv, { batchSize: 10 }, { delayMs: 60_000 });
    const done = proc.process(records(10), new AbortController().signal);
    await until('the batch in flight', () => inv.waiting === 1);
    inv.answerOne();
    // The call failed and the processor waits out a long backoff: the drain ends it, and the retry does not start.
    await new Promise((r) => setTimeout(r, 20));
    proc.drain();
    await done;
    expect(inv.calls.length).toBe(1);
    expect(commits).toEqual([]);
  });

  it('commits what a partial batch failure reports done, and does not retry the rest', async () => {
    const inv = new GatedInvoker(() => ({ outcome: 'success', payload: Buffer.from(JSON.stringify({ batchItemFailures: [{ itemIdentifier: rec(4).id }] })), durationMs: 1 }));
    const { proc, commits } = processor(inv, { batchSize: 10, reportBatchItemFailures: true });
    const done = proc.process(records(10), new AbortController().signal);
    await until('the batch in flight', () => inv.waiting === 1);
    proc.drain();
    inv.answerOne();
    await done;
    expect(inv.calls.length).toBe(1);
    expect(commits).toEqual([rec(3).id]);
  });

  it('sends a batch that failed for good to onFailure and commits it, but does not start the records after it', async () => {
    // Bisection down to one record, no retries: the failing record goes to onFailure; its siblings' halves are not started while draining.
    const inv = new GatedInvoker(() => bad);
    const { proc, commits, failures } = processor(inv, { batchSize: 1, maximumRetryAttempts: 0 });
    const done = proc.process(records(3), new AbortController().signal);
    await until('the batch in flight', () => inv.waiting === 1);
    proc.drain();
    inv.answerOne();
    await done;
    expect(inv.calls).toEqual([[1]]);
    expect(failures.map((f) => seqs(f.records))).toEqual([[1]]);
    expect(commits).toEqual([rec(1).id]);
  });

  it('a batch waiting for a slot (maximumConcurrency) is not invoked once the drain begins', async () => {
    const slots = new Semaphore(1);
    const hold = await slots.acquire(new AbortController().signal);
    const inv = new GatedInvoker(() => ok);
    const { proc, commits } = processor(inv, { batchSize: 10 }, { slots });
    const done = proc.process(records(10), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 10));
    proc.drain();
    await done;
    hold();
    expect(inv.calls).toEqual([]);
    expect(commits).toEqual([]);
  });

  it('records filtered out after the last finished batch are committed with it; a gathered batch not run is not', async () => {
    const inv = new GatedInvoker(() => ok);
    const { proc, commits } = processor(inv, { batchSize: 2 });
    const skip = (i: number): RedisStreamRecord => ({ ...rec(i), fields: [['seq', 'skip']] });
    const done = proc.process([rec(1), rec(2), skip(3), rec(4), rec(5)], new AbortController().signal);
    await until('the first batch in flight', () => inv.waiting === 1);
    proc.drain();
    inv.answerOne();
    await done;
    expect(inv.calls).toEqual([[1, 2]]);
    expect(commits).toEqual([rec(2).id, rec(3).id]);
  });

  it('the signal still aborts the invocation in flight (the drain deadline)', async () => {
    const inv = new GatedInvoker(() => ok);
    const { proc, commits } = processor(inv, { batchSize: 10 });
    const abort = new AbortController();
    const done = proc.process(records(10), abort.signal);
    await until('the batch in flight', () => inv.waiting === 1);
    proc.drain();
    abort.abort(new Error('drain deadline'));
    await expect(done).rejects.toThrow('drain deadline');
    expect(commits).toEqual([]);
  });
});
