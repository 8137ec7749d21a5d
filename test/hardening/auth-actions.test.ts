// Authorisation by Lambda action: each route declares the action it performs
// (route config lambdaAction) and a caller may perform only the actions its
// entry in the credentials file names (default: invoke), on only the
// functions it names. Against buildGateway on a real loopback socket, with a
// credentials file as `hearth up --credentials` reads it, API keys and AWS's
// SDK signing. The control routes here are stand-ins that declare the
// actions the real ones declare and answer who got through: what is under
// test is the plugin's decision, not the routes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListFunctionsCommand, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { allowsFunction } from '../../src/gateway/auth/function-patterns.js';
import { bodyFunctionName } from '../../src/gateway/auth/route-target.js';
import { provisionedConcurrencyAction } from '../../src/gateway/plugins/functions-api.js';
import dlqPlugin from '../../src/gateway/plugins/dlq.js';
import { logsApi } from '../../src/gateway/plugins/logs-api.js';
import { FileLogSource } from '../../src/logs/file-source.js';
import recordsPlugin from '../../src/gateway/plugins/records.js';
import { FUNCTIONS, standInCatalog, standInGateway } from './stand-in.js';

const KEYS = {
  invoker: 'invoker-key-0123456789abcdef',
  reader: 'reader-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef',
  orders: 'orders-admin-key-0123456789abcdef',
  getter: 'pc-getter-key-0123456789abcdef',
  lister: 'pc-lister-key-0123456789abcdef',
};
const SIGNER = { accessKeyId: 'AKIAHEARTHACTIONS1', secretAccessKey: 'signer-secret-0123456789' };
const SIGNED_INVOKER = { accessKeyId: 'AKIAHEARTHACTIONS2', secretAccessKey: 'invoker-secret-0123456789' };
const ARN = (fn: string) => `arn:aws:lambda:us-east-1:000000000000:function:${fn}`;
const RECORD = '11111111-1111-1111-1111-111111111111';

const credentials = {
  callers: [
    // No actions: the defaults, invoke only.
    { name: 'invoker', apiKey: KEYS.invoker, functions: ['*'] },
    { name: 'reader', apiKey: KEYS.reader, functions: ['*'], actions: ['lambda:Get*', 'lambda:List*'] },
    { name: 'admin', apiKey: KEYS.admin, functions: ['*'], actions: ['lambda:*'] },
    { name: 'orders-admin', apiKey: KEYS.orders, functions: ['orders-*'], actions: ['lambda:*'] },
    { name: 'signer', ...SIGNER, functions: ['orders-*'], actions: ['lambda:GetFunction', 'lambda:CreateFunction', 'lambda:ListFunctions'] },
    { name: 'signed-invoker', ...SIGNED_INVOKER, functions: ['*'] },
    { name: 'getter', apiKey: KEYS.getter, functions: ['*'], actions: ['lambda:GetProvisionedConcurrencyConfig'] },
    { name: 'lister', apiKey: KEYS.lister, functions: ['*'], actions: ['lambda:ListProvisionedConcurrencyConfigs'] },
  ],
};

/** Answers who got through; the shapes are enough for AWS's SDK to accept. */
const through = async (req: FastifyRequest, reply: FastifyReply) => reply.code(200).header('content-type', 'application/json').send(JSON.stringify({ route: req.routeOptions.url, caller: req.hearthCaller }));

const standInControlRoutes: FastifyPluginAsync = async (app) => {
  app.post('/2015-03-31/functions', { config: { lambdaAction: 'lambda:CreateFunction' } }, async (req, reply) =>
    reply.code(201).header('content-type', 'application/json').send(JSON.stringify({ FunctionName: bodyFunctionName(req.body), FunctionArn: ARN(bodyFunctionName(req.body)) })),
  );
  // ListFunctions names no function: it shows only what the caller may touch. The AWS CLI sends it with a trailing slash, the JS SDK without.
  for (const path of ['/2015-03-31/functions/', '/2015-03-31/functions']) {
    app.get(path, { config: { lambdaAction: 'lambda:ListFunctions' } }, async (req, reply) =>
      reply
        .header('content-type', 'application/json')
        .send(JSON.stringify({ Functions: FUNCTIONS.filter((n) => req.hearthFunctions === undefined || allowsFunction(req.hearthFunctions, n)).map((n) => ({ FunctionName: n })) })),
    );
  }
  app.get('/2015-03-31/functions/:name', { config: { lambdaAction: 'lambda:GetFunction' } }, through);
  app.put('/2015-03-31/functions/:name/code', { config: { lambdaAction: 'lambda:UpdateFunctionCode' } }, through);
  app.post('/2015-03-31/functions/:name/versions', { config: { lambdaAction: 'lambda:PublishVersion' } }, through);
  app.get('/2016-08-19/account-settings/', { config: { lambdaAction: 'lambda:GetAccountSettings' } }, through);
  app.post('/2017-03-31/tags/:arn', { config: { lambdaAction: 'lambda:TagResource' } }, through);
  // One route, two operations, as functions-api declares it: with List=ALL it lists, which IAM names ListProvisionedConcurrencyConfigs.
  app.get('/2019-09-30/functions/:name/provisioned-concurrency', { config: { lambdaAction: provisionedConcurrencyAction } }, through);
  // A route added without declaring its action: closed to callers not allowed lambda:*.
  app.get('/2015-03-31/functions/:name/undeclared', through);
  // A route the route table does not know: it could touch any function, so only a caller allowed every one passes.
  app.get('/hearth/unlisted/:thing', { config: { lambdaAction: 'lambda:GetFunction' } }, through);
};

let app: FastifyInstance;
let url: string;
let auth: CredentialsFileAuth;

async function call(method: 'GET' | 'POST' | 'PUT', path: string, key: string, body?: unknown) {
  const res = await request(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : method === 'GET' ? {} : { body: '{}' }),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Invoke echoes its payload; only refusals are read as JSON.
  }
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], message: json.message, json };
}

function lambda(creds: { accessKeyId: string; secretAccessKey: string }): LambdaClient {
  return new LambdaClient({ endpoint: url, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
}

beforeAll(async () => {
  const credFile = join(mkdtempSync(join(tmpdir(), 'hearth-auth-actions-')), 'credentials.yaml');
  writeFileSync(credFile, stringify(credentials));
  auth = await authFromCredentialsFile(credFile, { pollIntervalMs: 60_000 });
  const queue = {
    async record(id: string) {
      return id === RECORD ? { requestId: id, functionName: 'echo', status: 'succeeded' as const, attempts: 1, systemErrors: 0, enqueuedAt: '', updatedAt: '' } : undefined;
    },
    async listDeadLetters() {
      return [];
    },
    async redrive() {
      return { redriven: 0, requestIds: [] };
    },
  };
  app = await standInGateway({
    auth: { ...auth.options, recordFunction: async (id) => (id === RECORD ? 'echo' : undefined) },
    plugins: [
      { plugin: recordsPlugin, options: { queue } },
      { plugin: dlqPlugin, options: { queue } },
      // hearth logs: an empty log directory is enough to tell who gets through.
      { plugin: logsApi, options: { source: new FileLogSource(mkdtempSync(join(tmpdir(), 'hearth-auth-logs-'))), catalog: standInCatalog(), arn: ARN } },
      { plugin: standInControlRoutes },
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

describe('a caller without actions (the defaults)', () => {
  it('invokes, calls function URLs and follows its invocations (records, dead letters) as before', async () => {
    expect((await call('POST', '/2015-03-31/functions/echo/invocations', KEYS.invoker, '{"a":1}')).status).toBe(200);
    expect((await call('GET', '/fn/echo/x', KEYS.invoker)).status).toBe(200);
    expect((await call('GET', `/invocations/${RECORD}`, KEYS.invoker)).status).toBe(200);
    expect((await call('GET', '/dlq/echo', KEYS.invoker)).status).toBe(200);
    expect((await call('POST', '/dlq/echo/redrive', KEYS.invoker)).status).toBe(200);
  });

  it("reads a function's logs (lambda:InvokeFunction on it); a caller without that action, or not given the function, is refused", async () => {
    expect((await call('GET', '/logs/echo', KEYS.invoker)).status).toBe(200);
    expect(await call('GET', '/logs/echo', KEYS.reader)).toMatchObject({ status: 403, type: 'AccessDeniedException' });
    expect(await call('GET', '/logs/echo', KEYS.orders)).toMatchObject({ status: 403, type: 'AccessDeniedException' });
  });

  it.each<[string, 'GET' | 'POST' | 'PUT', string, unknown, string, string]>([
    ['PublishVersion', 'POST', '/2015-03-31/functions/echo/versions', undefined, 'lambda:PublishVersion', ARN('echo')],
    // Refused on the headers, before its (up to 70 MB) body is read: the function it names is not known yet.
    ['CreateFunction', 'POST', '/2015-03-31/functions', { FunctionName: 'echo', Runtime: 'nodejs20.x' }, 'lambda:CreateFunction', '*'],
    ['GetFunction', 'GET', '/2015-03-31/functions/echo', undefined, 'lambda:GetFunction', ARN('echo')],
    ['UpdateFunctionCode of an ARN', 'PUT', `/2015-03-31/functions/${encodeURIComponent(ARN('echo'))}/code`, {}, 'lambda:UpdateFunctionCode', ARN('echo')],
    ['ListFunctions', 'GET', '/2015-03-31/functions/', undefined, 'lambda:ListFunctions', '*'],
    ['GetAccountSettings', 'GET', '/2016-08-19/account-settings/', undefined, 'lambda:GetAccountSettings', '*'],
    ['TagResource', 'POST', `/2017-03-31/tags/${encodeURIComponent(ARN('echo'))}`, { Tags: { a: 'b' } }, 'lambda:TagResource', ARN('echo')],
  ])('is refused %s with 403 AccessDeniedException naming the action and resource', async (_op, method, path, body, action, resource) => {
    const r = await call(method, path, KEYS.invoker, body);
    expect([r.status, r.type]).toEqual([403, 'AccessDeniedException']);
    expect(r.message).toBe(`User: invoker is not authorized to perform: ${action} on resource: ${resource}`);
  });
});

describe('lambda:Get* and lambda:List*', () => {
  it('may GetFunction and ListFunctions, but not UpdateFunctionCode, PublishVersion or Invoke', async () => {
    expect(await call('GET', '/2015-03-31/functions/echo', KEYS.reader)).toMatchObject({ status: 200, json: { caller: 'reader' } });
    expect((await call('GET', '/2015-03-31/functions/', KEYS.reader)).json).toEqual({ Functions: FUNCTIONS.map((n) => ({ FunctionName: n })) });
    expect((await call('GET', '/2016-08-19/account-settings/', KEYS.reader)).status).toBe(200);
    for (const [method, path, action] of [
      ['PUT', '/2015-03-31/functions/echo/code', 'lambda:UpdateFunctionCode'],
      ['POST', '/2015-03-31/functions/echo/versions', 'lambda:PublishVersion'],
      ['POST', '/2015-03-31/functions/echo/invocations', 'lambda:InvokeFunction'],
      ['GET', '/fn/echo', 'lambda:InvokeFunctionUrl'],
    ] as const) {
      const r = await call(method, path, KEYS.reader);
      expect([r.status, r.type, r.message], path).toEqual([403, 'AccessDeniedException', `User: reader is not authorized to perform: ${action} on resource: ${ARN('echo')}`]);
    }
  });
});

describe('lambda:*', () => {
  it('may perform every action, on every function its patterns allow', async () => {
    expect((await call('POST', '/2015-03-31/functions', KEYS.admin, { FunctionName: 'new-one' })).status).toBe(201);
    for (const [method, path] of [
      ['GET', '/2015-03-31/functions/echo'],
      ['PUT', '/2015-03-31/functions/echo/code'],
      ['POST', '/2015-03-31/functions/echo/versions'],
      ['POST', '/2015-03-31/functions/echo/invocations'],
      ['GET', '/2016-08-19/account-settings/'],
      ['POST', `/2017-03-31/tags/${encodeURIComponent(ARN('billing'))}`],
      ['GET', '/2015-03-31/functions/echo/undeclared'],
      ['GET', '/hearth/unlisted/x'],
    ] as const) {
      expect((await call(method, path, KEYS.admin)).status, path).toBe(200);
    }
  });

  it('still stops at the function patterns: a body-named, path-named or ARN-named function outside them is refused', async () => {
    const ok = await call('POST', '/2015-03-31/functions', KEYS.orders, { FunctionName: 'orders-new', ZipFile: 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==' });
    expect([ok.status, ok.json.FunctionName]).toEqual([201, 'orders-new']);
    expect((await call('GET', '/2015-03-31/functions/orders-create', KEYS.orders)).status).toBe(200);
    expect((await call('POST', `/2017-03-31/tags/${encodeURIComponent(ARN('orders-list'))}`, KEYS.orders)).status).toBe(200);
    expect((await call('GET', '/2015-03-31/functions/orders-list/undeclared', KEYS.orders)).status).toBe(200);
    for (const [method, path, body, action, resource] of [
      ['POST', '/2015-03-31/functions', { FunctionName: 'billing' }, 'lambda:CreateFunction', ARN('billing')],
      ['POST', '/2015-03-31/functions', { FunctionName: ARN('billing') }, 'lambda:CreateFunction', ARN('billing')],
      // No function to read in the body: only a caller allowed every function reaches the route's 400.
      ['POST', '/2015-03-31/functions', { Runtime: 'nodejs20.x' }, 'lambda:CreateFunction', '*'],
      ['POST', '/2015-03-31/functions', '{not json', 'lambda:CreateFunction', '*'],
      ['GET', '/2015-03-31/functions/billing', undefined, 'lambda:GetFunction', ARN('billing')],
      ['POST', '/2015-03-31/functions/billing:live/versions', undefined, 'lambda:PublishVersion', ARN('billing')],
      ['POST', `/2017-03-31/tags/${encodeURIComponent(ARN('billing'))}`, undefined, 'lambda:TagResource', ARN('billing')],
      ['GET', '/hearth/unlisted/x', undefined, 'lambda:GetFunction', '*'],
    ] as const) {
      const r = await call(method, path, KEYS.orders, body);
      expect([r.status, r.type, r.message], `${path} ${JSON.stringify(body)}`).toEqual([403, 'AccessDeniedException', `User: orders-admin is not authorized to perform: ${action} on resource: ${resource}`]);
    }
  });

  it('ListFunctions shows only the functions the caller may touch (req.hearthFunctions)', async () => {
    expect((await call('GET', '/2015-03-31/functions/', KEYS.orders)).json).toEqual({ Functions: [{ FunctionName: 'orders-create' }, { FunctionName: 'orders-list' }] });
  });
});

describe('a route whose action depends on the request', () => {
  it('GetProvisionedConcurrencyConfig and, with List=ALL, ListProvisionedConcurrencyConfigs are each their own action', async () => {
    const path = '/2019-09-30/functions/echo/provisioned-concurrency';
    expect(await call('GET', `${path}?Qualifier=live`, KEYS.getter)).toMatchObject({ status: 200, json: { caller: 'getter' } });
    const listed = await call('GET', `${path}?List=ALL`, KEYS.getter);
    expect([listed.status, listed.type, listed.message]).toEqual([403, 'AccessDeniedException', `User: getter is not authorized to perform: lambda:ListProvisionedConcurrencyConfigs on resource: ${ARN('echo')}`]);
    expect(await call('GET', `${path}?List=ALL`, KEYS.lister)).toMatchObject({ status: 200, json: { caller: 'lister' } });
    const got = await call('GET', `${path}?Qualifier=live`, KEYS.lister);
    expect([got.status, got.type, got.message]).toEqual([403, 'AccessDeniedException', `User: lister is not authorized to perform: lambda:GetProvisionedConcurrencyConfig on resource: ${ARN('echo')}`]);
  });
});

describe('a route that declares no action', () => {
  it('is refused to every caller not allowed lambda:*, as if it needed every action', async () => {
    for (const [key, name] of [
      [KEYS.invoker, 'invoker'],
      [KEYS.reader, 'reader'],
    ] as const) {
      const r = await call('GET', '/2015-03-31/functions/echo/undeclared', key);
      expect([r.status, r.type, r.message]).toEqual([403, 'AccessDeniedException', `User: ${name} is not authorized to perform: lambda:* on resource: ${ARN('echo')}`]);
    }
    expect((await call('GET', '/2015-03-31/functions/echo/undeclared', KEYS.admin)).status).toBe(200);
  });

  it('leaves unknown routes a 404 for any authenticated caller, and the probes open', async () => {
    expect((await call('GET', '/nope', KEYS.invoker)).status).toBe(404);
    expect((await request(`${url}/healthz`)).statusCode).toBe(200);
  });
});

describe('AWS Signature Version 4 callers', () => {
  it('are held to their actions and functions as key callers are', async () => {
    const client = lambda(SIGNER);
    try {
      expect((await client.send(new GetFunctionCommand({ FunctionName: 'orders-create' }))).$metadata.httpStatusCode).toBe(200);
      expect((await client.send(new CreateFunctionCommand({ FunctionName: 'orders-signed', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: new Uint8Array([1, 2, 3]) } }))).FunctionName).toBe('orders-signed');
      expect((await client.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName)).toEqual(['orders-create', 'orders-list']);
      for (const [send, action, resource] of [
        [() => client.send(new CreateFunctionCommand({ FunctionName: 'billing', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: new Uint8Array([1]) } })), 'lambda:CreateFunction', ARN('billing')],
        [() => client.send(new GetFunctionCommand({ FunctionName: 'billing' })), 'lambda:GetFunction', ARN('billing')],
        [() => client.send(new UpdateFunctionCodeCommand({ FunctionName: 'orders-create', ZipFile: new Uint8Array([1]) })), 'lambda:UpdateFunctionCode', ARN('orders-create')],
        [() => client.send(new PublishVersionCommand({ FunctionName: 'orders-create' })), 'lambda:PublishVersion', ARN('orders-create')],
        [() => client.send(new InvokeCommand({ FunctionName: 'orders-create' })), 'lambda:InvokeFunction', ARN('orders-create')],
      ] as const) {
        await expect(send()).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 }, message: `User: signer is not authorized to perform: ${action} on resource: ${resource}` });
      }
    } finally {
      client.destroy();
    }
  });

  it('without actions, invoke but are refused management', async () => {
    const client = lambda(SIGNED_INVOKER);
    try {
      expect((await client.send(new InvokeCommand({ FunctionName: 'echo', Payload: new TextEncoder().encode('{}') }))).StatusCode).toBe(200);
      await expect(client.send(new CreateFunctionCommand({ FunctionName: 'echo2', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: new Uint8Array([1]) } }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
      await expect(client.send(new PublishVersionCommand({ FunctionName: 'echo' }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    } finally {
      client.destroy();
    }
  });
});
