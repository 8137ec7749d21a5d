// Lambda's RevisionId, CodeSha256 and time formats over what Hearth stores.
// A RevisionId is a UUID-shaped digest: of the store's revision for a
// function, of the content for a version or an alias. A caller's RevisionId
// is checked by computing the current one and comparing, never by inverting
// it. Pure.
import { createHash } from 'node:crypto';

/** A revision id in Lambda's shape (a UUID), derived from the content, so it changes exactly when the content does. */
export function revisionId(content: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(content)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The RevisionId of a function ($LATEST) whose store revision is `storeRevision` (a resourceVersion, or a digest of its file). */
export function functionRevisionId(storeRevision: string): string {
  return revisionId({ function: storeRevision });
}

/**
 * What a request's RevisionId asks of the store: nothing when absent or
 * empty, the current store revision when it matches, and `stale` when it
 * does not (the route answers 412 PreconditionFailedException).
 */
export function expectedRevision(given: unknown, storeRevision: string): { ok: true; expected?: string } | { ok: false } {
  if (given === undefined || given === null || given === '') return { ok: true };
  return given === functionRevisionId(storeRevision) ? { ok: true, expected: storeRevision } : { ok: false };
}

/** Lambda's CodeSha256 is base64 of the digest's bytes; Hearth keeps hex. */
export function codeSha256(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** A CodeSha256 as a caller sends it (Lambda's base64, or hex) as hex; undefined when it is neither. */
export function digestHex(value: string): string | undefined {
  if (/^[a-fA-F0-9]{64}$/.test(value)) return value.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(value)) return Buffer.from(value, 'base64').toString('hex');
  return undefined;
}

/** Lambda's time format: 2024-05-01T12:00:00.000+0000. */
export function lambdaTime(iso: string | undefined): string | undefined {
  if (iso === undefined) return undefined;
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString().replace('Z', '+0000');
}

/** A timestamp member of Lambda's JSON protocol (e.g. FunctionEventInvokeConfig.LastModified): epoch seconds. */
export function epochSeconds(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? undefined : t / 1000;
}
