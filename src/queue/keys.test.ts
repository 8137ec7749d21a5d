import { describe, expect, it } from 'vitest';
import { functionKeys, hashTagOf, recordKey } from './keys.js';
import { idempotencyToken, InvalidIdempotencyKeyError } from './idempotency.js';

describe('queue keys', () => {
  it('gives all of a function\'s keys one hash tag, so they share a Cluster slot', () => {
    const k = functionKeys('resize-images');
    expect(k.events).toBe('hearth:{resize-images}:events');
    const tags = [k.events, k.delayed, k.retryPrefix + 'x', k.deadLetters, k.idempotencyPrefix + 'y'].map(hashTagOf);
    expect(new Set(tags)).toEqual(new Set(['resize-images']));
  });

  it('keeps functions and prefixes apart', () => {
    expect(functionKeys('a').events).not.toBe(functionKeys('b').events);
    expect(functionKeys('a', 'other').events).toBe('other:{a}:events');
    expect(hashTagOf(recordKey('req-1'))).toBe('req-1');
  });

  it('refuses names that would break the tag', () => {
    expect(() => functionKeys('a}b')).toThrow();
    expect(() => functionKeys('')).toThrow();
  });

  it('finds the tag as Redis Cluster does', () => {
    expect(hashTagOf('plain')).toBe('plain');
    expect(hashTagOf('a{}b')).toBe('a{}b');
    expect(hashTagOf('a{x}{y}')).toBe('x');
  });
});

describe('idempotency tokens', () => {
  it('are fixed-size digests, the same for the same key', () => {
    expect(idempotencyToken('order-42')).toBe(idempotencyToken('order-42'));
    expect(idempotencyToken('order-42')).not.toBe(idempotencyToken('order-43'));
    expect(idempotencyToken('{}:*\n')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuse empty and oversized keys as a caller error', () => {
    expect(() => idempotencyToken('')).toThrow(InvalidIdempotencyKeyError);
    const err = (() => {
      try {
        idempotencyToken('x'.repeat(257));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidIdempotencyKeyError);
    expect((err as InvalidIdempotencyKeyError).statusCode).toBe(400);
  });
});
