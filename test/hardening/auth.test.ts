// Must show: an unauthenticated call, a key used on a function it does not
// name, and a bad SigV4 signature each get 401 or 403, and a correct SigV4
// signature from AWS's SDK is accepted. Against buildGateway on a real
// loopback socket, with a credentials file as `hearth up --credentials` reads it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/gateway/auth/credentials.js';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import recordsPlugin from '../../src/gateway/plugins/records.js';
import dlqPlugin from '../../src/gateway/plugins/dlq.js';
import { standInGateway } from './stand-in.js';

const KEYS = { ops: 'ops-key-0123456789abcdef', orders: 'orders-key-0123456789abcdef', hashed: 'hashed-key-0123456789abcdef', slow: 'slow-key-0123456789abcdef' };
const SDK = { accessKeyId: 'AKIAHEARTHTEST01', secretAccessKey: 'sdk-secret-0123456789' };
const LIMITED = { accessKeyId: 'AKIAHEARTHTEST02', secretAccessKey: 'limited-secret-0123456789' };

const credentials = {
  callers: [
    { name: 'ops', apiKey: KEYS.ops, functions: ['*'] },
    { name: 'orders-team', apiKey: KEYS.orders, functions: ['orders-*'] },
    { name: 'hashed', sha256: sha256Hex(KEYS.hashed), functions: ['echo'] },
    { name: 'slow', apiKey: KEYS.slow, functions: ['echo'], rateLimit: { requestsPerSecond: 0.01, burst: 2 } },
    { name: 'sdk', ...SDK, functions: ['*'] },
    { name: 'limited-sdk', ...LIMITED, functions: ['billing'] },
  ],
};

let app: FastifyInstance;
let url: string;
let auth: CredentialsFileAuth;
let credFile: string;

const invokePath = (fn: string) => `/2015-03-31/functions/${encodeURIComponent(fn)}/invocations`;

async function call(path: string, headers: Record<string, string> = {}, body = '{"a":1}', method: 'POST' | 'GET' = 'POST') {
  const res = await request(`${url}${path}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], text, json: () => JSON.parse(text) as Record<string, unknown> };
}

function lambda(creds: { accessKeyId: string; secretAccessKey: string }, extra: { systemClockOffset?: number } = {}): LambdaClient {
  const client = new LambdaClient({ endpoint: url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
  if (extra.systemClockOffset !== undefined) client.config.systemClockOffset = extra.systemClockOffset;
  return client;
}

beforeAll(async () => {
  credFile = join(mkdtempSync(join(tmpdir(), 'hearth-auth-')), 'credentials.yaml');
  writeFileSync(credFile, stringify(credentials));
  auth = await authFromCredentialsFile(credFile, { pollIntervalMs: 50 });
  const records = new Map([['11111111-1111-1111-1111-111111111111', 'billing']]);
  const queue = {
    async record(id: string) {
      const fn = records.get(id);
      return fn ? { requestId: id, functionName: fn, status: 'succeeded' as const, attempts: 1, systemErrors: 0, enqueuedAt: '', updatedAt: '' } : undefined;
    },
    async listDeadLetters() {
      return [];
    },
    async redrive() {
      return { redriven: 0, requestIds: [] };
    },
  };
  app = await standInGateway({
    auth: { ...auth.options, recordFunction: async (id) => records.get(id) },
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  auth?.close();
  await app?.close();
});

describe('API keys', () => {
  it('answers an unauthenticated call with 401 UnrecognizedClientException', async () => {
    const r = await call(invokePath('echo'));
    expect(r.status).toBe(401);
    expect(r.type).toBe('UnrecognizedClientException');
    expect(r.json()).toMatchObject({ Type: 'User', message: expect.any(String) });
  });

  it('answers an unknown key, a malformed Authorization and an empty X-Api-Key with 401', async () => {
    for (const headers of [{ authorization: 'Bearer not-a-key-0123456789' }, { 'x-api-key': 'wrong-0123456789abcdef' }, { authorization: 'Basic b3BzOm9wcw==' }, { 'x-api-key': '' }, { authorization: `Bearer ${KEYS.ops}x` }] as Array<Record<string, string>>) {
      const r = await call(invokePath('echo'), headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.type).toBe('UnrecognizedClientException');
    }
  });

  it('lets a key invoke the functions it names, by Bearer or X-Api-Key, plaintext or sha256', async () => {
    expect((await call(invokePath('echo'), { authorization: `Bearer ${KEYS.ops}` })).text).toBe('{"a":1}');
    expect((await call(invokePath('orders-create'), { 'x-api-key': KEYS.orders })).status).toBe(200);
    expect((await call(invokePath('echo'), { 'x-api-key': KEYS.hashed })).status).toBe(200);
    expect((await call('/fn/orders-list/items?x=1', { authorization: `Bearer ${KEYS.orders}` }, '', 'GET')).status).toBe(200);
    // A function URL naming $LATEST (or an alias) is the function's: a key naming only echo may call it.
    expect((await call('/fn/echo:$LATEST/', { 'x-api-key': KEYS.hashed }, '{}', 'POST')).status).toBe(200);
    expect((await call('/fn/echo:%24LATEST/', { 'x-api-key': KEYS.hashed }, '{}', 'POST')).status).toBe(200);
  });

  it('answers a key used on a function it does not name with 403 AccessDeniedException, on every route', async () => {
    const h = { authorization: `Bearer ${KEYS.orders}` };
    for (const [path, method] of [
      [invokePath('echo'), 'POST'],
      [invokePath('arn:aws:lambda:us-east-1:000000000000:function:billing'), 'POST'],
      [invokePath('billing:$LATEST'), 'POST'],
      ['/fn/billing/x', 'GET'],
      ['/fn/billing:live/x', 'GET'],
      ['/dlq/billing', 'GET'],
      ['/dlq/billing/redrive', 'POST'],
      ['/invocations/11111111-1111-1111-1111-111111111111', 'GET'],
    ] as const) {
      const r = await call(path, h, '{}', method);
      expect(r.status, path).toBe(403);
      expect(r.type).toBe('AccessDeniedException');
      expect(String(r.json().message)).toContain('orders-team');
    }
    expect((await call('/dlq/orders-create', h, '', 'GET')).status).toBe(200);
  });

  it('keeps the probes, /metrics and /openapi.json open and answers unknown routes 401 without credentials', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await call(p, {}, '', 'GET')).status, p).toBe(200);
    expect((await call('/nope', {}, '', 'GET')).status).toBe(401);
    expect((await call('/nope', { 'x-api-key': KEYS.ops }, '', 'GET')).status).toBe(404);
  });

  it('throttles a caller beyond its rate limit with 429 CallerRateLimitExceeded', async () => {
    const h = { 'x-api-key': KEYS.slow };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await call(invokePath('echo'), h));
    expect(statuses.map((s) => s.status)).toEqual([200, 200, 429, 429]);
    expect(statuses[2]?.type).toBe('TooManyRequestsException');
    expect(statuses[2]?.json()).toMatchObject({ Reason: 'CallerRateLimitExceeded' });
    // Other callers are not affected.
    expect((await call(invokePath('echo'), { 'x-api-key': KEYS.ops })).status).toBe(200);
  });
});

describe('AWS Signature Version 4', () => {
  it("accepts a correct signature from AWS's SDK: sync, Event, ARN and qualifier", async () => {
    const client = lambda(SDK);
    try {
      const out = await client.send(new InvokeCommand({ FunctionName: 'echo', Payload: new TextEncoder().encode('{"signed":true}') }));
      expect(out.StatusCode).toBe(200);
      expect(Buffer.from(out.Payload ?? []).toString()).toBe('{"signed":true}');
      expect((await client.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: new TextEncoder().encode('{}') }))).StatusCode).toBe(202);
      expect((await client.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:echo', Qualifier: '$LATEST' }))).StatusCode).toBe(200);
    } finally {
      client.destroy();
    }
  });

  it('answers a wrong secret with 403 InvalidSignatureException and an unknown access key with 401', async () => {
    const wrong = lambda({ accessKeyId: SDK.accessKeyId, secretAccessKey: 'not-the-secret' });
    const unknown = lambda({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: SDK.secretAccessKey });
    try {
      await expect(wrong.send(new InvokeCommand({ FunctionName: 'echo' }))).rejects.toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
      await expect(unknown.send(new InvokeCommand({ FunctionName: 'echo' }))).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 401 } });
    } finally {
      wrong.destroy();
      unknown.destroy();
    }
  });

  it('answers a signature older than 15 minutes with 403', async () => {
    const late = lambda(SDK, { systemClockOffset: -16 * 60_000 });
    try {
      await expect(late.send(new InvokeCommand({ FunctionName: 'echo' }))).rejects.toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    } finally {
      late.destroy();
    }
  });

  it('authorises a signed caller like a key: 403 AccessDeniedException outside its functions', async () => {
    const client = lambda(LIMITED);
    try {
      expect((await client.send(new InvokeCommand({ FunctionName: 'billing' }))).StatusCode).toBe(200);
      await expect(client.send(new InvokeCommand({ FunctionName: 'echo' }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    } finally {
      client.destroy();
    }
  });

  async function signed(body: string, opts: { hashHeader: boolean }): Promise<Record<string, string>> {
    const host = new URL(url).host;
    const signer = new SignatureV4({ service: 'lambda', region: 'eu-west-1', credentials: SDK, sha256: Sha256, applyChecksum: opts.hashHeader });
    const req = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: invokePath('echo'), headers: { host, 'content-type': 'application/json' }, body }));
    return req.headers;
  }

  it('answers a body changed after signing with 403, with and without X-Amz-Content-Sha256', async () => {
    for (const hashHeader of [true, false]) {
      const headers = await signed('{"amount":1}', { hashHeader });
      expect((await call(invokePath('echo'), headers, '{"amount":1}')).status).toBe(200);
      const r = await call(invokePath('echo'), headers, '{"amount":1000}');
      expect(r.status).toBe(403);
      expect(r.type).toBe('InvalidSignatureException');
    }
  });

  it('answers a malformed or truncated signature, a changed header and a missing date with 403', async () => {
    const good = await signed('{}', { hashHeader: true });
    const variants: Array<Record<string, string>> = [
      { ...good, authorization: (good.authorization ?? '').replace(/Signature=[0-9a-f]{64}/, `Signature=${'0'.repeat(64)}`) },
      { ...good, authorization: (good.authorization ?? '').slice(0, -10) },
      { ...good, authorization: 'AWS4-HMAC-SHA256 Credential=garbage' },
      { ...good, 'content-type': 'text/plain' },
      Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'x-amz-date')),
    ];
    for (const h of variants) {
      const r = await call(invokePath('echo'), h, '{}');
      expect(r.status, JSON.stringify(h)).toBe(403);
      expect(r.type).toBe('InvalidSignatureException');
    }
  });
});

describe('credentials file', () => {
  it('follows changes to the file and keeps the last good callers when it turns invalid', async () => {
    const rotated = 'rotated-key-0123456789abcdef';
    writeFileSync(credFile, stringify({ callers: [...credentials.callers.filter((c) => c.name !== 'ops'), { name: 'ops', apiKey: rotated, functions: ['*'] }] }));
    await waitUntil(async () => (await call(invokePath('echo'), { 'x-api-key': rotated })).status === 200);
    expect((await call(invokePath('echo'), { 'x-api-key': KEYS.ops })).status).toBe(401);

    writeFileSync(credFile, 'callers:\n  - name: broken\n    functions: []\n');
    expect(await auth.reload()).toBe(false);
    expect((await call(invokePath('echo'), { 'x-api-key': rotated })).status).toBe(200);
  });
});

async function waitUntil(probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}
