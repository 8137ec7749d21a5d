import { describe, expect, it } from 'vitest';
import { isSubset, upToDate, withAppliedHash } from '../../src/controller/resources/apply-plan.js';
import { contentHash, stableStringify } from '../../src/controller/resources/hash.js';

describe('isSubset', () => {
  it.each([
    ['equal scalars', 1, 1, true],
    ['a server-added field', { a: 1 }, { a: 1, b: 2 }, true],
    ['a changed value', { a: 1 }, { a: 2 }, false],
    ['a missing field', { a: 1, c: 3 }, { a: 1 }, false],
    ['lists matched in order', [{ n: 'x' }, { n: 'y' }], [{ n: 'x', d: 1 }, { n: 'y' }], true],
    ['an added list item', [{ n: 'x' }], [{ n: 'x' }, { n: 'y' }], false],
    ['a reordered list', [{ n: 'x' }, { n: 'y' }], [{ n: 'y' }, { n: 'x' }], false],
    ['an object where a list was', { a: [1] }, { a: { 0: 1 } }, false],
    ['undefined desired fields', { a: undefined }, {}, true],
  ])('%s', (_what, desired, observed, expected) => {
    expect(isSubset(desired, observed)).toBe(expected);
  });
});

describe('upToDate', () => {
  const desired = withAppliedHash({ metadata: { name: 'x', labels: { a: 'b' } }, spec: { replicas: 1, env: [{ name: 'A', value: '1' }] } });
  it.each([
    ['nothing on the server', undefined, false],
    ['what we applied, with server fields', { ...desired, metadata: { ...desired.metadata, uid: 'u' }, status: {} }, true],
    ['a hand edit of a field we own', { ...desired, spec: { replicas: 3, env: desired.spec.env } }, false],
    ['an older apply of ours (a field since dropped)', { ...withAppliedHash({ metadata: { name: 'x', labels: { a: 'b' } }, spec: { replicas: 1, env: [{ name: 'A', value: '1' }], old: true } }) }, false],
  ])('%s', (_what, observed, expected) => {
    expect(upToDate(desired, observed)).toBe(expected);
  });
});

describe('hashes', () => {
  it('do not depend on key order', () => {
    expect(stableStringify({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });
});
