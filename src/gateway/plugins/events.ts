// Event ingress over plain HTTP: POST /events/{name} takes CloudEvents 1.0
// (the HTTP binding's binary, structured and batch modes) and POST
// /events/s3/{name} the bucket notifications of S3-compatible stores; both
// invoke the function asynchronously through the queue and answer 202 once
// the queue holds the events. {name} is a name, NAME:QUALIFIER or an ARN, as
// the Invoke API takes; ?Qualifier= too. Authorised as lambda:InvokeFunction
// on the function (src/gateway/auth/route-target.ts).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { MIMEType } from 'node:util';
import type { FunctionCatalog } from '../../api/catalog.js';
import { LIMITS } from '../../api/function.js';
import type { Queue } from '../../queue/queue.js';
import { parseCloudEvents } from '../../sources/ingress/cloudevents.js';
import { normaliseS3Notification } from '../../sources/ingress/s3-notification.js';
import { versionNumbers } from '../../versions/snapshot.js';
import type { PayloadLimits } from '../app.js';
import { arnHome, foreignArnError, parseFunctionName, qualifiedArn, qualifierResolves, resolveQualifier } from '../invoke-request.js';
import { LambdaError, notFound, tooLarge } from '../lambda-errors.js';

export interface EventsOptions {
  catalog: FunctionCatalog;
  queue: Pick<Queue, 'enqueue'>;
  /** Default: Lambda's (LIMITS), as buildGateway's. */
  limits?: PayloadLimits;
  arn: (name: string) => string;
}

export const CLOUDEVENTS_ROUTE = '/events/:name';
export const S3_NOTIFICATION_ROUTE = '/events/s3/:name';
/** The request ids of the events a CloudEvents request queued, comma-separated in order. */
export const REQUEST_IDS_HEADER = 'x-hearth-request-ids';

type Route = { Params: { name: string }; Querystring: { Qualifier?: string } };

const refusal = (status: 400 | 413 | 415, message: string): LambdaError =>
  status === 415
    ? new LambdaError(415, 'UnsupportedMediaTypeException', message)
    : status === 413
      ? new LambdaError(413, 'RequestTooLargeException', message)
      : new LambdaError(400, 'InvalidRequestContentException', message);

function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

const params = { type: 'object', properties: { name: { type: 'string', description: 'Function name, NAME:QUALIFIER, or a full or partial ARN' } } };
const querystring = { type: 'object', properties: { Qualifier: { type: 'string', description: 'The version or alias to invoke (default $LATEST)' } } };

export const eventsApi: FastifyPluginAsync<EventsOptions> = async (app, opts) => {
  const home = arnHome(opts.arn('_'));
  const limits: PayloadLimits = opts.limits ?? { syncBytes: LIMITS.syncPayloadBytes, asyncBytes: LIMITS.asyncPayloadBytes };

  /** The function and qualifier a route names, refused now when nothing could run it later. */
  const target = (req: FastifyRequest<Route>): { name: string; qualifier?: string } => {
    const parsed = parseFunctionName(req.params.name);
    const foreign = foreignArnError(parsed, home, req.params.name, req.hearthCaller);
    if (foreign) throw foreign;
    const qualifier = resolveQualifier(parsed.qualifier, req.query.Qualifier);
    const arn = qualifiedArn(opts.arn(parsed.name), qualifier);
    const fn = opts.catalog.get(parsed.name);
    if (!fn) throw notFound(arn);
    if (!qualifierResolves(fn, versionNumbers(opts.catalog.versions(parsed.name)), qualifier).ok) throw notFound(arn);
    return { name: parsed.name, ...(qualifier !== undefined ? { qualifier } : {}) };
  };

  app.post<Route>(
    CLOUDEVENTS_ROUTE,
    {
      config: { lambdaAction: 'lambda:InvokeFunction' },
      // A batch may carry many events; each is held to the async limit on its own.
      bodyLimit: Math.max(limits.syncBytes, limits.asyncBytes),
      schema: {
        summary: 'Invoke a function asynchronously with CloudEvents (HTTP binding: binary, structured or batch mode)',
        tags: ['events'],
        params,
        querystring,
        response: {
          202: {
            description:
              'Queued; no body (a CloudEvents sender such as Knative reads a body as a reply event). X-Hearth-Request-Ids: the request ids, one per event in order (a single event\'s also as X-Amzn-RequestId and Location); a redelivered event (same source and id) answers its first request id and runs once',
          },
        },
      },
    },
    async (req, reply) => {
      const fn = target(req);
      const contentType = req.headers['content-type'];
      const parsed = parseCloudEvents(
        { contentType, headers: req.headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) },
        { eventBytes: limits.asyncBytes },
      );
      if (!parsed.ok) throw refusal(parsed.status, parsed.message);
      // In order, one at a time: a failure part way (the queue full or unavailable) answers its error, and the sender's
      // retry of the whole request takes only what is missing, since every event's (source, id) is its idempotency key.
      const requestIds: string[] = [];
      for (const e of parsed.events) {
        const res = await opts.queue.enqueue({
          functionName: fn.name,
          ...(fn.qualifier !== undefined ? { qualifier: fn.qualifier } : {}),
          payload: e.payload,
          // A batch's events each get a request id of their own from the queue.
          ...(parsed.mode === 'batch' ? {} : { requestId: req.id }),
          idempotencyKey: e.idempotencyKey,
        });
        requestIds.push(res.requestId);
      }
      if (parsed.mode !== 'batch' && requestIds[0] !== undefined) reply.header('x-amzn-requestid', requestIds[0]).header('location', `/invocations/${requestIds[0]}`);
      // No body: the binding lets a receiver answer with a reply event, and Knative takes any body as one (a body that is not
      // a CloudEvent is a failed delivery, retried).
      return reply.code(202).header(REQUEST_IDS_HEADER, requestIds.join(',')).send();
    },
  );

  // The CloudEvents webhook spec's abuse protection: a sender (Azure Event Grid, for one) asks with OPTIONS and
  // WebHook-Request-Origin whether this endpoint takes its events before it sends any.
  app.options<Route>(
    CLOUDEVENTS_ROUTE,
    {
      config: { lambdaAction: 'lambda:InvokeFunction' },
      schema: { summary: 'The CloudEvents webhook validation handshake (WebHook-Request-Origin → WebHook-Allowed-Origin)', tags: ['events'], params, querystring },
    },
    async (req, reply) => {
      target(req);
      const origin = req.headers['webhook-request-origin'];
      if (typeof origin === 'string' && origin !== '') reply.header('webhook-allowed-origin', origin).header('webhook-allowed-rate', '*');
      return reply.code(200).header('allow', 'POST, OPTIONS').send();
    },
  );

  app.post<Route>(
    S3_NOTIFICATION_ROUTE,
    {
      config: { lambdaAction: 'lambda:InvokeFunction' },
      bodyLimit: Math.max(limits.syncBytes, limits.asyncBytes),
      schema: {
        summary: 'Invoke a function asynchronously with an S3 bucket notification (versitygw, MinIO, AWS through SNS), normalised into AWS\'s S3 event',
        tags: ['events'],
        params,
        querystring,
        response: {
          200: { description: 'A store\'s s3:TestEvent: nothing invoked' },
          202: { description: 'Queued: {"requestId": ...}, one invocation with every record of the notification' },
        },
      },
    },
    async (req, reply) => {
      const fn = target(req);
      const raw = req.headers['content-type'];
      if (raw !== undefined) {
        // Stores send application/json; SNS sends text/plain.
        let essence: string | undefined;
        try {
          essence = new MIMEType(raw).essence;
        } catch {
          essence = undefined;
        }
        if (essence !== 'application/json' && essence !== 'text/plain') {
          throw new LambdaError(415, 'UnsupportedMediaTypeException', `a bucket notification is JSON (application/json, or text/plain from SNS), not ${JSON.stringify(raw)}`);
        }
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!isUtf8(body)) throw new LambdaError(400, 'InvalidRequestContentException', 'the notification is not valid UTF-8');
      let doc: unknown;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new LambdaError(400, 'InvalidRequestContentException', `the notification is not valid JSON: ${(err as Error).message}`);
      }
      const n = normaliseS3Notification(doc, { region: home.region, nowMs: Date.now() });
      switch (n.kind) {
        case 'test':
          return json(reply, 200, { message: 'test event received; nothing invoked' });
        case 'sns-confirmation':
          throw new LambdaError(400, 'InvalidRequestContentException', `SNS subscription confirmations are not followed: confirm the subscription to ${n.topicArn} yourself (its SubscribeURL, or aws sns confirm-subscription)`);
        case 'invalid':
          throw new LambdaError(400, 'InvalidRequestContentException', n.message);
        case 'records': {
          const payload = Buffer.from(JSON.stringify(n.event));
          if (payload.length > limits.asyncBytes) throw tooLarge(limits.asyncBytes);
          // No idempotency key: stores number events their own way (versitygw restarts its sequencer at 1), and AWS delivers
          // S3 notifications at least once too.
          const res = await opts.queue.enqueue({ functionName: fn.name, ...(fn.qualifier !== undefined ? { qualifier: fn.qualifier } : {}), payload, requestId: req.id });
          reply.header('x-amzn-requestid', res.requestId).header('location', `/invocations/${res.requestId}`);
          return json(reply, 202, { requestId: res.requestId });
        }
      }
    },
  );
};
