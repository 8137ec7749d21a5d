// One place that turns any failure on a gateway route into Lambda's REST
// error shape, so every 4xx and 5xx answer is JSON with x-amzn-ErrorType.
import type { FastifyError, FastifyReply } from 'fastify';
import { DispatchError } from '../dispatch/invoker.js';
import { QueueFullError, QueueUnavailableError } from '../queue/queue.js';
import { LambdaError, notFound, throttled, tooLarge } from './lambda-errors.js';

export function toLambdaError(err: unknown, ctx: { arn?: string; bodyLimit?: number } = {}): LambdaError {
  if (err instanceof LambdaError) return err;
  if (err instanceof DispatchError) {
    switch (err.kind) {
      case 'not-found':
        // The dispatcher's message names the (qualified) ARN it could not find.
        return ctx.arn !== undefined ? notFound(ctx.arn) : new LambdaError(404, 'ResourceNotFoundException', err.message);
      case 'throttled':
        return throttled(err.reason ?? 'ConcurrentInvocationLimitExceeded');
      case 'unavailable':
        return new LambdaError(502, 'ResourceNotReadyException', err.message);
      case 'service-unavailable':
        return new LambdaError(503, 'ServiceException', err.message, {}, 1);
    }
  }
  if (err instanceof QueueFullError) {
    return new LambdaError(429, 'TooManyRequestsException', err.message, {}, err.retryAfterSeconds);
  }
  if (err instanceof QueueUnavailableError) {
    return new LambdaError(503, 'ServiceException', 'The event queue is unavailable; retry later.', {}, err.retryAfterSeconds);
  }
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return tooLarge(ctx.bodyLimit ?? 0);
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new LambdaError(415, 'UnsupportedMediaTypeException', fe.message ?? 'Unsupported media type');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new LambdaError(fe.statusCode, 'InvalidParameterValueException', fe.message ?? 'Bad request');
  }
  if ((err as Error).name === 'TimeoutError' || fe.code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new LambdaError(504, 'ServiceException', 'The function did not answer in time.');
  }
  return new LambdaError(500, 'ServiceException', 'An internal error occurred.');
}

export function sendLambdaError(reply: FastifyReply, err: LambdaError): FastifyReply {
  reply.code(err.status).header('x-amzn-ErrorType', err.type).header('content-type', 'application/json');
  if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
  return reply.send(JSON.stringify(err.body()));
}
