// Requests Lambda refuses and the gateway used to serve, each refused as
// Lambda does and never run: a body that is not UTF-8, an ARN of another
// region or account, x-amz-* headers added to a SigV4-signed request without
// being signed (a captured sync call replayed as Event), and requests that are
// not well-formed HTTP (bad Content-Length, bad chunking, NUL in a header,
// oversized headers), which get Lambda's error shape instead of fastify's.
import { connect } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Invoker } from '../../src/dispatch/invoker.js';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import { parseCredentials } from '../../src/gateway/auth/credentials.js';
import { FaultLog } from '../faults/collector.js';
import { standInGateway } from './stand-in.js';

const log = FaultLog.forFile(import.meta.url);
const SIGNER = { accessKeyId: 'AKIAREFUSALS0001', secretAccessKey: 'refusals-secret-0123456789' };
const KEY = 'refusals-key-0123456789abcdef';

let invoked = 0;
const countingInvoker: Invoker = {
  async invoke(inv) {
    invoked++;
    return { outcome: 'success', payload: inv.payload, durationMs: 1 };
  },
};

type Gateway = FastifyInstance & { enqueued: () => number };
let open: Gateway;
let authed: Gateway;
let openUrl: string;
let authedUrl: string;

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

beforeAll(async () => {
  open = await standInGateway({ invoker: countingInvoker });
  openUrl = await listen(open);
  const table = new CallerTable(parseCredentials(JSON.stringify({ callers: [{ name: 'signer', ...SIGNER, functions: ['*'] }, { name: 'keyed', apiKey: KEY, functions: ['*'] }] })));
  authed = await standInGateway({ invoker: countingInvoker, auth: { callers: () => table } });
  authedUrl = await listen(authed);
});

afterAll(async () => {
  await open?.close();
  await authed?.close();
  log.flush();
});

beforeEach(() => {
  invoked = 0;
});

const invokePath = (fn: string) => `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`;

async function call(base: string, path: string, headers: Record<string, string>, body: string | Buffer, method = 'POST') {
  const res = await request(`${base}${path}`, { method: method as 'POST', headers, ...(method === 'GET' ? {} : { body }) });
  const text = await res.body.text();
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], text };
}

describe('a body that is not UTF-8', () => {
  it('is refused 400 InvalidRequestContentException before the function runs, sync and Event', async () => {
    await log.run('bad input', 'Invoke with a JSON body holding bytes that are not UTF-8 (0xff inside a string), sync and Event', '400 InvalidRequestContentException, as Lambda; never run nor queued', async (rec) => {
      const body = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      const seen: string[] = [];
      for (const type of ['RequestResponse', 'Event', 'DryRun']) {
        rec.tried();
        const before = open.enqueued();
        const r = await call(openUrl, invokePath('echo'), { 'x-amz-invocation-type': type }, body);
        expect(r.status, r.text).toBe(400);
        expect(r.type).toBe('InvalidRequestContentException');
        expect(JSON.parse(r.text)).toMatchObject({ Type: 'User', message: expect.stringMatching(/^Could not parse request body into json: .*UTF-8/) });
        expect(open.enqueued()).toBe(before);
        seen.push(`${type}: ${r.status} ${String(r.type)}`);
      }
      expect(invoked).toBe(0);
      // Valid UTF-8 that is not JSON was refused the same way before; multi-byte text is served.
      const notJson = await call(openUrl, invokePath('echo'), {}, 'héllo');
      expect([notJson.status, notJson.type]).toEqual([400, 'InvalidRequestContentException']);
      const text = await call(openUrl, invokePath('echo'), {}, '{"a":"héllo 😀"}');
      expect([text.status, text.text]).toEqual([200, '{"a":"héllo 😀"}']);
      rec.observe(`${seen.join('; ')}; never run; valid UTF-8 that is not JSON also 400, multi-byte JSON served`);
    });
  });
});

describe('an ARN of another region or account', () => {
  it('is refused as Lambda does and never runs', async () => {
    await log.run('bad input', 'Invoke naming a function by an ARN of another region, another account, or a partial ARN of another account', "another region: 404 ResourceNotFoundException (Functions from 'R' are not reachable in this region); another account: 403 AccessDeniedException; never run", async (rec) => {
      const cases: Array<[string, number, string]> = [
        ['arn:aws:lambda:eu-west-1:000000000000:function:echo', 404, 'ResourceNotFoundException'],
        ['arn:aws:lambda:eu-west-1:123456789012:function:echo:$LATEST', 404, 'ResourceNotFoundException'],
        ['arn:aws-cn:lambda:us-east-1:000000000000:function:echo', 404, 'ResourceNotFoundException'],
        ['arn:aws:lambda:us-east-1:123456789012:function:echo', 403, 'AccessDeniedException'],
        ['123456789012:function:echo', 403, 'AccessDeniedException'],
      ];
      for (const [fn, status, type] of cases) {
        for (const invocationType of ['RequestResponse', 'Event']) {
          rec.tried();
          const before = open.enqueued();
          const r = await call(openUrl, invokePath(fn), { 'x-amz-invocation-type': invocationType }, '{}');
          expect([r.status, r.type], `${fn} ${invocationType}: ${r.text}`).toEqual([status, type]);
          expect(open.enqueued()).toBe(before);
        }
      }
      const region = await call(openUrl, invokePath('arn:aws:lambda:eu-west-1:000000000000:function:echo'), {}, '{}');
      expect(JSON.parse(region.text)).toMatchObject({ Type: 'User', message: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')" });
      expect(invoked).toBe(0);
      // The gateway's own ARN, full or partial, is served.
      for (const fn of ['arn:aws:lambda:us-east-1:000000000000:function:echo', 'arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST', '000000000000:function:echo', 'echo']) {
        expect((await call(openUrl, invokePath(fn), {}, '{"ok":1}')).text, fn).toBe('{"ok":1}');
      }
      rec.observe(`${cases.map(([fn, s, t]) => `${fn} → ${s} ${t}`).join('; ')}; never run nor queued; arn:aws:lambda:us-east-1:000000000000:function:echo and 000000000000:function:echo served`);
    });
  });
});

describe('headers added to a SigV4-signed request without being signed', () => {
  async function signedSync(path: string, body: string): Promise<Record<string, string>> {
    const host = new URL(authedUrl).host;
    const signer = new SignatureV4({ service: 'lambda', region: 'eu-west-1', credentials: SIGNER, sha256: Sha256, applyChecksum: true });
    const req = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path, headers: { host, 'content-type': 'application/json' }, body }));
    return req.headers;
  }

  it('refuses a captured sync call replayed with X-Amz-Invocation-Type: Event (or another x-amz-* header) with 403 InvalidSignatureException', async () => {
    await log.run('bad input', 'a captured SigV4-signed sync Invoke replayed with an added unsigned X-Amz-Invocation-Type: Event, X-Amz-Log-Type, X-Amz-Client-Context, or Prefer: respond-async on /fn', '403 InvalidSignatureException naming the unsigned header; nothing run or queued', async (rec) => {
      const path = invokePath('echo');
      const headers = await signedSync(path, '{"pay":1}');
      // The capture itself is valid.
      expect((await call(authedUrl, path, headers, '{"pay":1}')).status).toBe(200);
      invoked = 0;
      const added: Array<[string, string]> = [
        ['x-amz-invocation-type', 'Event'],
        ['x-amz-invocation-type', 'DryRun'],
        ['x-amz-log-type', 'Tail'],
        ['x-amz-client-context', Buffer.from('{"custom":{"forged":true}}').toString('base64')],
        ['X-Amz-Security-Token', 'forged'],
      ];
      const before = authed.enqueued();
      for (const [name, value] of added) {
        rec.tried();
        const r = await call(authedUrl, path, { ...headers, [name]: value }, '{"pay":1}');
        expect([r.status, r.type], `${name}: ${r.text}`).toEqual([403, 'InvalidSignatureException']);
        expect(JSON.parse(r.text).message).toContain(name.toLowerCase());
      }
      // /fn: Prefer: respond-async added to a signed GET would turn it into a queued call.
      const fnHeaders = await (async () => {
        const host = new URL(authedUrl).host;
        const signer = new SignatureV4({ service: 'lambda', region: 'eu-west-1', credentials: SIGNER, sha256: Sha256, applyChecksum: true });
        return (await signer.sign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', path: '/fn/echo/x', headers: { host } }))).headers;
      })();
      expect((await call(authedUrl, '/fn/echo/x', fnHeaders, '', 'GET')).status).toBe(200);
      invoked = 0;
      rec.tried();
      const pref = await call(authedUrl, '/fn/echo/x', { ...fnHeaders, prefer: 'respond-async' }, '', 'GET');
      expect([pref.status, pref.type]).toEqual([403, 'InvalidSignatureException']);
      expect(invoked).toBe(0);
      expect(authed.enqueued()).toBe(before);
      // API keys carry no signature: their headers are the caller's to choose.
      expect((await call(authedUrl, path, { 'x-api-key': KEY, 'x-amz-invocation-type': 'Event' }, '{}')).status).toBe(202);
      rec.observe(`${added.map(([n]) => n).join(', ')} and Prefer on /fn each 403 InvalidSignatureException naming the header; none run or queued`);
    });
  });

  it('still accepts the same headers when they are signed', async () => {
    const host = new URL(authedUrl).host;
    const signer = new SignatureV4({ service: 'lambda', region: 'eu-west-1', credentials: SIGNER, sha256: Sha256, applyChecksum: true });
    const path = invokePath('echo');
    const req = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path, headers: { host, 'x-amz-invocation-type': 'Event', 'x-amz-log-type': 'None' }, body: '{}' }));
    expect((await call(authedUrl, path, req.headers, '{}')).status).toBe(202);
  });
});

/** Sends raw bytes on a fresh loopback connection; resolves with all the server wrote until it closed (or `waitMs` passed). */
function raw(base: string, bytes: Buffer | string, waitMs = 3_000): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
    socket.write(bytes);
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end < 0 ? text.length : end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: end < 0 ? '' : text.slice(end + 4) };
}

describe('requests that are not well-formed HTTP', () => {
  const P = '/2015-03-31/functions/echo/invocations';
  const cases: Array<[string, Buffer | string, number, string]> = [
    ['Content-Length not a number', `POST ${P} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}`, 400, 'InvalidRequestContentException'],
    ['two different Content-Lengths', `POST ${P} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400, 'InvalidRequestContentException'],
    ['Content-Length with Transfer-Encoding: chunked', `POST ${P} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, 400, 'InvalidRequestContentException'],
    ['a chunk size that is not hex', `POST ${P} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'InvalidRequestContentException'],
    ['NUL in a header value', Buffer.from(`POST ${P} HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\nContent-Length: 2\r\n\r\n{}`, 'latin1'), 400, 'InvalidRequestContentException'],
    ['a header name with a space', `POST ${P} HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\nContent-Length: 2\r\n\r\n{}`, 400, 'InvalidRequestContentException'],
    ['a malformed request line', `G@T / HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 'InvalidRequestContentException'],
    ['headers over the 16 KiB limit', `POST ${P} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`, 431, 'RequestTooLargeException'],
    ['a path that is not valid percent-encoding', `POST /2015-03-31/functions/%E0%A4%A/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}`, 400, 'InvalidParameterValueException'],
  ];

  it("answers each with Lambda's error shape (x-amzn-ErrorType, {Type, message}) and runs nothing", async () => {
    await log.run('bad input', `requests that are not well-formed HTTP: ${cases.map(([n]) => n).join(', ')}`, "Lambda's error shape: 400 InvalidRequestContentException (431 RequestTooLargeException for headers, 400 InvalidParameterValueException for a bad path) with x-amzn-ErrorType, X-Amzn-RequestId and {Type, message}; nothing run", async (rec) => {
      const seen: string[] = [];
      for (const [name, bytes, status, type] of cases) {
        rec.tried();
        const r = parseRaw(await raw(openUrl, bytes));
        expect([r.status, r.headers['x-amzn-errortype']], `${name}: ${JSON.stringify(r)}`).toEqual([status, type]);
        expect(r.headers['x-amzn-requestid'], name).toMatch(/^[0-9a-f-]{36}$/);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        const body = JSON.parse(r.body) as Record<string, unknown>;
        expect(Object.keys(body).sort(), name).toEqual(['Type', 'message']);
        expect(body.Type).toBe('User');
        seen.push(`${name}: ${status} ${type}`);
      }
      expect(invoked).toBe(0);
      // The gateway still serves well-formed calls afterwards.
      expect((await call(openUrl, P, {}, '{"after":1}')).text).toBe('{"after":1}');
      rec.observe(seen.join('; '));
    });
  });
});

describe('a request whose headers never finish', () => {
  it('is answered 408 RequestTimeoutException in the same shape when the headers timeout passes', async () => {
    const slow = await standInGateway({ invoker: countingInvoker, connections: { headersTimeoutMs: 1_000 } });
    try {
      const base = await listen(slow);
      const r = parseRaw(await raw(base, 'POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n', 10_000));
      expect([r.status, r.headers['x-amzn-errortype']], JSON.stringify(r)).toEqual([408, 'RequestTimeoutException']);
      expect(JSON.parse(r.body)).toEqual({ Type: 'User', message: 'The request was not received in time.' });
      expect(invoked).toBe(0);
    } finally {
      await slow.close();
    }
  });
});
