// The pure parts of authentication: patterns, the credentials schema, the
// caller table, SigV4 header parsing and scope checks, token buckets, and
// which function a route touches.
import { describe, expect, it } from 'vitest';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import { CredentialsError, parseCredentials, sha256Hex } from '../../src/gateway/auth/credentials.js';
import { allowsFunction, isValidPattern, matchesPattern } from '../../src/gateway/auth/function-patterns.js';
import { bodyFunctionName, routeTarget, DEFAULT_OPEN_ROUTES } from '../../src/gateway/auth/route-target.js';
import { checkScope, parseAmzDate, parseSigV4Authorization, payloadMatches, unsignedHeaders } from '../../src/gateway/auth/sigv4.js';
import { TokenBuckets } from '../../src/gateway/auth/token-bucket.js';

const SIG = 'a'.repeat(64);
const header = (cred = 'AKID/20240102/us-east-1/lambda/aws4_request', signed = 'host;x-amz-date') => `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=${signed}, Signature=${SIG}`;

describe('function patterns', () => {
  it.each([
    ['*', 'anything', true],
    ['orders-*', 'orders-create', true],
    ['orders-*', 'order', false],
    ['echo', 'echo', true],
    ['echo', 'echo2', false],
    ['', 'echo', false],
  ])('%s matches %s: %s', (p, n, want) => expect(matchesPattern(p, n)).toBe(want));
  it('validates patterns and checks lists', () => {
    expect(['*', 'a', 'a-*', 'A_b'].every(isValidPattern)).toBe(true);
    expect(['', '**', 'a*b', '*a', 'a b'].some(isValidPattern)).toBe(false);
    expect(allowsFunction(['x', 'y-*'], 'y-1')).toBe(true);
    expect(allowsFunction([], 'x')).toBe(false);
  });
});

describe('credentials file', () => {
  it('accepts keys, digests and access keys, and names each problem by path without quoting values', () => {
    const ok = parseCredentials('callers:\n  - {name: a, apiKey: "0123456789abcdef", functions: ["*"]}\n  - {name: b, sha256: "' + sha256Hex('x') + '", functions: [b]}\n  - {name: c, accessKeyId: AKID, secretAccessKey: s, functions: [c], rateLimit: {requestsPerSecond: 2}}\n');
    expect(ok.callers).toHaveLength(3);
    expect(parseCredentials('').callers).toEqual([]);
    const bad = () => parseCredentials('callers:\n  - {name: a, apiKey: "short-secret", sha256: "zz", functions: []}\n  - {name: a, accessKeyId: AKID, functions: ["a*b"]}\n');
    expect(bad).toThrow(CredentialsError);
    try {
      bad();
    } catch (err) {
      const paths = (err as CredentialsError).problems.map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['callers[0].apiKey', 'callers[0].sha256', 'callers[0].functions', 'callers[1].secretAccessKey', 'callers[1].functions[0]', 'callers[1].name']));
      expect((err as Error).message).not.toContain('short-secret');
    }
    expect(() => parseCredentials('callers: [{name: a, apiKey: "0123456789abcdef", functions: ["*"]}, {name: b, apiKey: "0123456789abcdef", functions: ["*"]}]')).toThrow(/already used/);
    expect(() => parseCredentials('callers:\n  - apiKey: "sk-secret-in-broken-yaml\n')).toThrow(/not YAML/);
    try {
      parseCredentials('callers:\n  - apiKey: "sk-secret-in-broken-yaml\n');
    } catch (err) {
      expect((err as Error).message).not.toContain('sk-secret');
    }
  });

  it('finds callers by key (plain or digest) and by access key id, never exposing secrets', () => {
    const t = new CallerTable(parseCredentials(`callers:\n  - {name: a, apiKey: "0123456789abcdef", functions: ["*"]}\n  - {name: b, sha256: "${sha256Hex('fedcba9876543210')}", functions: [b], rateLimit: {requestsPerSecond: 0.5}}\n  - {name: c, accessKeyId: AKID, secretAccessKey: s3cret, functions: [c], actions: ['lambda:Get*', 'lambda:PublishVersion']}\n`));
    expect(t.byApiKey('0123456789abcdef')?.name).toBe('a');
    expect(t.byApiKey('fedcba9876543210')).toEqual({ name: 'b', functions: ['b'], actions: ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'], rateLimit: { requestsPerSecond: 0.5, burst: 1 } });
    expect(t.byApiKey('0123456789abcdeF')).toBeUndefined();
    expect(t.byAccessKeyId('AKID')).toEqual({ caller: { name: 'c', functions: ['c'], actions: ['lambda:Get*', 'lambda:PublishVersion'] }, secretAccessKey: 's3cret' });
    expect(t.byAccessKeyId('nope')).toBeUndefined();
    expect([...t.names]).toEqual(['a', 'b', 'c']);
  });
});

describe('SigV4 parsing and scope', () => {
  it('parses a well-formed header and refuses malformed ones', () => {
    expect(parseSigV4Authorization(header())).toEqual({ accessKeyId: 'AKID', scopeDate: '20240102', region: 'us-east-1', service: 'lambda', signedHeaders: ['host', 'x-amz-date'], signature: SIG });
    for (const h of [header('AKID/2024/us-east-1/lambda/aws4_request'), header('AKID/20240102/us-east-1/lambda'), header(undefined, 'x-amz-date'), header(undefined, 'Host;x-amz-date'), 'AWS4-HMAC-SHA256 Credential=a', `${header()}x`, 'AWS4-HMAC-SHA256']) {
      expect(parseSigV4Authorization(h), h).toBeUndefined();
    }
  });
  it('checks the date format, skew, scope date and service', () => {
    const auth = parseSigV4Authorization(header());
    if (!auth) throw new Error('unparsed');
    const at = Date.UTC(2024, 0, 2, 3, 4, 5);
    expect(parseAmzDate('20240102T030405Z')?.getTime()).toBe(at);
    expect(parseAmzDate('20240231T000000Z')).toBeUndefined();
    expect(checkScope(auth, '20240102T030405Z', at + 14 * 60_000).ok).toBe(true);
    expect(checkScope(auth, '20240102T030405Z', at + 16 * 60_000).ok).toBe(false);
    expect(checkScope(auth, '20240102T030405Z', at - 16 * 60_000).ok).toBe(false);
    expect(checkScope(auth, '20240103T000000Z', Date.UTC(2024, 0, 3)).ok).toBe(false);
    expect(checkScope({ ...auth, service: 's3' }, '20240102T030405Z', at).ok).toBe(false);
    expect(checkScope({ ...auth, signedHeaders: ['host'] }, '20240102T030405Z', at).ok).toBe(false);
    expect(checkScope(auth, undefined, at).ok).toBe(false);
  });
  it('compares a signed payload hash with the body', () => {
    expect(payloadMatches(sha256Hex('{}'), Buffer.from('{}'))).toBe(true);
    expect(payloadMatches(sha256Hex(''), undefined)).toBe(true);
    expect(payloadMatches(sha256Hex('{}'), Buffer.from('{ }'))).toBe(false);
    expect(payloadMatches('UNSIGNED-PAYLOAD', Buffer.from('{}'))).toBe(false);
  });
});

describe('headers a SigV4 request must sign', () => {
  const base = { host: 'h', 'x-amz-date': 'd', 'content-type': 'application/json', 'user-agent': 'aws-cli', 'x-amzn-trace-id': 't', expect: '100-continue', 'x-api-key': 'k' };
  it.each<[string, Record<string, string>, string[]]>([
    ['only signed or unsignable headers', {}, []],
    ['an added X-Amz-Invocation-Type', { 'x-amz-invocation-type': 'Event' }, ['x-amz-invocation-type']],
    ['X-Amz-Log-Type and X-Amz-Client-Context', { 'x-amz-log-type': 'Tail', 'x-amz-client-context': 'e30=' }, ['x-amz-log-type', 'x-amz-client-context']],
    ['an unsigned security token or payload hash', { 'x-amz-security-token': 't', 'x-amz-content-sha256': 'h' }, ['x-amz-security-token', 'x-amz-content-sha256']],
    ["Hearth's own: idempotency key and Prefer", { 'x-hearth-idempotency-key': 'k', prefer: 'respond-async' }, ['x-hearth-idempotency-key', 'prefer']],
  ])('%s', (_what, extra, want) => {
    const auth = parseSigV4Authorization(header(undefined, 'content-type;host;x-amz-date'));
    expect(auth).toBeDefined();
    expect(unsignedHeaders(auth!, { ...base, ...extra })).toEqual(want);
  });

  it('accepts the same headers once signed', () => {
    const auth = parseSigV4Authorization(header(undefined, 'host;prefer;x-amz-client-context;x-amz-date;x-amz-invocation-type;x-hearth-idempotency-key'));
    expect(unsignedHeaders(auth!, { ...base, 'x-amz-invocation-type': 'Event', 'x-amz-client-context': 'e30=', 'x-hearth-idempotency-key': 'k', prefer: 'respond-async' })).toEqual([]);
  });
});

describe('token buckets', () => {
  it('allows a burst, refills at the rate, and says when to retry', () => {
    let now = 0;
    const b = new TokenBuckets(() => now);
    const limit = { requestsPerSecond: 2, burst: 3 };
    expect([1, 2, 3, 4].map(() => b.take('a', limit).ok)).toEqual([true, true, true, false]);
    expect(b.take('a', limit)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(b.take('b', limit).ok).toBe(true);
    now += 500;
    expect(b.take('a', limit).ok).toBe(true);
    expect(b.take('a', limit).ok).toBe(false);
    now += 10_000;
    expect([1, 2, 3, 4].map(() => b.take('a', limit).ok)).toEqual([true, true, true, false]);
    expect(b.take('a', { requestsPerSecond: 1, burst: 1 }).ok).toBe(true);
  });
});

describe('route targets', () => {
  it('finds the function of every route, open routes and record lookups', () => {
    expect(routeTarget('/2015-03-31/functions/:name/invocations', { name: 'arn:aws:lambda:us-east-1:1:function:echo:$LATEST' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'arn:aws:lambda:us-east-1:1:function:echo:$LATEST' });
    expect(routeTarget('/2015-03-31/functions/:name/invocations', { name: 'arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'echo' });
    expect(routeTarget('/2015-03-31/functions/:name/invocations', { name: 'echo:1' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'echo' });
    expect(routeTarget('/fn/:name/*', { name: 'a', '*': 'x' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'a' });
    // A function URL of an alias (or of $LATEST, or a version number it then refuses) is the function's to allow.
    expect(routeTarget('/fn/:name/*', { name: 'a:live', '*': 'x' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'a' });
    expect(routeTarget('/fn/:name', { name: 'a:$LATEST' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'a' });
    expect(routeTarget('/fn/:name', { name: 'a:3' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'a' });
    expect(routeTarget('/dlq/:function/redrive', { function: 'b' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'b' });
    expect(routeTarget('/logs/:function', { function: 'c' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name: 'c' });
    expect(routeTarget('/invocations/:requestId', { requestId: 'r' }, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'record', requestId: 'r' });
    expect(routeTarget('/metrics', {}, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'open' });
    expect(routeTarget('/metrics', {}, [])).toEqual({ kind: 'any-caller' });
    expect(routeTarget('/healthz', {}, [])).toEqual({ kind: 'open' });
    expect(routeTarget(undefined, {}, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'any-caller' });
  });

  it.each<[string, string, Record<string, string>, object]>([
    // The control routes of one function name it by :name: a name, NAME:Q or an ARN.
    ['GET', '/2015-03-31/functions/:name', { name: 'a' }, { kind: 'function', name: 'a' }],
    ['GET', '/2015-03-31/functions/:name/configuration', { name: 'arn:aws:lambda:us-east-1:123456789012:function:a' }, { kind: 'function', name: 'a' }],
    ['PUT', '/2015-03-31/functions/:name/code', { name: 'a:3' }, { kind: 'function', name: 'a' }],
    ['PUT', '/2017-10-31/functions/:name/concurrency', { name: 'a' }, { kind: 'function', name: 'a' }],
    ['GET', '/2019-09-30/functions/:name/provisioned-concurrency', { name: 'a' }, { kind: 'function', name: 'a' }],
    ['PUT', '/2019-09-25/functions/:name/event-invoke-config', { name: 'a' }, { kind: 'function', name: 'a' }],
    ['POST', '/2021-10-31/functions/:name/url', { name: 'a' }, { kind: 'function', name: 'a' }],
    ['GET', '/2020-06-30/functions/:name/code-signing-config', { name: 'a' }, { kind: 'function', name: 'a' }],
    // Tags name the function by its ARN.
    ['POST', '/2017-03-31/tags/:arn', { arn: 'arn:aws:lambda:us-east-1:123456789012:function:a' }, { kind: 'function', name: 'a' }],
    // CreateFunction names it in the body; ListFunctions and the account routes name none.
    ['POST', '/2015-03-31/functions', {}, { kind: 'body-function' }],
    ['GET', '/2015-03-31/functions/', {}, { kind: 'account' }],
    ['GET', '/2015-03-31/functions', {}, { kind: 'account' }],
    ['GET', '/2016-08-19/account-settings/', {}, { kind: 'account' }],
    ['GET', '/2015-03-31/event-source-mappings/', {}, { kind: 'account' }],
    // CreateEventSourceMapping names its function in the body, as CreateFunction; a mapping's UUID routes are every function's.
    ['POST', '/2015-03-31/event-source-mappings/', {}, { kind: 'body-function' }],
    ['PUT', '/2015-03-31/event-source-mappings/:uuid', { uuid: 'u' }, { kind: 'unlisted' }],
    // CloudEvents and bucket notifications invoke the function they name.
    ['POST', '/events/:name', { name: 'arn:aws:lambda:us-east-1:123456789012:function:a:live' }, { kind: 'function', name: 'a' }],
    ['POST', '/events/s3/:name', { name: 'a' }, { kind: 'function', name: 'a' }],
    // Package downloads carry their own signature.
    ['GET', '/packages/:sha256', { sha256: 'x' }, { kind: 'open' }],
    // Closed operations routes: any authenticated caller. A route this table does not know: every function's.
    ['GET', '/openapi.json', {}, { kind: 'any-caller' }],
    ['GET', '/2015-03-31/layers/:layer', { layer: 'l' }, { kind: 'unlisted' }],
    ['GET', '/admin/:anything', { anything: 'a' }, { kind: 'unlisted' }],
  ])('%s %s with %j is %j', (method, route, params, want) => {
    expect(routeTarget(route, params, ['/metrics'], method)).toEqual(want);
  });

  it.each<[unknown, string]>([
    [Buffer.from('{"FunctionName":"orders-create","ZipFile":"UEsDBA=="}'), 'orders-create'],
    [Buffer.from('{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:billing"}'), 'billing'],
    [{ FunctionName: 'echo' }, 'echo'],
    [Buffer.from('{"FunctionName":"a:b:c"}'), 'a:b:c'],
    [Buffer.from('{nope'), ''],
    [Buffer.from('["FunctionName"]'), ''],
    [Buffer.from('{"FunctionName":7}'), ''],
    [undefined, ''],
  ])('the body %s names function %j', (body, want) => {
    expect(bodyFunctionName(body)).toBe(want);
  });
});
