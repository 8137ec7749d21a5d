import { describe, expect, it } from 'vitest';
import {
  buildFunctionUrlEvent,
  functionUrlId,
  functionUrlPath,
  isTextual,
  isTraceHeader,
  mapFunctionUrlResponse,
  newTraceId,
  peerAddress,
  requestDomain,
  requestTime,
} from '../../src/gateway/function-url-event.js';

const base = {
  method: 'post',
  rawPath: '/items/42',
  rawQueryString: 'a=1&a=2&b=x%20y',
  headers: { 'Content-Type': 'application/json', cookie: 'c1=v1; c2=v2', 'user-agent': 'curl/8', 'x-multi': ['p', 'q'] },
  body: Buffer.from('{"k":1}'),
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  scheme: 'http' as const,
  localPort: 8080,
  domainName: '127.0.0.1',
  urlId: 'a'.repeat(32),
  freshTraceId: 'Root=1-6925473b-000000000000000000000000',
  requestId: 'req-1',
  timeEpochMs: Date.UTC(2026, 10, 25, 6, 3, 3),
};
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:f';

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
    expect(e.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'curl/8',
      'x-multi': 'p,q',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '8080',
      'x-amzn-trace-id': base.freshTraceId,
    });
    expect(e.requestContext).toMatchObject({ apiId: base.urlId, domainPrefix: base.urlId, domainName: '127.0.0.1' });
  });

  it.each<[string, Record<string, string | string[] | undefined>, Partial<Record<string, string>>, string[] | undefined]>([
    ['a header on several lines is joined with ","', { 'x-a': ['1', '2 3'], accept: ['a/b', 'c/d'] }, { 'x-a': '1,2 3', accept: 'a/b,c/d' }, undefined],
    ['no header lines: no header', { 'x-a': [] }, { 'x-a': undefined }, undefined],
    ['cookies from every Cookie line', { cookie: ['a=1; b=2', 'c=3;d=4'] }, { cookie: undefined }, ['a=1', 'b=2', 'c=3', 'd=4']],
    ["the client's X-Forwarded-For list gets the peer last", { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }, { 'x-forwarded-for': '203.0.113.7, 10.0.0.1, 127.0.0.1' }, undefined],
    ['X-Forwarded-For on two lines, then the peer', { 'x-forwarded-for': ['203.0.113.7', '10.0.0.1'] }, { 'x-forwarded-for': '203.0.113.7,10.0.0.1, 127.0.0.1' }, undefined],
    ['an empty X-Forwarded-For is the peer alone', { 'x-forwarded-for': ' ' }, { 'x-forwarded-for': '127.0.0.1' }, undefined],
    ["the client's X-Forwarded-Proto and -Port are replaced", { 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' }, { 'x-forwarded-proto': 'http', 'x-forwarded-port': '8080' }, undefined],
    ['a valid trace header is kept', { 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' }, { 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' }, undefined],
    ['a trace header on two lines is replaced', { 'x-amzn-trace-id': ['Root=1-5759e988-bd862e3fe1be46a994272793', 'Root=1-5759e988-bd862e3fe1be46a994272794'] }, { 'x-amzn-trace-id': 'Root=1-6925473b-000000000000000000000000' }, undefined],
  ])('%s', (_what, headers, expected, cookies) => {
    const e = buildFunctionUrlEvent({ ...base, headers });
    for (const [k, v] of Object.entries(expected)) expect(e.headers[k], k).toBe(v);
    expect(e.cookies).toEqual(cookies);
  });

  it.each([
    ['/fn/f/users/me%3Fadmin=true', '/users/me%3Fadmin=true', ''],
    ['/fn/f/a%2Fb?x=%2F', '/a%2Fb', 'x=%2F'],
    ['/fn/f:live/a/b/?', '/a/b/', ''],
    ['/fn/f:%24LATEST//x', '//x', ''],
    ['/fn/f', '/', ''],
    ['/fn/f?a=1?b', '/', 'a=1?b'],
    ['/elsewhere', '/', ''],
  ])('functionUrlPath(%s): rawPath %s, rawQueryString %s', (target, rawPath, rawQueryString) => {
    expect(functionUrlPath(target)).toEqual({ rawPath, rawQueryString });
  });

  it('functionUrlId: 32 lowercase letters and digits, stable, one per URL ($LATEST is the plain one)', () => {
    const id = functionUrlId(ARN, undefined);
    expect(id).toMatch(/^[a-z0-9]{32}$/);
    expect(functionUrlId(ARN, undefined)).toBe(id);
    expect(functionUrlId(ARN, '$LATEST')).toBe(id);
    const others = [functionUrlId(ARN, 'live'), functionUrlId(`${ARN}2`, undefined), functionUrlId(ARN.replace('us-east-1', 'eu-west-1'), undefined)];
    for (const o of others) expect(o).toMatch(/^[a-z0-9]{32}$/);
    expect(new Set([id, ...others]).size).toBe(4);
  });

  it.each([
    ['127.0.0.1', 'ID'],
    ['10.1.2.3', 'ID'],
    ['[::1]', 'ID'],
    ['[2001:db8::1]', 'ID'],
    ['localhost', 'ID'],
    ['hearth-gateway', 'ID'],
    ['', 'ID'],
    ['abc.lambda-url.us-east-1.on.aws', 'abc'],
    ['fn.example.com', 'fn'],
    ['hearth.default.svc', 'hearth'],
  ])('requestDomain(%s): domainPrefix %s, apiId the url-id', (host, prefix) => {
    expect(requestDomain(host, 'ID')).toEqual({ apiId: 'ID', domainPrefix: prefix });
  });

  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.0.0.2', '10.0.0.2'],
    ['::1', '::1'],
    ['192.0.2.1', '192.0.2.1'],
    [undefined, ''],
  ])('peerAddress(%s) is %s', (remote, shown) => {
    expect(peerAddress(remote)).toBe(shown);
  });

  it.each([
    ['Root=1-5759e988-bd862e3fe1be46a994272793', true],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', true],
    ['Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793', true],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:1|68fd508a:5', true],
    ['Root=1-5759E988-bd862e3fe1be46a994272793', false],
    ['Root=1-5759e988-bd862e3fe1be46a99427279', false],
    ['Root=2-5759e988-bd862e3fe1be46a994272793', false],
    ['Parent=53995c3f42cd8ad8', false],
    ['Root=1-5759e988-bd862e3fe1be46a994272793; Sampled=1', false],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;', false],
    [`Root=1-5759e988-bd862e3fe1be46a994272793;X=${'a'.repeat(500)}`, false],
    ['', false],
    [undefined, false],
  ])('isTraceHeader(%s) is %s', (value, ok) => {
    expect(isTraceHeader(value)).toBe(ok);
  });

  it('newTraceId: Root=1-<epoch seconds in 8 hex>-<24 hex of the random bytes>', () => {
    const id = newTraceId(Date.UTC(2026, 10, 25, 6, 3, 3, 999), Buffer.from('00112233445566778899aabb', 'hex'));
    expect(id).toBe(`Root=1-${Math.floor(Date.UTC(2026, 10, 25, 6, 3, 3) / 1000).toString(16)}-00112233445566778899aabb`);
    expect(isTraceHeader(id)).toBe(true);
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
