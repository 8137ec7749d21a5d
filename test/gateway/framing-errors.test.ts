// What a request Node's HTTP parser refuses is answered with: Lambda's error
// shape, written raw since no request object exists yet.
import { describe, expect, it } from 'vitest';
import { framingError, rawLambdaError } from '../../src/gateway/framing-errors.js';

describe('framing errors as Lambda errors', () => {
  it.each<[string | undefined, string | undefined, number, string, string]>([
    ['HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length', 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: Invalid character in Content-Length.'],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length', 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: Duplicate Content-Length.'],
    ['HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size', 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: Invalid character in chunk size.'],
    ['HPE_INVALID_HEADER_TOKEN', 'Invalid header value char', 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: Invalid header value char.'],
    ['HPE_SOMETHING_NEW', undefined, 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: HPE_SOMETHING_NEW.'],
    [undefined, undefined, 400, 'InvalidRequestContentException', 'The request is not well-formed HTTP/1.1: parse error.'],
    ['HPE_HEADER_OVERFLOW', 'Header overflow', 431, 'RequestTooLargeException', 'Request headers must be smaller than 16384 bytes.'],
    ['ERR_HTTP_REQUEST_TIMEOUT', undefined, 408, 'RequestTimeoutException', 'The request was not received in time.'],
  ])('%s → %i %s', (code, reason, status, type, message) => {
    const err = framingError(code, reason, 16384);
    expect([err.status, err.type, err.message]).toEqual([status, type, message]);
    expect(err.body()).toEqual({ Type: 'User', message });
  });

  it('writes a whole HTTP/1.1 answer that closes the connection', () => {
    const text = rawLambdaError(framingError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'), 'req-1');
    const [head, body] = text.split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')).toEqual([
      'HTTP/1.1 400 Bad Request',
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'x-amzn-RequestId: req-1',
      'x-amzn-ErrorType: InvalidRequestContentException',
      'Connection: close',
    ]);
    expect(JSON.parse(body)).toEqual({ Type: 'User', message: 'The request is not well-formed HTTP/1.1: Invalid character in chunk size.' });
  });
});
