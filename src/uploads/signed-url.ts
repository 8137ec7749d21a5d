// The signature that authorises a download from GET /packages/SHA256: an
// HMAC-SHA256, under the gateway's signing key, over `SHA256:EXPIRES`, where
// EXPIRES is a Unix time in seconds. EXPIRES 0 never expires: it is the
// in-cluster URL a Function's package.url names, which must keep working for
// as long as the Function does (the signature stops anyone who only guesses a
// digest, and rotating the key revokes every URL). GetFunction's Code.Location
// carries a time, as Lambda's presigned S3 URL does. Pure.
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../gateway/auth/callers.js';

/** A package's digest as every store keys it: SHA-256, lower-case hex. */
export const SHA256_HEX = /^[a-f0-9]{64}$/;

export const NEVER_EXPIRES = 0;

export interface PackageSignature {
  /** Unix seconds after which the URL stops granting; 0: never. */
  expires: number;
  /** HMAC-SHA256 hex. */
  signature: string;
}

export function isSha256(s: string): boolean {
  return SHA256_HEX.test(s);
}

export function packageSignature(key: Buffer, sha256: string, expires: number): string {
  if (!isSha256(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
  if (!Number.isSafeInteger(expires) || expires < 0) throw new Error(`expires must be Unix seconds or 0, not ${expires}`);
  return createHmac('sha256', key).update(`${sha256}:${expires}`).digest('hex');
}

/** `expires=E&signature=S`, the query a package URL carries. */
export function signedQuery(key: Buffer, sha256: string, expires: number): string {
  return `expires=${expires}&signature=${packageSignature(key, sha256, expires)}`;
}

/** Unix seconds `ttlSeconds` after `nowMs` (rounded up, so a URL never lives shorter than asked). */
export function expiresAfter(nowMs: number, ttlSeconds: number): number {
  return Math.ceil(nowMs / 1000) + Math.max(1, Math.ceil(ttlSeconds));
}

export type Grant = { ok: true } | { ok: false; reason: 'malformed' | 'expired' | 'bad-signature' };

/** Whether a /packages request's query grants downloading `sha256` at `nowMs`: well-formed, not expired, signed with `key`. */
export function checkGrant(key: Buffer, sha256: string, query: Record<string, string | undefined>, nowMs: number): Grant {
  const { expires, signature } = query;
  if (!isSha256(sha256) || expires === undefined || signature === undefined) return { ok: false, reason: 'malformed' };
  // Decimal digits only: no sign, exponent, spaces or a second spelling of the same time.
  if (!/^(0|[1-9][0-9]{0,14})$/.test(expires) || !SHA256_HEX.test(signature)) return { ok: false, reason: 'malformed' };
  const at = Number(expires);
  if (at !== NEVER_EXPIRES && at * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return constantTimeEqual(signature, packageSignature(key, sha256, at)) ? { ok: true } : { ok: false, reason: 'bad-signature' };
}
