// The gateway: a fastify app whose routes are plugins, each with only the
// dependencies it needs. Every answer carries X-Amzn-RequestId, and every
// error is Lambda's JSON error shape.
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LIMITS } from '../api/function.js';
import type { FunctionCatalog } from '../api/catalog.js';
import type { Invoker } from '../dispatch/invoker.js';
import type { Queue } from '../queue/queue.js';
import { createConnectionMetrics } from '../metrics/connections.js';
import { ConnectionGuard, defaultConnectionLimits, type ConnectionLimits } from './connection-guard.js';
import { answerClientError, answerFrameworkError } from './framing-errors.js';
import { LambdaError } from './lambda-errors.js';
import { lingerOnClose } from './lingering-close.js';
import { RequestLog } from './request-log.js';
import { servePlainInvoke } from './plain-invoke.js';
import auth, { type AuthOptions } from './plugins/auth.js';
import { functionUrl } from './plugins/function-url.js';
import { health, type HealthOptions } from './plugins/health.js';
import { invokeApi } from './plugins/invoke-api.js';
import managementOff from './plugins/management-off.js';
import { metricsRoute } from './plugins/metrics.js';
import { responseStreamApi } from './plugins/response-stream-api.js';
import { sendLambdaError, toLambdaError } from './reply-error.js';
import gatewaySpans from '../tracing/gateway-spans.js';
import { tracing } from '../tracing/spans.js';

export interface PayloadLimits {
  syncBytes: number;
  asyncBytes: number;
}

export interface GatewayOptions {
  invoker: Invoker;
  catalog: FunctionCatalog;
  queue: Pick<Queue, 'enqueue'>;
  registry: Registry;
  arn: (name: string) => string;
  logger?: Logger;
  limits?: Partial<PayloadLimits>;
  readinessChecks?: HealthOptions['readinessChecks'];
  /** What /readyz also reports (hearth up: the function sandbox). */
  readinessDetails?: HealthOptions['details'];
  /** True once the gateway is leaving: /readyz fails and every answer says Connection: close. */
  draining?: () => boolean;
  /** Further route plugins (records, dead letters, authentication hooks) registered with the app. */
  plugins?: Array<{ plugin: FastifyPluginAsync<never>; options?: unknown }>;
  /** Callers and what they may invoke; without it every route is open (the embedded default on loopback). */
  auth?: AuthOptions;
  /** Connection caps and request timeouts (README: Connection limits); unset parts take their defaults. */
  connections?: Partial<ConnectionLimits>;
  /** false: the control-plane routes answer 403 AccessDeniedException, only invocation is served (--management-api=false). Default true. */
  managementApi?: boolean;
}

/** Receiving one whole request, headers and body, may take this long (Node's requestTimeout; the function's run time is not counted). */
export const REQUEST_TIMEOUT_MS = 300_000;

export async function buildGateway(opts: GatewayOptions): Promise<FastifyInstance> {
  const limits: PayloadLimits = { syncBytes: LIMITS.syncPayloadBytes, asyncBytes: LIMITS.asyncPayloadBytes, ...opts.limits };
  const connLimits: ConnectionLimits = { ...defaultConnectionLimits(), ...opts.connections };
  const app = Fastify({
    loggerInstance: opts.logger,
    // Per-request logs would dominate the hot path; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // req.log is made when a request logs, not for every request (request-log.ts).
    childLoggerFactory: (logger, bindings, opts) => new RequestLog(logger, bindings, opts),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Requests that are not well-formed HTTP get Lambda's error shape too.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    bodyLimit: Math.max(limits.syncBytes, limits.asyncBytes),
    // A slow client must not hold a connection forever: these bound receiving a request, and Node checks them every second.
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: { headersTimeout: connLimits.headersTimeoutMs, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
  }) as unknown as FastifyInstance;
  const guard = new ConnectionGuard(app.server, connLimits, createConnectionMetrics(opts.registry));
  app.addHook('onClose', async () => guard.stop());

  // Invocation payloads travel as raw bytes: the gateway never re-encodes them.
  app.removeAllContentTypeParsers();
  const asBytes = (_req: unknown, body: Buffer | string, done: (err: null, body: Buffer | string) => void): void => done(null, body);
  // The common types by name as well: fastify caches the parser of a named type, while '*' alone has every request's Content-Type parsed again.
  app.addContentTypeParser(['application/json', 'application/octet-stream'], { parseAs: 'buffer' }, asBytes);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, asBytes);

  // A callback hook, not an async one: no promise per request.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-amzn-requestid', req.id);
    // Leaving: a kept-alive client sends its next call on a new connection, which endpoints send to another gateway.
    if (opts.draining?.()) reply.header('connection', 'close');
    done();
  });
  app.setErrorHandler((err, req, reply) => {
    const lambdaErr = toLambdaError(err, { bodyLimit: req.routeOptions.bodyLimit ?? limits.syncBytes });
    // Answering a body that is still arriving: fastify closes the connection after this answer.
    if (!req.raw.complete) lingerOnClose(req.raw.socket);
    // Authentication runs on the headers (onRequest), before any body is read: a refused caller gets no kept-alive
    // connection to retry on, nor one to hold open with a body it never ends.
    if (lambdaErr.status === 401 || lambdaErr.status === 403) reply.header('connection', 'close');
    if (lambdaErr.status >= 500 && !(err instanceof LambdaError)) req.log.error({ err }, 'request failed');
    return sendLambdaError(reply, lambdaErr);
  });
  app.setNotFoundHandler((req, reply) => sendLambdaError(reply, new LambdaError(404, 'UnknownOperationException', `No route for ${req.method} ${req.url.split('?')[0]}`)));

  // First of all: a request refused by authentication is traced too.
  await app.register(gatewaySpans);
  // Before any route, so its hooks guard them all.
  if (opts.auth) await app.register(auth, { arn: opts.arn, ...opts.auth });
  // After authentication, so an anonymous caller still gets 401.
  if (opts.managementApi === false) await app.register(managementOff);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Hearth gateway', version: '0.1.0', description: 'The Lambda Invoke API and plain HTTP routes of Hearth.' },
    },
  });
  await app.register(health, {
    readinessChecks: opts.readinessChecks ?? [],
    ...(opts.draining ? { draining: opts.draining } : {}),
    ...(opts.readinessDetails ? { details: opts.readinessDetails } : {}),
  });
  await app.register(metricsRoute, { registry: opts.registry });
  await app.register(invokeApi, { invoker: opts.invoker, catalog: opts.catalog, queue: opts.queue, limits, arn: opts.arn });
  await app.register(responseStreamApi, { invoker: opts.invoker, catalog: opts.catalog, limits, arn: opts.arn });
  await app.register(functionUrl, { invoker: opts.invoker, catalog: opts.catalog, queue: opts.queue, limits, arn: opts.arn });
  for (const p of opts.plugins ?? []) await app.register(p.plugin, p.options as never);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  servePlainInvokesFirst(app, opts, limits);
  return app;
}

/**
 * The commonest Invoke goes ahead of fastify (plain-invoke.ts), which serves
 * everything else: with authentication on, only calls it admits (its
 * hearthAdmitsPlainInvoke). Not when a hook must see every request (the
 * gateway's spans), nor once fastify closes (it answers 503 then). A
 * plugin added later whose hooks reach every route (skip-override) and must
 * see invocations belongs in this condition: fastify 5 has no call that
 * says which hooks a route has, short of printing its routes.
 */
function servePlainInvokesFirst(app: FastifyInstance, opts: GatewayOptions, limits: PayloadLimits): void {
  const routing = app.routing;
  const admits = app.hearthAdmitsPlainInvoke;
  if ((opts.auth !== undefined && admits === undefined) || tracing('gateway') || !app.server.listeners('request').includes(routing)) return;
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Pre-built once: this runs per request.
  const plain = {
    invoker: opts.invoker,
    catalog: opts.catalog,
    syncBytes: limits.syncBytes,
    arn: opts.arn,
    ...(opts.draining ? { draining: opts.draining } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.auth !== undefined && admits !== undefined ? { admits } : {}),
  };
  app.server.removeListener('request', routing);
  // First, where fastify's listener was: the connection guard's and drain's listeners still see every request.
  app.server.prependListener('request', (req, res) => {
    if (closing || !servePlainInvoke(plain, req, res)) routing(req, res);
  });
}
