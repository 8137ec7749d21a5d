// Requests that never become requests: bytes Node's HTTP parser refuses (a
// Content-Length that is not a number or disagrees with another, bad
// chunking, a NUL or space where a header may not hold one, headers over the
// limit, a request not received in time) and paths fastify cannot decode.
// Fastify answers those with its own JSON; callers of a Lambda endpoint get
// Lambda's REST error shape instead, as for every other error: x-amzn-ErrorType,
// X-Amzn-RequestId and {"Type":"User","message":...}. No route or hook runs,
// so nothing is ever invoked.
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LambdaError } from './lambda-errors.js';
import { closeLingering } from './lingering-close.js';
import { sendLambdaError } from './reply-error.js';

/**
 * The Lambda error for one of Node's HTTP parser errors (llhttp's HPE_* codes,
 * whose `reason` is llhttp's own fixed text, never the client's bytes) or the
 * request timeout. Pure.
 */
export function framingError(code: string | undefined, reason: string | undefined, headerLimit = maxHeaderSize): LambdaError {
  if (code === 'HPE_HEADER_OVERFLOW') return new LambdaError(431, 'RequestTooLargeException', `Request headers must be smaller than ${headerLimit} bytes.`);
  // AWS's SDKs retry this type; a request that was never received in full never ran.
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new LambdaError(408, 'RequestTimeoutException', 'The request was not received in time.');
  return new LambdaError(400, 'InvalidRequestContentException', `The request is not well-formed HTTP/1.1: ${reason ?? code ?? 'parse error'}.`);
}

/** A whole HTTP/1.1 answer carrying `err`, written straight to a socket that has no request object. Pure. */
export function rawLambdaError(err: LambdaError, requestId: string): string {
  const body = JSON.stringify(err.body());
  return [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-amzn-RequestId: ${requestId}`,
    `x-amzn-ErrorType: ${err.type}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

const answered = new WeakSet<Socket>();

/**
 * The server's clientError handler (fastify's clientErrorHandler option). The
 * parser stays failed, so Node may report the same socket again as more bytes
 * arrive: it is answered once. A parse error is closed lingering (the rest of
 * what the client sends is read and dropped, for at most LINGER_MS) so the
 * answer is not lost to a reset; a timed-out request is closed at once.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  // Node's own handler writes only while no answer has begun on this connection.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) socket.write(rawLambdaError(framingError(err.code, (err as { reason?: string }).reason), randomUUID()));
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.destroy();
    return;
  }
  closeLingering(socket);
}

/** fastify's frameworkErrors handler: a path it cannot decode (or route on) answers like any other bad parameter. */
export function answerFrameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-amzn-requestid', req.id);
  void sendLambdaError(reply, new LambdaError(400, 'InvalidParameterValueException', err.message));
}
