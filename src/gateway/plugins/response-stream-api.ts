// Lambda's InvokeWithResponseStream: POST
// /2021-11-15/functions/{name}/response-streaming-invocations. The request is
// read exactly as Invoke reads it (readInvokeRequest); the answer is 200 with
// AWS's event-stream framing: a PayloadChunk event per piece of the body as
// the function writes it, then one InvokeComplete event saying how the
// stream ended (ErrorCode and ErrorDetails for a function or platform error
// mid-stream, LogResult with X-Amz-Log-Type: Tail). A function that does not
// stream answers in one PayloadChunk. The client's socket paces the function:
// the body is read only as fast as the client takes the events, and a client
// that goes away releases the stream (and with it the instance).
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import type { InvokeResult } from '../../agent/invocation.js';
import { normalisePostedError } from '../../agent/lambda-errors.js';
import type { Invoker } from '../../dispatch/invoker.js';
import { EVENT_STREAM_CONTENT_TYPE, invokeCompleteEvent, payloadChunks, type InvokeComplete } from '../../streaming/event-stream.js';
import type { StreamEnd } from '../../streaming/response-stream.js';
import { arnHome, type InvocationTypeHeader } from '../invoke-request.js';
import { badParameter } from '../lambda-errors.js';
import type { PayloadLimits } from '../app.js';
import { invokeNow, readInvokeRequest } from './invoke-api.js';

export const RESPONSE_STREAM_ROUTE = '/2021-11-15/functions/:name/response-streaming-invocations';

export interface ResponseStreamApiOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  limits: PayloadLimits;
  arn: (name: string) => string;
}

/** InvokeWithResponseStream runs a call now or only checks it: Event is not among its invocation types. */
export function parseStreamingInvocationType(raw: string | undefined): InvocationTypeHeader {
  if (raw === undefined || raw === '' || raw === 'RequestResponse') return 'RequestResponse';
  if (raw === 'DryRun') return raw;
  throw badParameter(`1 validation error detected: Value '${raw}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]`);
}

/** The error JSON's errorMessage (what Lambda's InvokeComplete.ErrorDetails carries), or the error text as it came. */
export function errorDetails(payload: Buffer): string {
  const text = payload.toString('utf8');
  try {
    const doc: unknown = JSON.parse(text);
    if (typeof doc === 'object' && doc !== null && typeof (doc as { errorMessage?: unknown }).errorMessage === 'string') return (doc as { errorMessage: string }).errorMessage;
  } catch {
    // Not JSON: the text is the detail.
  }
  return text;
}

/** The body could not be read to its end and the stream's end names no error: the platform lost the stream. */
export const STREAM_LOST: NonNullable<StreamEnd['error']> = {
  errorType: 'ServiceException',
  payload: Buffer.from(JSON.stringify({ errorMessage: 'The response stream from the function was cut.', errorType: 'ServiceException' })),
};

/** InvokeComplete for how a call ended: the error (if any) as ErrorCode and ErrorDetails, and the log tail when asked. */
export function invokeComplete(error: StreamEnd['error'] | undefined, logTail: string | undefined): InvokeComplete {
  return {
    ...(error ? { ErrorCode: error.errorType, ErrorDetails: errorDetails(error.payload) } : {}),
    ...(logTail !== undefined ? { LogResult: logTail } : {}),
  };
}

/**
 * The event-stream frames of a result, pulled one at a time (so the body is
 * read only as fast as the client takes them). A buffered result: its
 * payload as one PayloadChunk (none for an error: the error is in
 * InvokeComplete), then InvokeComplete.
 */
export async function* invokeEvents(result: InvokeResult, tail: boolean): AsyncGenerator<Buffer> {
  const stream = result.stream;
  if (!stream) {
    const error = result.outcome === 'success' ? undefined : { errorType: result.errorType ?? normalisePostedError(result.payload, 'Unhandled').errorType, payload: result.payload };
    if (!error) yield* payloadChunks(result.payload);
    yield invokeCompleteEvent(invokeComplete(error, tail ? (result.logTail ?? '') : undefined));
    return;
  }
  let lost = false;
  try {
    for await (const chunk of stream.body) yield* payloadChunks(chunk as Buffer);
  } catch {
    lost = true;
  }
  const end = await stream.ended;
  yield invokeCompleteEvent(invokeComplete(end.error ?? (lost ? STREAM_LOST : undefined), tail ? (end.logTail ?? result.logTail ?? '') : undefined));
}

/**
 * A Readable of the frames for fastify to pipe to the client with
 * back-pressure: the next frame is made only once the last one was taken.
 * Destroyed before the body ended (the client went away), it destroys the
 * body at once, not at the body's next chunk (a generator that waits for one
 * cannot be stopped before it comes), which releases the instance.
 */
export function eventStreamBody(result: InvokeResult, tail: boolean): Readable {
  const frames = invokeEvents(result, tail);
  const body = result.stream?.body;
  let pulling = false;
  return new Readable({
    highWaterMark: 1,
    read() {
      if (pulling) return;
      pulling = true;
      frames.next().then(
        (next) => {
          pulling = false;
          this.push(next.done === true ? null : next.value);
        },
        (err: unknown) => this.destroy(err as Error),
      );
    },
    destroy(err, cb) {
      if (body && !body.readableEnded) body.destroy();
      cb(err);
    },
  });
}

export const responseStreamApi: FastifyPluginAsync<ResponseStreamApiOptions> = async (app, opts) => {
  const home = arnHome(opts.arn('_'));
  app.post<{ Params: { name: string }; Querystring: { Qualifier?: string } }>(
    RESPONSE_STREAM_ROUTE,
    {
      // AWS authorises InvokeWithResponseStream as lambda:InvokeFunction.
      config: { lambdaAction: 'lambda:InvokeFunction' },
      bodyLimit: opts.limits.syncBytes,
      schema: {
        summary: 'Invoke a function and stream its response (AWS Lambda InvokeWithResponseStream)',
        tags: ['invoke'],
        params: { type: 'object', properties: { name: { type: 'string', description: 'Function name, NAME:QUALIFIER, or a full or partial ARN (qualified or not)' } } },
        querystring: {
          type: 'object',
          properties: { Qualifier: { type: 'string', description: 'The version or alias to invoke: $LATEST (default), a published version number, or an alias.' } },
        },
        headers: {
          type: 'object',
          properties: {
            'x-amz-invocation-type': { type: 'string', description: 'RequestResponse (default) or DryRun' },
            'x-amz-log-type': { type: 'string', description: 'None (default) or Tail: InvokeComplete.LogResult carries the last 4 KB of logs' },
            'x-amz-client-context': { type: 'string', description: 'Base64-encoded JSON client context' },
          },
        },
        response: {
          200: { description: 'application/vnd.amazon.eventstream: PayloadChunk events as the function writes, then InvokeComplete (ErrorCode, ErrorDetails, LogResult)' },
          204: { description: 'DryRun passed' },
        },
      },
    },
    async (req, reply) => {
      const r = readInvokeRequest(req, { catalog: opts.catalog, limits: opts.limits, arn: opts.arn, home }, parseStreamingInvocationType);
      if (r.type === 'DryRun') return reply.code(204).send();
      const result = await invokeNow(opts.invoker, r, req.id, true);
      reply.code(200).header('content-type', EVENT_STREAM_CONTENT_TYPE).header('x-amz-executed-version', result.executedVersion ?? '$LATEST');
      return reply.send(eventStreamBody(result, r.logType === 'Tail'));
    },
  );
};
