// The dead-letter routes behind `hearth dlq`: list a function's dead-lettered
// events with Lambda's records, and redrive them into its queue.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Queue } from '../../queue/queue.js';
import { badParameter } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';

export interface DlqOptions {
  queue: Pick<Queue, 'listDeadLetters' | 'redrive'>;
}

const FUNCTION_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LIMIT = 1000;

type Route = { Params: { function: string }; Querystring: { limit?: string } };

function parseLimit(v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw badParameter(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

function checkName(name: string): void {
  if (name.length > 63 || !FUNCTION_NAME.test(name)) throw badParameter(`invalid function name: ${name}`);
}

function json(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(body));
}

const schema = (summary: string) => ({
  summary,
  tags: ['async'],
  params: { type: 'object', properties: { function: { type: 'string', description: 'Function name' } } },
  querystring: { type: 'object', properties: { limit: { type: 'string', description: `At most this many (1-${MAX_LIMIT})` } } },
});

const dlq: FastifyPluginAsync<DlqOptions> = async (app, opts) => {
  // Reading and redriving a function's own failed invocations is part of invoking it (the default actions allow it).
  const config = { lambdaAction: 'lambda:InvokeFunction' } as const;
  app.get<Route>('/dlq/:function', { config, schema: schema('List dead-lettered events, oldest first') }, async (req, reply) => {
    try {
      checkName(req.params.function);
      const deadLetters = await opts.queue.listDeadLetters(req.params.function, { limit: parseLimit(req.query.limit, 100) });
      return json(reply, { functionName: req.params.function, deadLetters });
    } catch (err) {
      return sendLambdaError(reply, toLambdaError(err));
    }
  });

  app.post<Route>('/dlq/:function/redrive', { config, schema: schema('Move dead-lettered events back into the queue') }, async (req, reply) => {
    try {
      checkName(req.params.function);
      const res = await opts.queue.redrive(req.params.function, { limit: parseLimit(req.query.limit, MAX_LIMIT) });
      return json(reply, { functionName: req.params.function, ...res });
    } catch (err) {
      return sendLambdaError(reply, toLambdaError(err));
    }
  });
};

export default dlq;
