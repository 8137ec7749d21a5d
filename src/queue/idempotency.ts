// Idempotency keys from callers: bounded and made safe to embed in a Redis
// key, so a hostile header can neither grow memory nor reach other keys.
import { createHash } from 'node:crypto';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 10 * 60_000;

export class InvalidIdempotencyKeyError extends Error {
  /** A caller's mistake: the gateway's error mapping turns a 4xx statusCode into InvalidParameterValueException. */
  readonly statusCode = 400;

  constructor(message: string) {
    super(message);
    this.name = 'InvalidIdempotencyKeyError';
  }
}

/** The storage form of a caller's key: a digest, so length and characters are fixed. */
export function idempotencyToken(key: string): string {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidIdempotencyKeyError(`idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return createHash('sha256').update(key).digest('base64url');
}
