// The gateway's server span: one per HTTP request (health checks and scrapes
// aside), continuing the caller's trace from its traceparent or, failing
// that, its X-Amzn-Trace-Id. Routes pass req.hearthTraceparent on with the
// invocation, so the queue's, the dispatcher's and the agent's spans hang
// under it. With tracing off the caller's context is passed on as it came.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { SpanKind, startSpan, tracing, type TraceSpan } from './spans.js';
import { callerTrace, formatTraceparent } from './trace-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The span this request's work continues, as a W3C traceparent: the gateway's server span, or the caller's own with tracing off. */
    hearthTraceparent?: string;
    /** The gateway's server span, ended with the response. */
    hearthSpan?: TraceSpan;
  }
}

/** Operational routes that would flood traces: probes and scrapes. */
const UNTRACED: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/livez', '/metrics', '/openapi.json']);

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function startServerSpan(req: FastifyRequest): void {
  const route = req.routeOptions.url;
  if (route !== undefined && UNTRACED.has(route)) return;
  const traceparent = one(req.headers.traceparent);
  const xray = one(req.headers['x-amzn-trace-id']);
  if (!tracing('gateway')) {
    // Nothing recorded here; the caller's context still reaches the runtime.
    if (traceparent === undefined && xray === undefined) return;
    const caller = callerTrace(traceparent, xray);
    if (caller.parent !== undefined) req.hearthTraceparent = formatTraceparent(caller.parent);
    return;
  }
  const caller = callerTrace(traceparent, xray);
  const span = startSpan('gateway', `${req.method} ${route ?? 'unmatched'}`, caller.parent ? formatTraceparent(caller.parent) : undefined, {
    kind: SpanKind.SERVER,
    ...(caller.traceId !== undefined ? { traceId: caller.traceId } : {}),
    attributes: {
      'http.request.method': req.method,
      'url.path': req.url.split('?')[0] ?? req.url,
      ...(route !== undefined ? { 'http.route': route } : {}),
      'aws.request_id': req.id,
    },
  });
  req.hearthSpan = span;
  req.hearthTraceparent = span.traceparent;
}

/** Registered before the routes (it skips encapsulation, as the auth plugin does), so its hooks see every request. */
const gatewaySpans: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req) => startServerSpan(req));
  app.addHook('onResponse', async (req, reply) => {
    const span = req.hearthSpan;
    if (span === undefined) return;
    span.setAttributes({ 'http.response.status_code': reply.statusCode });
    if (reply.statusCode >= 500) span.fail(`HTTP ${reply.statusCode}`);
    span.end();
  });
};

Object.assign(gatewaySpans, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hearth-gateway-spans' });

export default gatewaySpans;
