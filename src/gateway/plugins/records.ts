// GET /invocations/{requestId}: where an async invocation stands (queued,
// running, succeeded, failed, dead-lettered), its attempts, times and result.
import type { FastifyPluginAsync } from 'fastify';
import type { Queue } from '../../queue/queue.js';
import { LambdaError } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';

export interface RecordsOptions {
  queue: Pick<Queue, 'record' | 'evictionNote'>;
}

const records: FastifyPluginAsync<RecordsOptions> = async (app, opts) => {
  app.get<{ Params: { requestId: string } }>(
    '/invocations/:requestId',
    {
      // Following one's own invocations is part of invoking (the default actions allow it).
      config: { lambdaAction: 'lambda:InvokeFunction' },
      schema: {
        summary: 'Status and result of an asynchronous invocation',
        tags: ['async'],
        params: { type: 'object', properties: { requestId: { type: 'string', description: 'The request id the Event invocation was answered with' } } },
      },
    },
    async (req, reply) => {
      try {
        const rec = await opts.queue.record(req.params.requestId);
        if (!rec) {
          const why = opts.queue.evictionNote?.(req.params.requestId) ?? `Invocation not found: ${req.params.requestId}`;
          return sendLambdaError(reply, new LambdaError(404, 'ResourceNotFoundException', why));
        }
        return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(rec));
      } catch (err) {
        return sendLambdaError(reply, toLambdaError(err));
      }
    },
  );
};

export default records;
