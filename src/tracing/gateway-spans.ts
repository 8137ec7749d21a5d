// The gateway's server span: one per HTTP request (health checks and scrapes
// aside), continuing the caller's trace from its traceparent or, failing
// that, its X-Amzn-Trace-Id. Routes pass traceparentOf(req) on with the
// invocation, so the queue's, the dispatcher's and the agent's spans hang
// under it. With tracing off no hook is added at all (a hook is a cost on
// every request) and traceparentOf reads the caller's context off the
// headers, only on the routes that invoke.
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

/**
 * The context an invocation continues: the gateway's server span, or with
 * tracing off the caller's own (its traceparent, else the parent its
 * X-Amzn-Trace-Id names), undefined when it sent neither.
 */
export function traceparentOf(req: FastifyRequest): string | undefined {
  if (req.hearthSpan !== undefined) return req.hearthTraceparent;
  const traceparent = one(req.headers.traceparent);
  const xray = one(req.headers['x-amzn-trace-id']);
  if (traceparent === undefined && xray === undefined) return undefined;
  const caller = callerTrace(traceparent, xray);
  return caller.parent === undefined ? undefined : formatTraceparent(caller.parent);
}

function startServerSpan(req: FastifyRequest): void {
  const route = req.routeOptions.url;
  if (route !== undefined && UNTRACED.has(route)) return;
  const caller = callerTrace(one(req.headers.traceparent), one(req.headers['x-amzn-trace-id']));
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

/**
 * Registered before the routes (it skips encapsulation, as the auth plugin
 * does), so its hooks see every request; only when this process traces, which
 * the serving commands set up before they build the gateway.
 */
const gatewaySpans: FastifyPluginAsync = async (app) => {
  if (!tracing('gateway')) return;
  // Callback hooks: no promise per request.
  app.addHook('onRequest', (req, _reply, done) => {
    startServerSpan(req);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = req.hearthSpan;
    if (span !== undefined) {
      span.setAttributes({ 'http.response.status_code': reply.statusCode });
      if (reply.statusCode >= 500) span.fail(`HTTP ${reply.statusCode}`);
      span.end();
    }
    done();
  });
};

Object.assign(gatewaySpans, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hearth-gateway-spans' });

export default gatewaySpans;
