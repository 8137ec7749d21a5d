// How a function URL in RESPONSE_STREAM mode answers a streamed response:
// for awslambda.HttpResponseStream (the http-integration content type) the
// prelude becomes the status, headers and cookies, and the rest of the body
// follows as the function writes it; any other content type is a 200 of that
// type. The client's socket paces the function (the body is piped with
// back-pressure). Once the status is out a failure cannot change it, so a
// stream that ends with an error (a timeout, a crash, the function's own
// error) is cut: the socket is destroyed without the chunked end, and the
// client sees an incomplete response, as Lambda's function URLs do. Before
// the status is out (a failure before the prelude was complete) the answer is
// the bare 502 a BUFFERED URL gives a function error.
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { LATEST, type HearthFunction, type UrlInvokeMode } from '../api/function.js';
import { splitPrelude, type HttpPrelude, type PreludeSplit } from '../streaming/http-integration.js';
import { writeThrough } from '../streaming/write-through.js';
import { DEFAULT_STREAM_CONTENT_TYPE, HTTP_INTEGRATION_CONTENT_TYPE, type ResponseStream } from '../streaming/response-stream.js';

/** The invoke mode of the URL a call came through: the alias's own URL, or the function's for $LATEST. */
export function urlInvokeMode(fn: HearthFunction, qualifier: string | undefined): UrlInvokeMode {
  if (qualifier !== undefined && qualifier !== LATEST) return fn.spec.aliases?.find((a) => a.name === qualifier)?.url?.invokeMode ?? 'BUFFERED';
  return fn.spec.url?.invokeMode ?? 'BUFFERED';
}

/** Headers about the connection and the framing are the gateway's to set for the stream it sends, not the function's. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer']);

export function streamHeaders(prelude: HttpPrelude): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(prelude.headers)) if (!FRAMING_HEADERS.has(k)) out[k] = v;
  if (out['content-type'] === undefined) out['content-type'] = DEFAULT_STREAM_CONTENT_TYPE;
  return out;
}

function waitReadable(body: Readable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      body.off('readable', done);
      body.off('end', done);
      body.off('close', done);
      body.off('error', done);
      resolve();
    };
    body.on('readable', done);
    body.on('end', done);
    body.on('close', done);
    body.on('error', done);
  });
}

/** Reads the body until its prelude is complete (or refused); what follows the delimiter is put back. */
export async function readPrelude(body: Readable): Promise<PreludeSplit> {
  let seen: Buffer = Buffer.alloc(0);
  for (;;) {
    const chunk = body.read() as Buffer | null;
    if (chunk !== null) {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const split = splitPrelude(seen, false);
      if (split.kind === 'more') continue;
      if (split.kind === 'found' && split.rest.length > 0) body.unshift(split.rest);
      return split;
    }
    if (body.readableEnded || body.destroyed) return splitPrelude(seen, true);
    await waitReadable(body);
  }
}

/**
 * Answers a streamed result on a RESPONSE_STREAM URL. Returns false when it
 * answered nothing because the function failed before its status was known
 * (the caller answers 502); otherwise the reply is hijacked and written here.
 */
export async function answerStreamedUrl(reply: FastifyReply, stream: ResponseStream): Promise<boolean> {
  let prelude: HttpPrelude = { statusCode: 200, headers: { 'content-type': stream.contentType }, cookies: [] };
  if (stream.contentType === HTTP_INTEGRATION_CONTENT_TYPE) {
    const split = await readPrelude(stream.body);
    if (split.kind !== 'found') {
      if (split.kind === 'invalid') reply.log.warn({ reason: split.reason }, 'function URL stream refused: bad http-integration prelude');
      // Nothing of it will be sent: the function's further writes are dropped, and its instance is held until it is done.
      stream.body.destroy();
      return false;
    }
    // The stream ended with its prelude and failed: nothing is out yet, so it can still be a clean 502.
    if (stream.body.readableEnded && (await stream.ended).error) return false;
    prelude = split.prelude;
  }
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = Array.isArray(v) ? v : String(v);
  Object.assign(headers, streamHeaders(prelude));
  if (prelude.cookies.length > 0) headers['set-cookie'] = prelude.cookies;
  res.writeHead(prelude.statusCode, headers);
  // The status and headers go now, not with the first body bytes: a client sees the answer begin while the function works.
  res.flushHeaders();
  const how = await writeThrough(stream.body, res);
  if (how === 'gone') return true;
  const end = await stream.ended;
  if (how === 'lost' || end.error) {
    reply.log.info({ errorType: end.error?.errorType, bytes: end.bytes }, 'function URL stream cut: the stream ended with an error');
    res.destroy();
    return true;
  }
  res.end();
  return true;
}
