// awslambda.HttpResponseStream's framing (content type
// application/vnd.awslambda.http-integration-response): a JSON prelude
// {statusCode, headers, cookies}, 8 NUL bytes, then the body. A streaming
// function URL reads the prelude into the HTTP status and headers before it
// passes the body on. The prelude is bounded: a stream that has not closed
// its prelude within MAX_PRELUDE_BYTES is refused rather than held in memory.
// Pure. The prelude is a function URL answer without its body: its headers
// are read as a buffered answer's are (function-url-event.ts).
import { answerHeaders, isRecord } from '../gateway/function-url-event.js';

export const PRELUDE_DELIMITER = Buffer.alloc(8, 0);
/** How long a prelude may be (its JSON), as the function URL holds it before answering. */
export const MAX_PRELUDE_BYTES = 64 * 1024;

export interface HttpPrelude {
  statusCode: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  cookies: string[];
}

export type PreludeSplit =
  /** No delimiter yet: read more of the body and try again with all of it. */
  | { kind: 'more' }
  | { kind: 'found'; prelude: HttpPrelude; rest: Buffer }
  | { kind: 'invalid'; reason: string };


/** Reads the prelude's JSON; statusCode defaults to 200, as an HttpResponseStream without one answers. */
export function parsePrelude(json: Buffer): HttpPrelude | { invalid: string } {
  let doc: unknown;
  try {
    doc = json.length === 0 ? {} : JSON.parse(json.toString('utf8'));
  } catch (err) {
    return { invalid: `the prelude is not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(doc)) return { invalid: 'the prelude is not a JSON object' };
  const statusCode = doc.statusCode === undefined || doc.statusCode === null ? 200 : Number(doc.statusCode);
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return { invalid: `statusCode ${String(doc.statusCode)} is not an HTTP status` };
  let headers: Record<string, string> = {};
  if (doc.headers !== undefined && doc.headers !== null) {
    if (!isRecord(doc.headers)) return { invalid: 'headers is not an object' };
    headers = answerHeaders(doc.headers);
  }
  let cookies: string[] = [];
  if (doc.cookies !== undefined && doc.cookies !== null) {
    if (!Array.isArray(doc.cookies)) return { invalid: 'cookies is not an array' };
    cookies = doc.cookies.map(String);
  }
  return { statusCode, headers, cookies };
}

/**
 * Splits what has arrived of the body at the first 8 NULs. `final`: the body
 * has ended, so without a delimiter the whole of it is the prelude (a stream
 * that ended before its first write) if it reads as one.
 */
export function splitPrelude(buf: Buffer, final: boolean, maxBytes = MAX_PRELUDE_BYTES): PreludeSplit {
  const at = buf.indexOf(PRELUDE_DELIMITER);
  if (at < 0) {
    if (buf.length > maxBytes + PRELUDE_DELIMITER.length - 1) return { kind: 'invalid', reason: `no prelude delimiter within ${maxBytes} bytes` };
    if (!final) return { kind: 'more' };
    const whole = parsePrelude(buf);
    return 'invalid' in whole ? { kind: 'invalid', reason: `the stream ended without a prelude delimiter (${whole.invalid})` } : { kind: 'found', prelude: whole, rest: Buffer.alloc(0) };
  }
  if (at > maxBytes) return { kind: 'invalid', reason: `the prelude is longer than ${maxBytes} bytes` };
  const prelude = parsePrelude(buf.subarray(0, at));
  if ('invalid' in prelude) return { kind: 'invalid', reason: prelude.invalid };
  return { kind: 'found', prelude, rest: buf.subarray(at + PRELUDE_DELIMITER.length) };
}
