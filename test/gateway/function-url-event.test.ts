import { describe, expect, it } from 'vitest';
import { buildFunctionUrlEvent, isTextual, mapFunctionUrlResponse, requestTime } from '../../src/gateway/function-url-event.js';

const base = {
  method: 'post',
  rawPath: '/items/42',
  rawQueryString: 'a=1&a=2&b=x%20y',
  headers: { 'Content-Type': 'application/json', cookie: 'c1=v1; c2=v2', 'user-agent': 'curl/8', 'x-multi': ['p', 'q'] },
  body: Buffer.from('{"k":1}'),
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  domainName: '127.0.0.1',
  requestId: 'req-1',
  timeEpochMs: Date.UTC(2026, 10, 25, 6, 3, 3),
};

describe('function URL event (payload format 2.0)', () => {
  it('maps an HTTP request as Lambda function URLs do', () => {
    const e = buildFunctionUrlEvent(base);
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/items/42',
      rawQueryString: 'a=1&a=2&b=x%20y',
      cookies: ['c1=v1', 'c2=v2'],
      queryStringParameters: { a: '1,2', b: 'x y' },
      body: '{"k":1}',
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/items/42', sourceIp: '127.0.0.1', userAgent: 'curl/8' }, requestId: 'req-1', time: '25/Nov/2026:06:03:03 +0000' },
    });
    expect(e.headers).toEqual({ 'content-type': 'application/json', 'user-agent': 'curl/8', 'x-multi': 'p,q' });
  });

  it('base64-encodes binary bodies and omits empty parts', () => {
    const e = buildFunctionUrlEvent({ ...base, rawQueryString: '', headers: { 'content-type': 'image/png' }, body: Buffer.from([0, 255, 1]) });
    expect(e.isBase64Encoded).toBe(true);
    expect(e.body).toBe(Buffer.from([0, 255, 1]).toString('base64'));
    expect(e.queryStringParameters).toBeUndefined();
    expect(e.cookies).toBeUndefined();
    expect(buildFunctionUrlEvent({ ...base, body: undefined }).body).toBeUndefined();
  });

  it.each([
    ['text/plain; charset=utf-8', true],
    ['application/json', true],
    ['application/vnd.api+json', true],
    ['application/x-www-form-urlencoded', true],
    ['application/octet-stream', false],
    [undefined, false],
  ])('treats %s as textual: %s', (ct, textual) => {
    expect(isTextual(ct)).toBe(textual);
  });

  it('formats requestContext.time', () => {
    expect(requestTime(Date.UTC(2026, 0, 5, 1, 2, 3))).toBe('05/Jan/2026:01:02:03 +0000');
  });
});

describe('function URL response mapping', () => {
  it('takes an object with statusCode as the response', () => {
    const r = mapFunctionUrlResponse(Buffer.from(JSON.stringify({ statusCode: 200, body: JSON.stringify('Hello, world!') })));
    expect(r.statusCode).toBe(200);
    expect(r.body.toString()).toBe('"Hello, world!"');
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('keeps headers and cookies, decodes base64 bodies', () => {
    const r = mapFunctionUrlResponse(
      Buffer.from(JSON.stringify({ statusCode: 201, headers: { 'Content-Type': 'text/plain', 'X-N': 1 }, cookies: ['a=b'], body: Buffer.from('hi').toString('base64'), isBase64Encoded: true })),
    );
    expect(r).toEqual({ statusCode: 201, headers: { 'content-type': 'text/plain', 'x-n': '1' }, cookies: ['a=b'], body: Buffer.from('hi') });
  });

  it('answers any other JSON value as a 200 JSON body', () => {
    for (const v of ['"text"', '[1,2]', '{"message":"no status"}', 'null', '42']) {
      const r = mapFunctionUrlResponse(Buffer.from(v));
      expect(r.statusCode).toBe(200);
      expect(r.body.toString()).toBe(v);
      expect(r.headers['content-type']).toBe('application/json');
    }
  });

  it('turns an impossible status code into a 502', () => {
    expect(mapFunctionUrlResponse(Buffer.from('{"statusCode":"nope"}')).statusCode).toBe(502);
  });
});
