import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { NotDeliveredError, notDeliveredReason, type CallFailure } from './delivery.js';

/** A Node system error as net.Socket raises it. */
function sysError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code} 10.0.0.1:9000`), { code, syscall, errno: -1 });
}

const err = (error: unknown): CallFailure => ({ kind: 'error', error });
const answer = (statusCode: number, headers: Record<string, string> = {}): CallFailure => ({ kind: 'answer', statusCode, headers });

describe('notDeliveredReason', () => {
  it.each([
    // Nothing was sent: no connection existed.
    ['connection refused', err(sysError('ECONNREFUSED', 'connect')), 'refused'],
    ['host unreachable while connecting', err(sysError('EHOSTUNREACH', 'connect')), 'unreachable'],
    ['network unreachable while connecting', err(sysError('ENETUNREACH', 'connect')), 'unreachable'],
    ['connect timed out (kernel)', err(sysError('ETIMEDOUT', 'connect')), 'connect-failed'],
    ['connect timed out (undici)', err(new errors.ConnectTimeoutError()), 'connect-timeout'],
    ['name did not resolve', err(sysError('ENOTFOUND', 'getaddrinfo')), 'unresolved'],
    ['client closed before dispatch', err(new errors.ClientClosedError()), 'client-closed'],
    ['every address refused (happy eyeballs)', err(Object.assign(new AggregateError([sysError('ECONNREFUSED', 'connect'), sysError('ENETUNREACH', 'connect')]), { code: 'ECONNREFUSED' })), 'refused'],
    ['already classified', err(new NotDeliveredError('draining', 'x')), 'draining'],
    // The agent said it will not take the call.
    ['the agent is draining', answer(503, { 'x-hearth-instance-draining': '1' }), 'draining'],
    // The call may have run: the request may have been written.
    ['reset on a connected socket', err(sysError('ECONNRESET', 'read')), undefined],
    ['host unreachable on a connected socket', err(sysError('EHOSTUNREACH', 'read')), undefined],
    ['broken pipe while writing', err(sysError('EPIPE', 'write')), undefined],
    ['other side closed (undici)', err(new errors.SocketError('other side closed')), undefined],
    ['client destroyed with the call in flight', err(new errors.ClientDestroyedError()), undefined],
    ['no answer in time', err(new errors.HeadersTimeoutError()), undefined],
    ['body cut short', err(new errors.BodyTimeoutError()), undefined],
    ['a happy-eyeballs error with one reset', err(new AggregateError([sysError('ECONNREFUSED', 'connect'), sysError('ECONNRESET', 'read')])), undefined],
    ['an empty aggregate', err(new AggregateError([])), undefined],
    ['a plain error', err(new Error('boom')), undefined],
    ['not an error at all', err('boom'), undefined],
    ['a bare 503 from something in between', answer(503), undefined],
    ['a 503 with another header value', answer(503, { 'x-hearth-instance-draining': '0' }), undefined],
    ['the draining header on another status', answer(502, { 'x-hearth-instance-draining': '1' }), undefined],
    ['payload too large', answer(413), undefined],
  ] as const)('%s → %s', (_, failure, expected) => {
    expect(notDeliveredReason(failure)).toBe(expected);
  });
});
