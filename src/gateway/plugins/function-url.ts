// Plain HTTP routes: ANY /fn/{name}/{path*} calls the function with a
// Lambda function URL event and answers as function URLs do. {name} may name
// an alias (NAME:ALIAS) or $LATEST (NAME:$LATEST), as an alias has its own
// function URL on Lambda; a version number has none.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import type { Invoker } from '../../dispatch/invoker.js';
import { DispatchError } from '../../dispatch/invoker.js';
import type { Queue } from '../../queue/queue.js';
import { IDEMPOTENCY_HEADER } from '../../queue/queue.js';
import { buildFunctionUrlEvent, functionUrlId, mapFunctionUrlResponse } from '../function-url-event.js';
import { functionUrlRequest } from '../function-url-request.js';
import { answerStreamedUrl, urlInvokeMode } from '../function-url-stream.js';
import { functionUrlTarget } from '../function-url-target.js';
import { qualifierResolves } from '../invoke-request.js';
import { versionNumbers } from '../../versions/snapshot.js';
import type { PayloadLimits } from '../app.js';
import { traceparentOf } from '../../tracing/gateway-spans.js';

export interface FunctionUrlOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  queue: Pick<Queue, 'enqueue'>;
  limits: PayloadLimits;
  /** The function's ARN by name: its URL's id (the event's apiId) derives from it. */
  arn: (name: string) => string;
}

function json(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

export const functionUrl: FastifyPluginAsync<FunctionUrlOptions> = async (app, opts) => {
  // A URL's id is a sha256 of its ARN: the same on every call, so hashed once per function and alias, not per request.
  // Only names of functions (and aliases they declare) that existed reach it, so it holds no more entries than the catalog has had.
  const urlIds = new Map<string, string>();
  const urlIdOf = (name: string, qualifier: string | undefined): string => {
    const key = qualifier === undefined ? name : `${name}:${qualifier}`;
    let id = urlIds.get(key);
    if (id === undefined) {
      id = functionUrlId(opts.arn(name), qualifier);
      urlIds.set(key, id);
    }
    return id;
  };
  const handler = async (req: FastifyRequest<{ Params: { name: string; '*'?: string } }>, reply: FastifyReply) => {
    const target = functionUrlTarget(req.params.name);
    if (!target.ok) return json(reply, 404, { message: target.message });
    const { name, qualifier } = target;
    const missing = () => json(reply, 404, { message: `Function not found: ${req.params.name}` });
    const fn = opts.catalog.get(name);
    if (!fn) return missing();
    // An alias the function does not declare has no URL; the dispatcher resolves a declared one per call.
    if (qualifier !== undefined && qualifier !== '$LATEST' && !fn.spec.aliases?.some((a) => a.name === qualifier)) return missing();
    const traceparent = traceparentOf(req);
    const event = buildFunctionUrlEvent(functionUrlRequest(req, urlIdOf(name, qualifier), Date.now(), traceparent));
    const payload = Buffer.from(JSON.stringify(event));
    // The request's trace is the function's trace context too (_X_AMZN_TRACE_ID), as on Lambda.
    const traceId = event.headers['x-amzn-trace-id'];
    const prefer = req.headers.prefer;
    if (typeof prefer === 'string' && /\brespond-async\b/i.test(prefer)) {
      if (payload.length > opts.limits.asyncBytes) return json(reply, 413, { message: `Request must be smaller than ${opts.limits.asyncBytes} bytes` });
      // Run later: an alias that can send no call anywhere is refused now rather than dead-lettered.
      if (!qualifierResolves(fn, versionNumbers(opts.catalog.versions(name)), qualifier).ok) return missing();
      const key = req.headers[IDEMPOTENCY_HEADER];
      const res = await opts.queue.enqueue({
        functionName: name,
        ...(qualifier !== undefined ? { qualifier } : {}),
        payload,
        requestId: req.id,
        ...(traceId !== undefined ? { traceId } : {}),
        ...(traceparent !== undefined ? { traceparent } : {}),
        ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      });
      reply.header('x-amzn-requestid', res.requestId).header('location', `/invocations/${res.requestId}`).header('preference-applied', 'respond-async');
      return json(reply, 202, { requestId: res.requestId });
    }
    if (payload.length > opts.limits.syncBytes) return json(reply, 413, { message: `Request must be smaller than ${opts.limits.syncBytes} bytes` });
    try {
      const acceptStream = urlInvokeMode(fn, qualifier) === 'RESPONSE_STREAM';
      const result = await opts.invoker.invoke({ functionName: name, ...(qualifier !== undefined ? { qualifier } : {}), requestId: req.id, payload, type: 'sync', acceptStream, ...(traceId !== undefined ? { traceId } : {}), ...(traceparent !== undefined ? { traceparent } : {}) });
      // A streamed response goes out as the function writes it; one that failed before its status was known is a function error below.
      if (result.stream && (await answerStreamedUrl(reply, result.stream))) return reply;
      // Function URLs hide a function's error behind a bare 502.
      if (result.outcome !== 'success' || result.stream) return json(reply, 502, { message: 'Internal Server Error' });
      const res = mapFunctionUrlResponse(result.payload);
      reply.code(res.statusCode).headers(res.headers);
      if (res.cookies.length > 0) reply.header('set-cookie', res.cookies);
      return reply.send(res.body);
    } catch (err) {
      if (err instanceof DispatchError && err.kind === 'throttled') return json(reply.header('retry-after', '1'), 429, { message: 'Rate Exceeded.' });
      if (err instanceof DispatchError && err.kind === 'not-found') return missing();
      throw err;
    }
  };
  const schema = { summary: 'Call a function over plain HTTP (function URL event, payload format 2.0)', tags: ['http'] };
  const config = { lambdaAction: 'lambda:InvokeFunctionUrl' } as const;
  app.all('/fn/:name', { config, schema, bodyLimit: Math.max(opts.limits.syncBytes, opts.limits.asyncBytes) }, handler);
  app.all('/fn/:name/*', { config, schema, bodyLimit: Math.max(opts.limits.syncBytes, opts.limits.asyncBytes) }, handler);
};
