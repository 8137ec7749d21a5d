// RevisionId ↔ the store's revision, CodeSha256 and Lambda's time formats.
import { describe, expect, it } from 'vitest';
import { codeSha256, digestHex, epochSeconds, expectedRevision, functionRevisionId, lambdaTime } from '../../src/control/revision.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('RevisionId', () => {
  it('is UUID-shaped and changes exactly when the store revision does', () => {
    expect(functionRevisionId('41')).toMatch(UUID);
    expect(functionRevisionId('41')).toBe(functionRevisionId('41'));
    expect(functionRevisionId('41')).not.toBe(functionRevisionId('42'));
  });

  it.each([
    { what: 'absent', given: undefined, result: { ok: true } },
    { what: 'null', given: null, result: { ok: true } },
    { what: 'empty', given: '', result: { ok: true } },
    { what: 'the current one', given: functionRevisionId('41'), result: { ok: true, expected: '41' } },
    { what: 'a stale one', given: functionRevisionId('40'), result: { ok: false } },
    { what: 'the raw store revision (never accepted: ids are compared, not inverted)', given: '41', result: { ok: false } },
    { what: 'not a string', given: 41, result: { ok: false } },
  ])('a RevisionId that is $what', ({ given, result }) => {
    expect(expectedRevision(given, '41')).toEqual(result);
  });
});

describe('formats', () => {
  const hex = 'ab'.repeat(32);
  it('CodeSha256 is base64 of the digest, and read back from base64 or hex', () => {
    expect(codeSha256(hex)).toBe(Buffer.from(hex, 'hex').toString('base64'));
    expect(digestHex(codeSha256(hex))).toBe(hex);
    expect(digestHex(hex.toUpperCase())).toBe(hex);
    expect(digestHex('xyz')).toBeUndefined();
  });
  it('times as Lambda writes them', () => {
    expect(lambdaTime('2024-05-01T12:00:00Z')).toBe('2024-05-01T12:00:00.000+0000');
    expect(lambdaTime('nope')).toBeUndefined();
    expect(epochSeconds('2024-05-01T12:00:00.500Z')).toBe(1714564800.5);
  });
});
