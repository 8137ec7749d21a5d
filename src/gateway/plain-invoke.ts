// The Invoke API's commonest call served straight off node:http, ahead of
// fastify: POST /2015-03-31/functions/NAME/invocations naming a bare
// function, no query, a JSON body of known length, RequestResponse, no client
// context. Under the gateway bench fastify's per-request machinery (routing,
// Request/Reply objects, hooks, content-type parsing, schema validation,
// reply) was the largest share of the gateway's own CPU a warm call left
// (docs/performance.md). Anything else, and any call that would not simply
// run (an unknown function, a body over the limit), goes to fastify as before,
// before a byte of its body is read, so every other answer is fastify's.
//
// What the route's hooks do is done here too: X-Amzn-RequestId on every
// answer, Connection: close while draining, and Lambda's error shapes (the
// same toLambdaError). With authentication on, a call is served here only
// when authentication admits its caller by the same checks its hook makes (an
// API key; auth.ts); every refusal, and every SigV4 call, is fastify's. The
// gateway turns this off when a hook must see every request, tracing (gateway
// spans), and while fastify closes (it answers 503 then).
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FunctionCatalog } from '../api/catalog.js';
import type { Invoker } from '../dispatch/invoker.js';
import { callerTrace, formatTraceparent } from '../tracing/trace-context.js';
import { checkEventBody } from './invoke-request.js';
import { LambdaError } from './lambda-errors.js';
import { invokeNow, type InvokeRequestParts } from './plugins/invoke-api.js';
import { toLambdaError } from './reply-error.js';

const PREFIX = '/2015-03-31/functions/';
const SUFFIX = '/invocations';
// As invoke-request.ts's FUNCTION_NAME: a name, not an ARN or NAME:QUALIFIER (those take fastify's route).
const BARE_NAME = /^[a-zA-Z0-9-_]{1,64}$/;
const EMPTY_EVENT = Buffer.from('{}');

/** What a plain call asks for; undefined for any request fastify serves. Pure. */
export interface PlainInvoke {
  name: string;
  tail: boolean;
  length: number;
}

/**
 * Whether a request is a plain Invoke this path serves, read from its
 * method, URL and headers only. `syncBytes` is Invoke's payload limit: a
 * longer body goes to fastify, which answers 413.
 */
export function plainInvoke(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders, syncBytes: number): PlainInvoke | undefined {
  if (method !== 'POST' || url === undefined || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) return undefined;
  const name = url.slice(PREFIX.length, url.length - SUFFIX.length);
  if (!BARE_NAME.test(name)) return undefined;
  if (headers['content-type'] !== 'application/json') return undefined;
  // A known length only: a chunked body, or one after 100-continue, goes the general way.
  const declared = headers['content-length'];
  if (declared === undefined || headers['transfer-encoding'] !== undefined || headers.expect !== undefined) return undefined;
  const length = Number(declared);
  if (!Number.isSafeInteger(length) || length < 0 || length > syncBytes) return undefined;
  const type = headers['x-amz-invocation-type'];
  if (type !== undefined && type !== 'RequestResponse') return undefined;
  const logType = headers['x-amz-log-type'];
  if (logType !== undefined && logType !== 'None' && logType !== 'Tail') return undefined;
  if (headers['x-amz-client-context'] !== undefined) return undefined;
  return { name, tail: logType === 'Tail', length };
}

/** The caller's trace context as the invocation continues it with tracing off (gateway-spans.ts's traceparentOf without a span). */
function callerTraceparent(headers: IncomingHttpHeaders): string | undefined {
  const traceparent = one(headers.traceparent);
  const xray = one(headers['x-amzn-trace-id']);
  if (traceparent === undefined && xray === undefined) return undefined;
  const caller = callerTrace(traceparent, xray);
  return caller.parent === undefined ? undefined : formatTraceparent(caller.parent);
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface PlainInvokeOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  syncBytes: number;
  arn: (name: string) => string;
  draining?: () => boolean;
  logger?: Logger;
  /** With authentication on, whether the caller is admitted (auth.ts); a call it does not admit is fastify's to answer. */
  admits?: (headers: IncomingHttpHeaders, fn: string) => boolean;
}

/**
 * Serves a request when it is a plain Invoke of a known function and returns
 * true; returns false, having touched nothing, for fastify to serve it.
 */
export function servePlainInvoke(opts: PlainInvokeOptions, req: IncomingMessage, res: ServerResponse): boolean {
  const plain = plainInvoke(req.method, req.url, req.headers, opts.syncBytes);
  if (plain === undefined) return false;
  const fn = opts.catalog.get(plain.name);
  // Fastify's route answers Lambda's 404, and every refusal of authentication (with its hooks' checks in their order).
  if (fn === undefined || (opts.admits !== undefined && !opts.admits(req.headers, plain.name))) return false;
  const requestId = randomUUID();
  // Leaving: a kept-alive client sends its next call on a new connection, which endpoints send to another gateway.
  const closing = opts.draining?.() === true;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  // A client gone before its body ended has no one to answer (node:http enforces the declared length).
  req.once('end', () => {
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const arn = opts.arn(plain.name);
    let parts: InvokeRequestParts;
    try {
      parts = readPlainBody(plain, fn, arn, body.length > 0 ? body : EMPTY_EVENT, req.headers);
    } catch (err) {
      answerError(opts, res, requestId, closing, err);
      return;
    }
    invokeNow(opts.invoker, parts, requestId).then(
      (result) => {
        // The head as one flat list given to writeHead: no setHeader per header (each validated and stored apart), the order fastify's route gives.
        const head = ['x-amzn-requestid', requestId, 'content-type', 'application/json', 'x-amz-executed-version', result.executedVersion ?? '$LATEST'];
        if (result.outcome !== 'success') head.push('x-amz-function-error', result.outcome === 'handled' ? 'Handled' : 'Unhandled');
        if (plain.tail) head.push('x-amz-log-result', result.logTail ?? '');
        head.push('content-length', String(result.payload.length));
        if (closing) head.push('connection', 'close');
        res.writeHead(200, head);
        res.end(result.payload);
      },
      (err: unknown) => answerError(opts, res, requestId, closing, err),
    );
  });
  return true;
}

/** A plain call's InvokeRequestParts, its body checked as readInvokeRequest (invoke-api.ts) checks it. */
function readPlainBody(plain: PlainInvoke, fn: InvokeRequestParts['fn'], arn: string, body: Buffer, headers: IncomingHttpHeaders): InvokeRequestParts {
  checkEventBody(body);
  return {
    name: plain.name,
    qualifier: undefined,
    arn,
    type: 'RequestResponse',
    logType: plain.tail ? 'Tail' : 'None',
    clientContext: undefined,
    fn,
    body,
    traceId: one(headers['x-amzn-trace-id']),
    traceparent: callerTraceparent(headers),
  };
}

/** Lambda's error shape, as the gateway's error handler and sendLambdaError (reply-error.ts) write it. */
function answerError(opts: PlainInvokeOptions, res: ServerResponse, requestId: string, closing: boolean, err: unknown): void {
  const lambdaErr = toLambdaError(err, { bodyLimit: opts.syncBytes });
  if (lambdaErr.status >= 500 && !(err instanceof LambdaError)) opts.logger?.error({ err, reqId: requestId }, 'request failed');
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(lambdaErr.body());
  // Lower case, as fastify writes every header name; the content type fastify writes for sendLambdaError's string body.
  const head = ['x-amzn-requestid', requestId, 'x-amzn-errortype', lambdaErr.type, 'content-type', 'application/json; charset=utf-8'];
  if (lambdaErr.retryAfterSeconds !== undefined) head.push('retry-after', String(lambdaErr.retryAfterSeconds));
  head.push('content-length', String(Buffer.byteLength(body)));
  if (closing) head.push('connection', 'close');
  res.writeHead(lambdaErr.status, head);
  res.end(body);
}
