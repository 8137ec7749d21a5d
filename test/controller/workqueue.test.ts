import { describe, expect, it } from 'vitest';
import { backoffDelay, TokenBucket, WorkQueue } from '../../src/controller/workqueue.js';
import { FakeClock } from './fixtures.js';

const queue = (clock = new FakeClock(), extra = {}) => ({ clock, q: new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1000, ...extra }) });

describe('WorkQueue', () => {
  it('deduplicates keys waiting to be processed', async () => {
    const { q } = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands one key to two workers: a key added while processing comes back after done', async () => {
    const { q } = queue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(key ?? '');
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('hands a key to a waiting worker at once', async () => {
    const { q } = queue();
    const got = q.get();
    q.add('x');
    expect(await got).toBe('x');
  });

  it.each([
    [1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [60, 1000],
  ])('backs off a key failing %i times by %i ms', (failures, ms) => {
    expect(backoffDelay(failures, 100, 1000)).toBe(ms);
  });

  it('re-adds a failed key after its backoff, and forget resets it', async () => {
    const { q, clock } = queue();
    expect(q.addRateLimited('a')).toBe(100);
    expect(q.addRateLimited('a')).toBe(200);
    expect(q.failures('a')).toBe(2);
    clock.advance(99);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
    q.forget('a');
    expect(q.failures('a')).toBe(0);
    expect(q.addRateLimited('a')).toBe(100);
  });

  it('keeps the earliest of several delayed adds', () => {
    const { q, clock } = queue();
    q.addAfter('a', 500);
    q.addAfter('a', 50);
    q.addAfter('a', 300);
    clock.advance(50);
    expect(q.length).toBe(1);
    clock.advance(1000);
    expect(q.length).toBe(1);
  });

  it('reports depth and how long keys waited', async () => {
    const depths: number[] = [];
    const latencies: number[] = [];
    const { q, clock } = queue(new FakeClock(), { onDepth: (n: number) => depths.push(n), onLatency: (s: number) => latencies.push(s) });
    q.add('a');
    q.add('b');
    clock.advance(250);
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
    expect(latencies).toEqual([0.25]);
  });

  it('on shutdown wakes idle workers, drops queued keys and waits for keys in flight', async () => {
    const { q } = queue();
    q.add('a');
    q.add('b');
    const a = await q.get();
    let stopped = false;
    const stopping = q.shutDown().then(() => (stopped = true));
    expect(await q.get()).toBeUndefined();
    q.add('c');
    expect(q.length).toBe(0);
    await Promise.resolve();
    expect(stopped).toBe(false);
    q.done(a ?? '');
    await stopping;
    expect(stopped).toBe(true);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then spaces tokens at the rate', () => {
    const b = new TokenBucket(10, 2, 0);
    expect(b.reserve(0)).toBe(0);
    expect(b.reserve(0)).toBe(0);
    expect(b.reserve(0)).toBe(100);
    expect(b.reserve(0)).toBe(200);
    expect(b.reserve(1000)).toBe(0);
  });
});
