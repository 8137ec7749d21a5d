// The plain Invoke served ahead of fastify (src/gateway/plain-invoke.ts):
// which requests it takes, and that over real HTTP its answers, and what it
// hands the invoker, are the ones fastify's route gives for the same call.
// Each pair sends one request as application/json (the plain path) and the
// same as application/octet-stream (fastify's route), and a hook counts the
// requests fastify saw, so a pair cannot pass by both going one way.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { DispatchError, type Invocation, type Invoker } from '../../src/dispatch/invoker.js';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import type { CredentialsFile } from '../../src/gateway/auth/credentials.js';
import { plainInvoke } from '../../src/gateway/plain-invoke.js';
import { standInGateway } from '../hardening/stand-in.js';

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': '15' };

describe('which requests take the plain path', () => {
  it.each<[string, string, string, Record<string, string>, boolean]>([
    ['a bare name', 'POST', '/2015-03-31/functions/echo/invocations', {}, true],
    ['RequestResponse named', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-invocation-type': 'RequestResponse' }, true],
    ['a log tail', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-log-type': 'Tail' }, true],
    ['GET', 'GET', '/2015-03-31/functions/echo/invocations', {}, false],
    ['a query', 'POST', '/2015-03-31/functions/echo/invocations?Qualifier=1', {}, false],
    ['NAME:QUALIFIER', 'POST', '/2015-03-31/functions/echo:1/invocations', {}, false],
    ['an escaped ARN', 'POST', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations', {}, false],
    ['a trailing slash', 'POST', '/2015-03-31/functions/echo/invocations/', {}, false],
    ['an Event', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-invocation-type': 'Event' }, false],
    ['a DryRun', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-invocation-type': 'DryRun' }, false],
    ['an empty invocation type', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-invocation-type': '' }, false],
    ['a bad log type', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-log-type': 'All' }, false],
    ['a client context', 'POST', '/2015-03-31/functions/echo/invocations', { 'x-amz-client-context': 'e30=' }, false],
    ['another content type', 'POST', '/2015-03-31/functions/echo/invocations', { 'content-type': 'application/octet-stream' }, false],
    ['a charset', 'POST', '/2015-03-31/functions/echo/invocations', { 'content-type': 'application/json; charset=utf-8' }, false],
    ['a chunked body', 'POST', '/2015-03-31/functions/echo/invocations', { 'transfer-encoding': 'chunked' }, false],
    ['100-continue', 'POST', '/2015-03-31/functions/echo/invocations', { expect: '100-continue' }, false],
    ['a body over the limit', 'POST', '/2015-03-31/functions/echo/invocations', { 'content-length': '101' }, false],
    ['a body at the limit', 'POST', '/2015-03-31/functions/echo/invocations', { 'content-length': '100' }, true],
    ['no length', 'POST', '/2015-03-31/functions/echo/invocations', { 'content-length': '' }, false],
  ])('%s: %s', (_what, method, url, headers, plain) => {
    const all: Record<string, string> = { ...JSON_HEADERS, ...headers };
    if (all['content-length'] === '') delete all['content-length'];
    expect(plainInvoke(method, url, all, 100) !== undefined).toBe(plain);
  });
});

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A gateway around `invoker` on a real port, counting the requests fastify's routing saw. */
async function gateway(invoker: Invoker, extra: { draining?: () => boolean; syncBytes?: number; auth?: CredentialsFile['callers'] } = {}): Promise<{ url: string; fastifySaw: () => number }> {
  let seen = 0;
  const table = new CallerTable({ callers: extra.auth ?? [] });
  const counter: FastifyPluginAsync = async (a) => {
    a.addHook('onRequest', (_req, _reply, done) => {
      seen++;
      done();
    });
  };
  // Its hook must reach every route, as authentication's does.
  Object.assign(counter, { [Symbol.for('skip-override')]: true });
  app = await standInGateway({
    invoker,
    plugins: [{ plugin: counter }],
    ...(extra.draining ? { draining: extra.draining } : {}),
    ...(extra.syncBytes !== undefined ? { limits: { syncBytes: extra.syncBytes } } : {}),
    ...(extra.auth !== undefined ? { auth: { callers: () => table } } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, fastifySaw: () => seen };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function post(url: string, path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body, headers });
  const h: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== 'date' && k !== 'x-amzn-requestid') h[k] = v;
  });
  expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  return { status: res.status, headers: h, body: await res.text() };
}

/** The same call the plain way and fastify's way: both answers, and how many of the two fastify saw. */
async function pair(g: { url: string; fastifySaw: () => number }, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ plain: Answer; routed: Answer; fastifySaw: number }> {
  const before = g.fastifySaw();
  const plain = await post(g.url, path, body, { ...headers, 'content-type': 'application/json' });
  const routed = await post(g.url, path, body, { ...headers, 'content-type': 'application/octet-stream' });
  return { plain, routed, fastifySaw: g.fastifySaw() - before };
}

const PATH = '/2015-03-31/functions/echo/invocations';

describe('a plain Invoke answers as fastify’s route does', () => {
  it('a success, with the version that ran and the payload as the function gave it', async () => {
    const g = await gateway({ invoke: async (inv) => ({ outcome: 'success', payload: inv.payload, durationMs: 1, executedVersion: '$LATEST' }) });
    const { plain, routed, fastifySaw } = await pair(g, PATH, '{"key":"value"}');
    expect(fastifySaw).toBe(1);
    expect(plain).toEqual(routed);
    expect(plain.status).toBe(200);
    expect(plain.headers['x-amz-executed-version']).toBe('$LATEST');
    expect(plain.body).toBe('{"key":"value"}');
  });

  it('an empty body is the event {}', async () => {
    const g = await gateway({ invoke: async (inv) => ({ outcome: 'success', payload: inv.payload, durationMs: 1 }) });
    const { plain, routed } = await pair(g, PATH, '');
    expect(plain).toEqual(routed);
    expect(plain.body).toBe('{}');
  });

  it.each(['handled', 'unhandled'] as const)('a function error (%s) with its log tail', async (outcome) => {
    const g = await gateway({ invoke: async () => ({ outcome, payload: Buffer.from('{"errorMessage":"boom","errorType":"Error"}'), durationMs: 1, logTail: 'dGFpbA==' }) });
    const { plain, routed, fastifySaw } = await pair(g, PATH, '{}', { 'x-amz-log-type': 'Tail' });
    expect(fastifySaw).toBe(1);
    expect(plain).toEqual(routed);
    expect(plain.headers['x-amz-function-error']).toBe(outcome === 'handled' ? 'Handled' : 'Unhandled');
    expect(plain.headers['x-amz-log-result']).toBe('dGFpbA==');
  });

  it.each<[string, string | Buffer]>([
    ['not JSON', '{bad'],
    ['not UTF-8', Buffer.from([0x22, 0xc3, 0x28, 0x22])],
  ])('a body that is %s: 400 InvalidRequestContentException, the function not run', async (_what, body) => {
    let ran = 0;
    const g = await gateway({
      invoke: async (inv) => {
        ran++;
        return { outcome: 'success', payload: inv.payload, durationMs: 1 };
      },
    });
    const { plain, routed, fastifySaw } = await pair(g, PATH, body);
    expect(fastifySaw).toBe(1);
    expect(plain).toEqual(routed);
    expect(plain.status).toBe(400);
    expect(plain.headers['x-amzn-errortype']).toBe('InvalidRequestContentException');
    expect(ran).toBe(0);
  });

  it.each<[string, DispatchError, number, string]>([
    ['throttled', new DispatchError('throttled', 'Rate Exceeded.', 'ReservedFunctionConcurrentInvocationLimitExceeded'), 429, 'TooManyRequestsException'],
    ['unavailable', new DispatchError('unavailable', 'no instance of echo could be started'), 502, 'ResourceNotReadyException'],
    ['service-unavailable', new DispatchError('service-unavailable', 'cannot be checked now'), 503, 'ServiceException'],
    ['not-found (an alias gone)', new DispatchError('not-found', 'Function not found'), 404, 'ResourceNotFoundException'],
  ])('a dispatch failure (%s) is Lambda’s error with its headers', async (_what, err, status, type) => {
    const g = await gateway({
      invoke: async () => {
        throw err;
      },
    });
    const { plain, routed, fastifySaw } = await pair(g, PATH, '{}');
    expect(fastifySaw).toBe(1);
    expect(plain).toEqual(routed);
    expect([plain.status, plain.headers['x-amzn-errortype']]).toEqual([status, type]);
  });

  it('an unknown function and a body over the limit are fastify’s to answer (404, 413)', async () => {
    const g = await gateway({ invoke: async (inv) => ({ outcome: 'success', payload: inv.payload, durationMs: 1 }) }, { syncBytes: 64 });
    const unknown = await pair(g, '/2015-03-31/functions/nobody/invocations', '{}');
    expect(unknown.fastifySaw).toBe(2);
    expect(unknown.plain).toEqual(unknown.routed);
    expect(unknown.plain.status).toBe(404);
    const big = await pair(g, PATH, JSON.stringify({ pad: 'x'.repeat(100) }));
    expect(big.fastifySaw).toBe(2);
    expect(big.plain).toEqual(big.routed);
    expect(big.plain.status).toBe(413);
  });

  it('hands the invoker the same invocation, the caller’s trace headers included', async () => {
    const seen: Invocation[] = [];
    const g = await gateway({
      invoke: async (inv) => {
        seen.push(inv);
        return { outcome: 'success', payload: inv.payload, durationMs: 1 };
      },
    });
    const trace = { 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', 'x-amz-log-type': 'Tail' };
    await pair(g, PATH, '{"a":1}', trace);
    expect(seen).toHaveLength(2);
    const [a, b] = seen.map(({ requestId, ...rest }) => ({ ...rest, requestId: typeof requestId }));
    expect(a).toEqual(b);
    expect(a?.traceId).toBe(trace['x-amzn-trace-id']);
    expect(a?.traceparent).toMatch(/^00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01$/);
  });

  it('while the gateway drains, its answers say Connection: close', async () => {
    const g = await gateway({ invoke: async (inv) => ({ outcome: 'success', payload: inv.payload, durationMs: 1 }) }, { draining: () => true });
    const { plain, routed } = await pair(g, PATH, '{}');
    expect(plain).toEqual(routed);
    expect(plain.headers.connection).toBe('close');
  });

  describe('with authentication on', () => {
    const KEY = 'suite-key-0123456789abcdef';
    const callers: CredentialsFile['callers'] = [
      { name: 'suite', apiKey: KEY, functions: ['*'] },
      { name: 'elsewhere', apiKey: 'elsewhere-key-0123456789ab', functions: ['other-*'] },
      { name: 'urls-only', apiKey: 'urls-only-key-0123456789ab', functions: ['*'], actions: ['lambda:InvokeFunctionUrl'] },
      { name: 'slow', apiKey: 'slow-key-0123456789abcdefgh', functions: ['*'], rateLimit: { requestsPerSecond: 0.01, burst: 2 } },
    ];
    function counted(): { invoker: Invoker; ran: () => number } {
      let ran = 0;
      return {
        invoker: {
          invoke: async (inv) => {
            ran++;
            return { outcome: 'success', payload: inv.payload, durationMs: 1 };
          },
        },
        ran: () => ran,
      };
    }

    it.each<[string, Record<string, string>]>([
      ['Authorization: Bearer', { authorization: `Bearer ${KEY}` }],
      ['X-Api-Key', { 'x-api-key': KEY }],
    ])('a caller admitted by its API key (%s) takes the plain path, with the same answer', async (_what, headers) => {
      const c = counted();
      const g = await gateway(c.invoker, { auth: callers });
      const { plain, routed, fastifySaw } = await pair(g, PATH, '{"a":1}', headers);
      expect(fastifySaw).toBe(1);
      expect(plain).toEqual(routed);
      expect([plain.status, plain.body]).toEqual([200, '{"a":1}']);
      expect(c.ran()).toBe(2);
    });

    it.each<[string, Record<string, string>, number, string]>([
      ['no credentials', {}, 401, 'UnrecognizedClientException'],
      ['an unknown key', { authorization: 'Bearer not-a-key-of-anyone-0123456789' }, 401, 'UnrecognizedClientException'],
      ['a caller not allowed the function', { 'x-api-key': 'elsewhere-key-0123456789ab' }, 403, 'AccessDeniedException'],
      ['a caller not allowed lambda:InvokeFunction', { 'x-api-key': 'urls-only-key-0123456789ab' }, 403, 'AccessDeniedException'],
      ['a SigV4 signature that does not verify', { authorization: 'AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN000000000/20261207/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00', 'x-amz-date': '20261207T000000Z' }, 403, 'InvalidSignatureException'],
    ])('%s: fastify refuses it, the same both ways, the function not run', async (_what, headers, status, type) => {
      const c = counted();
      const g = await gateway(c.invoker, { auth: callers });
      const { plain, routed, fastifySaw } = await pair(g, PATH, '{}', headers);
      // Authentication's hook runs before the counting one and refuses both.
      expect(fastifySaw).toBe(0);
      expect(plain).toEqual(routed);
      expect([plain.status, plain.headers['x-amzn-errortype']]).toEqual([status, type]);
      expect(c.ran()).toBe(0);
    });

    it('a rate limit counts plain calls and routed ones in one bucket: past its burst, both ways answer 429 alike', async () => {
      const c = counted();
      const g = await gateway(c.invoker, { auth: callers });
      const headers = { 'x-api-key': 'slow-key-0123456789abcdefgh' };
      const first = await pair(g, PATH, '{}', headers);
      expect([first.plain.status, first.routed.status, first.fastifySaw]).toEqual([200, 200, 1]);
      const past = await pair(g, PATH, '{}', headers);
      expect(past.fastifySaw).toBe(0);
      expect(past.plain).toEqual(past.routed);
      expect([past.plain.status, past.plain.headers['x-amzn-errortype']]).toEqual([429, 'TooManyRequestsException']);
      expect(Number(past.plain.headers['retry-after'])).toBeGreaterThan(1);
      expect(c.ran()).toBe(2);
    });
  });
});
