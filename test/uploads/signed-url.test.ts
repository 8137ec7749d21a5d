// The signature of package URLs: which queries grant a download, table by table.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkGrant, expiresAfter, packageSignature, signedQuery, type Grant } from '../../src/uploads/signed-url.js';

const key = Buffer.from('k'.repeat(40));
const otherKey = Buffer.from('o'.repeat(40));
const sha = 'a'.repeat(64);
const otherSha = 'b'.repeat(64);
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const sig = (s: string, expires: number, k = key) => packageSignature(k, s, expires);

describe('packageSignature', () => {
  it('is HMAC-SHA256 over SHA256:EXPIRES, hex', () => {
    expect(sig(sha, 123)).toBe(createHmac('sha256', key).update(`${sha}:123`).digest('hex'));
    expect(signedQuery(key, sha, 0)).toBe(`expires=0&signature=${createHmac('sha256', key).update(`${sha}:0`).digest('hex')}`);
  });

  it.each([
    ['a digest that is not one', 'xyz', 0],
    ['an upper-case digest', 'A'.repeat(64), 0],
    ['a negative time', sha, -1],
    ['a fractional time', sha, 1.5],
  ])('refuses to sign %s', (_what, s, expires) => {
    expect(() => packageSignature(key, s, expires)).toThrow();
  });
});

describe('checkGrant', () => {
  const cases: Array<[string, string, Record<string, string | undefined>, Grant]> = [
    ['never expires (0), signed', sha, { expires: '0', signature: sig(sha, 0) }, { ok: true }],
    ['expires in a second', sha, { expires: String(NOW_S + 1), signature: sig(sha, NOW_S + 1) }, { ok: true }],
    ['expired this very second', sha, { expires: String(NOW_S), signature: sig(sha, NOW_S) }, { ok: false, reason: 'expired' }],
    ['expired an hour ago', sha, { expires: String(NOW_S - 3600), signature: sig(sha, NOW_S - 3600) }, { ok: false, reason: 'expired' }],
    ['the expiry moved later, signature kept', sha, { expires: String(NOW_S + 7200), signature: sig(sha, NOW_S + 60) }, { ok: false, reason: 'bad-signature' }],
    ['expires=0 with a signature of a time', sha, { expires: '0', signature: sig(sha, NOW_S + 60) }, { ok: false, reason: 'bad-signature' }],
    ['another digest\'s signature', sha, { expires: '0', signature: sig(otherSha, 0) }, { ok: false, reason: 'bad-signature' }],
    ['signed with another key', sha, { expires: '0', signature: sig(sha, 0, otherKey) }, { ok: false, reason: 'bad-signature' }],
    ['one hex digit changed', sha, { expires: '0', signature: flipLast(sig(sha, 0)) }, { ok: false, reason: 'bad-signature' }],
    ['no signature', sha, { expires: '0' }, { ok: false, reason: 'malformed' }],
    ['no expires', sha, { signature: sig(sha, 0) }, { ok: false, reason: 'malformed' }],
    ['nothing', sha, {}, { ok: false, reason: 'malformed' }],
    ['upper-case signature', sha, { expires: '0', signature: sig(sha, 0).toUpperCase() }, { ok: false, reason: 'malformed' }],
    ['a short signature', sha, { expires: '0', signature: sig(sha, 0).slice(0, 63) }, { ok: false, reason: 'malformed' }],
    ['expires with a leading zero (another spelling of the signed time)', sha, { expires: `0${NOW_S + 60}`, signature: sig(sha, NOW_S + 60) }, { ok: false, reason: 'malformed' }],
    ['expires in exponent form', sha, { expires: '1e12', signature: sig(sha, 1e12) }, { ok: false, reason: 'malformed' }],
    ['negative expires', sha, { expires: '-1', signature: sig(sha, 0) }, { ok: false, reason: 'malformed' }],
    ['a digest that is not one', '../etc/passwd', { expires: '0', signature: sig(sha, 0) }, { ok: false, reason: 'malformed' }],
    ['an upper-case digest', sha.toUpperCase(), { expires: '0', signature: sig(sha, 0) }, { ok: false, reason: 'malformed' }],
  ];
  it.each(cases)('%s', (_what, s, query, want) => {
    expect(checkGrant(key, s, query, NOW_MS)).toEqual(want);
  });
});

describe('expiresAfter', () => {
  it.each([
    [NOW_MS, 600, NOW_S + 600],
    [NOW_MS + 1, 600, NOW_S + 1 + 600],
    [NOW_MS, 0, NOW_S + 1],
    [NOW_MS, 0.2, NOW_S + 1],
  ])('from %d for %d s is %d', (now, ttl, want) => {
    expect(expiresAfter(now, ttl)).toBe(want);
  });
});

function flipLast(hex: string): string {
  return hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');
}
