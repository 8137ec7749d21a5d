// The Lambda Invoke API: POST /2015-03-31/functions/{name}/invocations.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import type { HearthFunction } from '../../api/function.js';
import type { InvokeResult } from '../../agent/invocation.js';
import { DispatchError, type Invoker } from '../../dispatch/invoker.js';
import type { Queue } from '../../queue/queue.js';
import { IDEMPOTENCY_HEADER } from '../../queue/queue.js';
import { versionNumbers } from '../../versions/snapshot.js';
import { notFound, tooLarge } from '../lambda-errors.js';
import {
  arnHome,
  decodeClientContext,
  foreignArnError,
  checkEventBody,
  parseFunctionName,
  parseInvocationType,
  parseLogType,
  qualifiedArn,
  qualifierResolves,
  resolveQualifier,
  type ArnHome,
  type InvocationTypeHeader,
} from '../invoke-request.js';
import type { PayloadLimits } from '../app.js';
import type { LambdaAction } from '../auth/actions.js';
import { traceparentOf } from '../../tracing/gateway-spans.js';

export interface InvokeApiOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  queue: Pick<Queue, 'enqueue'>;
  limits: PayloadLimits;
  arn: (name: string) => string;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const EMPTY_EVENT = Buffer.from('{}');

/** What an invocation request (Invoke, InvokeWithResponseStream) asks for, read and checked. */
export interface InvokeRequestParts {
  name: string;
  qualifier: string | undefined;
  /** The ARN the caller called, qualified as it named it: what a 404 names. */
  arn: string;
  type: InvocationTypeHeader;
  logType: 'None' | 'Tail';
  clientContext: string | undefined;
  fn: HearthFunction;
  /** The event: the body, or {} when there is none. */
  body: Buffer;
  /** The caller's X-Amzn-Trace-Id, handed to the runtime when tracing is off (src/tracing). */
  traceId: string | undefined;
  /** The gateway's span (or the caller's, tracing off) as a traceparent: what the invocation's spans continue. */
  traceparent: string | undefined;
}

export interface InvokeRequestContext {
  catalog: FunctionCatalog;
  limits: PayloadLimits;
  arn: (name: string) => string;
  home: ArnHome;
}

/**
 * Reads an invocation request's name, qualifier, headers and event as Lambda
 * checks them, throwing Lambda's error for what it refuses. A call not run
 * now (DryRun, Event) that names nothing that could run is refused here too.
 * `parseType` reads X-Amz-Invocation-Type (InvokeWithResponseStream takes
 * fewer types than Invoke).
 */
export function readInvokeRequest(
  req: FastifyRequest<{ Params: { name: string }; Querystring: { Qualifier?: string } }>,
  ctx: InvokeRequestContext,
  parseType: (raw: string | undefined) => InvocationTypeHeader = parseInvocationType,
): InvokeRequestParts {
  const parsed = parseFunctionName(req.params.name);
  const foreign = foreignArnError(parsed, ctx.home, req.params.name, req.hearthCaller);
  if (foreign) throw foreign;
  const qualifier = resolveQualifier(parsed.qualifier, req.query.Qualifier);
  const arn = qualifiedArn(ctx.arn(parsed.name), qualifier);
  const type = parseType(header(req.headers['x-amz-invocation-type']));
  const logType = parseLogType(header(req.headers['x-amz-log-type']));
  const clientContext = decodeClientContext(header(req.headers['x-amz-client-context']));
  const fn = ctx.catalog.get(parsed.name);
  if (!fn) throw notFound(arn);

  const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : EMPTY_EVENT;
  const limit = type === 'Event' ? ctx.limits.asyncBytes : ctx.limits.syncBytes;
  if (body.length > limit) throw tooLarge(limit);
  checkEventBody(body);
  if (type === 'DryRun' || type === 'Event') {
    // Not run now: the dispatcher resolves the qualifier when the event runs, but a caller naming nothing that exists is told at once.
    const published = versionNumbers(ctx.catalog.versions(parsed.name));
    if (!qualifierResolves(fn, published, qualifier).ok) throw notFound(arn);
  }
  return { name: parsed.name, qualifier, arn, type, logType, clientContext, fn, body, traceId: header(req.headers['x-amzn-trace-id']), traceparent: traceparentOf(req) };
}

/** The dispatcher resolves the qualifier per call: one naming no version or alias is Lambda's 404 for the ARN called. */
function invokeFailure(err: unknown, arn: string): unknown {
  return err instanceof DispatchError && err.kind === 'not-found' ? notFound(arn) : err;
}

/** Runs a request read by readInvokeRequest now (Invoke's RequestResponse, InvokeWithResponseStream); `acceptStream`: the route passes a stream on as it comes. */
export async function invokeNow(invoker: Invoker, r: InvokeRequestParts, requestId: string, acceptStream = false): Promise<InvokeResult> {
  try {
    return await invoker.invoke({
      functionName: r.name,
      ...(r.qualifier !== undefined ? { qualifier: r.qualifier } : {}),
      requestId,
      payload: r.body,
      type: 'sync',
      tailLogs: r.logType === 'Tail',
      ...(acceptStream ? { acceptStream: true } : {}),
      ...(r.clientContext ? { clientContext: r.clientContext } : {}),
      ...(r.traceId !== undefined ? { traceId: r.traceId } : {}),
      ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}),
    });
  } catch (err) {
    throw invokeFailure(err, r.arn);
  }
}

/** The Invoke route and the action it performs: authentication's plain-Invoke check (auth.ts) names the same. */
export const INVOKE_ROUTE = '/2015-03-31/functions/:name/invocations';
export const INVOKE_ACTION: LambdaAction = 'lambda:InvokeFunction';

export const invokeApi: FastifyPluginAsync<InvokeApiOptions> = async (app, opts) => {
  // The region and account of this gateway's ARNs: an ARN naming others is refused.
  const home = arnHome(opts.arn('_'));
  app.post<{ Params: { name: string }; Querystring: { Qualifier?: string } }>(
    INVOKE_ROUTE,
    {
      config: { lambdaAction: INVOKE_ACTION },
      bodyLimit: Math.max(opts.limits.syncBytes, opts.limits.asyncBytes),
      schema: {
        summary: 'Invoke a function (AWS Lambda Invoke API)',
        tags: ['invoke'],
        params: { type: 'object', properties: { name: { type: 'string', description: 'Function name, NAME:QUALIFIER, or a full or partial ARN (qualified or not)' } } },
        querystring: {
          type: 'object',
          properties: {
            Qualifier: {
              type: 'string',
              description: 'The version or alias to invoke: $LATEST (default), a published version number, or an alias (weighted aliases pick a version per call). Unknown: 404 ResourceNotFoundException. Must match a qualifier given in the name.',
            },
          },
        },
        headers: {
          type: 'object',
          properties: {
            'x-amz-invocation-type': { type: 'string', description: 'RequestResponse (default), Event or DryRun' },
            'x-amz-log-type': { type: 'string', description: 'None (default) or Tail' },
            'x-amz-client-context': { type: 'string', description: 'Base64-encoded JSON client context' },
            [IDEMPOTENCY_HEADER]: { type: 'string', description: 'Deduplicates Event invocations within a window' },
          },
        },
        response: {
          200: { description: 'Sync result; X-Amz-Executed-Version names the version that ran; X-Amz-Function-Error is set when the function failed' },
          202: { description: 'Event accepted and queued with its qualifier' },
          204: { description: 'DryRun passed' },
        },
      },
    },
    async (req, reply) => {
      const r = readInvokeRequest(req, { catalog: opts.catalog, limits: opts.limits, arn: opts.arn, home });
      const { name, qualifier, type, logType, clientContext, body } = r;
      const requestId = req.id;
      if (type === 'DryRun') return reply.code(204).send();
      if (type === 'Event') {
        const key = header(req.headers[IDEMPOTENCY_HEADER]);
        const res = await opts.queue.enqueue({
          functionName: name,
          ...(qualifier !== undefined ? { qualifier } : {}),
          payload: body,
          requestId,
          ...(key ? { idempotencyKey: key } : {}),
          ...(clientContext ? { clientContext } : {}),
          ...(r.traceId !== undefined ? { traceId: r.traceId } : {}),
          ...(r.traceparent !== undefined ? { traceparent: r.traceparent } : {}),
        });
        reply.header('x-amzn-requestid', res.requestId);
        return reply.code(202).send();
      }
      const result = await invokeNow(opts.invoker, r, requestId);
      reply.code(200).header('content-type', 'application/json').header('x-amz-executed-version', result.executedVersion ?? '$LATEST');
      if (result.outcome !== 'success') reply.header('x-amz-function-error', result.outcome === 'handled' ? 'Handled' : 'Unhandled');
      if (logType === 'Tail') reply.header('x-amz-log-result', result.logTail ?? '');
      return reply.send(result.payload);
    },
  );
};
