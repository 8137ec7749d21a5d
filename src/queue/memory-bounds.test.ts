import { describe, expect, it } from 'vitest';
import { admit, evictions, type Candidate, type MemoryQueueBounds } from './memory-bounds.js';

const bounds: MemoryQueueBounds = { maxBytes: 100, maxRecords: 3 };

describe('admit: may one more event be accepted', () => {
  it.each([
    { name: 'room left', pinned: { bytes: 50, events: 1 }, bytes: 50, ok: true },
    { name: 'bytes would pass the bound', pinned: { bytes: 60, events: 1 }, bytes: 41, ok: false, says: '--queue-max-bytes 100' },
    { name: 'unfinished events at the record bound', pinned: { bytes: 10, events: 3 }, bytes: 1, ok: false, says: '--queue-max-records 3' },
    { name: 'one below the record bound', pinned: { bytes: 10, events: 2 }, bytes: 1, ok: true },
  ])('$name', ({ pinned, bytes, ok, says }) => {
    const r = admit(pinned, bytes, bounds);
    expect(r === true).toBe(ok);
    if (says !== undefined) expect(r).toContain(says);
  });
});

const rec = (key: string, bytes: number, evictable = true): Candidate<string> => ({ key, bytes, record: true, evictable });
const dl = (key: string, bytes: number): Candidate<string> => ({ key, bytes, record: false, evictable: true });

describe('evictions: what goes, oldest first, so what is held fits again', () => {
  it.each([
    { name: 'within bounds: nothing', held: { bytes: 100, records: 3 }, candidates: [rec('a', 50)], want: [] },
    { name: 'over bytes: the oldest until it fits', held: { bytes: 130, records: 3 }, candidates: [rec('a', 20), rec('b', 20), rec('c', 90)], want: ['a', 'b'] },
    { name: 'unfinished records are skipped, never evicted', held: { bytes: 130, records: 3 }, candidates: [rec('a', 60, false), rec('b', 20), rec('c', 20)], want: ['b', 'c'] },
    { name: 'over the record count: one record goes', held: { bytes: 10, records: 4 }, candidates: [rec('a', 1), rec('b', 1)], want: ['a'] },
    { name: 'over the record count only: dead letters do not help', held: { bytes: 10, records: 4 }, candidates: [dl('x', 5), rec('a', 1)], want: ['a'] },
    { name: 'over bytes: dead letters go after records', held: { bytes: 200, records: 1 }, candidates: [rec('a', 50), dl('x', 40), dl('y', 40)], want: ['a', 'x', 'y'] },
    { name: 'nothing evictable left: stays over', held: { bytes: 300, records: 2 }, candidates: [rec('a', 150, false), rec('b', 150, false)], want: [] },
  ])('$name', ({ held, candidates, want }) => {
    expect(evictions(held, bounds, candidates)).toEqual(want);
  });

  it('stops reading candidates once it fits', () => {
    let read = 0;
    function* many(): Iterable<Candidate<string>> {
      for (let i = 0; i < 1000; i++) {
        read++;
        yield rec(String(i), 10);
      }
    }
    expect(evictions({ bytes: 120, records: 1 }, bounds, many())).toEqual(['0', '1']);
    expect(read).toBeLessThanOrEqual(3);
  });
});
