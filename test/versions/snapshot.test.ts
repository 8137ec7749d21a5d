// What a version keeps of its function, the digest that tells an unchanged
// function from a changed one, numbering, and retention.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema } from '../../src/api/function.js';
import { latestPublished, nextVersionNumber, snapshotDigest, snapshotOf, versionsPastRetention } from '../../src/versions/snapshot.js';
import { functionOf, versionOf } from '../helpers/hand-versions.js';

describe('snapshotOf', () => {
  it('keeps what the version runs and leaves what belongs to the function as a whole', () => {
    const fn = functionOf('f', {
      memoryMB: 512,
      env: [{ name: 'A', value: '1' }],
      reservedConcurrency: 4,
      versioning: { publishOnChange: true, retain: 3 },
      schedules: [{ name: 'tick', cron: '* * * * *' }],
    }, [{ name: 'live', version: '$LATEST' }]);
    const snap = snapshotOf(fn.spec);
    expect(snap).toMatchObject({ memoryMB: 512, env: [{ name: 'A', value: '1' }], code: fn.spec.code, runtime: 'nodejs20' });
    for (const k of ['aliases', 'schedules', 'reservedConcurrency', 'replicas'] as const) expect(snap[k]).toBeUndefined();
    expect(snap.versioning).toEqual({ publishOnChange: false });
    // A snapshot is a valid spec on its own.
    expect(FunctionSpecSchema.parse(snap)).toEqual(snap);
  });
});

describe('snapshotDigest', () => {
  const spec = snapshotOf(functionOf('f').spec);

  it.each([
    { case: 'the same spec', other: () => snapshotOf(functionOf('f').spec), extra: '', same: true },
    { case: 'the same spec with its keys in another order', other: () => Object.fromEntries(Object.entries(spec).reverse()) as typeof spec, extra: '', same: true },
    { case: 'only aliases and schedules changed', other: () => snapshotOf(functionOf('f', { schedules: [{ name: 't', cron: '*/5 * * * *' }] }, [{ name: 'x', version: '$LATEST' }]).spec), extra: '', same: true },
    { case: 'another memory size', other: () => snapshotOf(functionOf('f', { memoryMB: 1024 }).spec), extra: '', same: false },
    { case: 'the same spec, other package bytes behind it', other: () => spec, extra: 'sha256-of-new-zip', same: false },
  ])('$case → same digest: $same', ({ other, extra, same }) => {
    const a = snapshotDigest(spec);
    const b = snapshotDigest(other(), extra);
    expect(a).toMatch(/^[a-f0-9]{64}$/);
    expect(a === b).toBe(same);
  });
});

describe('numbering and retention', () => {
  const v = (...ns: string[]) => ns.map((n) => versionOf('f', n));

  it.each([
    { case: 'the first version', counter: 0, existing: [], want: 1 },
    { case: 'after 1 and 2', counter: 2, existing: ['1', '2'], want: 3 },
    { case: 'a deleted newest number is never given again', counter: 5, existing: ['1', '2'], want: 6 },
    { case: 'a counter behind the versions (lost) is passed', counter: 0, existing: ['4'], want: 5 },
  ])('nextVersionNumber: $case → $want', ({ counter, existing, want }) => {
    expect(nextVersionNumber(counter, v(...existing))).toBe(want);
  });

  it('latestPublished is the highest number, not the last listed', () => {
    expect(latestPublished(v('2', '10', '9'))?.spec.version).toBe('10');
    expect(latestPublished([])).toBeUndefined();
  });

  it.each([
    { case: 'no retention keeps all', retain: undefined, referenced: [], want: [] },
    { case: 'retain 2 of 4', retain: 2, referenced: [], want: ['2', '1'] },
    { case: 'an aliased old version is kept', retain: 2, referenced: ['1'], want: ['2'] },
    { case: 'retain more than there are', retain: 10, referenced: [], want: [] },
    { case: 'retain 0 deletes all but the aliased', retain: 0, referenced: ['3'], want: ['4', '2', '1'] },
  ])('versionsPastRetention: $case', ({ retain, referenced, want }) => {
    expect(versionsPastRetention(v('1', '3', '2', '4'), retain, new Set(referenced)).map((x) => x.spec.version)).toEqual(want);
  });
});
