// --management-api=false (`hearth gateway`, as the chart renders it with
// managementApi.enabled: false, and `hearth up`): the gateway serves
// invocation only. Every Lambda control-plane route answers 403
// AccessDeniedException "the management API is disabled on this gateway",
// whoever asks, even a caller allowed lambda:*; Invoke, function URLs,
// records, dead letters and the operations routes are served as before.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { checkServeFlags } from '../../src/cli/serve-flags.js';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import dlqPlugin from '../../src/gateway/plugins/dlq.js';
import { isManagementRoute, MANAGEMENT_DISABLED } from '../../src/gateway/plugins/management-off.js';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { functionYaml, py } from '../helpers/platform.js';
import { standInGateway } from './stand-in.js';

describe('which routes are the management API', () => {
  it.each<[string | undefined, string | undefined, boolean]>([
    ['/2015-03-31/functions/:name/invocations', 'lambda:InvokeFunction', false],
    ['/fn/:name/*', 'lambda:InvokeFunctionUrl', false],
    ['/dlq/:function', 'lambda:InvokeFunction', false],
    ['/invocations/:requestId', 'lambda:InvokeFunction', false],
    ['/2015-03-31/functions', 'lambda:CreateFunction', true],
    ['/2015-03-31/functions/:name', 'lambda:GetFunction', true],
    ['/2015-03-31/functions/:name/versions', 'lambda:PublishVersion', true],
    ['/2017-03-31/tags/:arn', 'lambda:TagResource', true],
    // A Lambda route that declares no action is closed, as authorisation closes it.
    ['/2015-03-31/functions/:name/aliases', undefined, true],
    ['/metrics', undefined, false],
    ['/openapi.json', undefined, false],
    ['/packages/:sha256', undefined, false],
    [undefined, undefined, false],
  ])('%s (%s): %s', (route, action, want) => {
    expect(isManagementRoute(route, action)).toBe(want);
  });
});

describe('--management-api, parsed', () => {
  const base = { host: '127.0.0.1', port: '0', 'no-auth': false };
  it('is true or false, and absent leaves the gateway its default (on)', () => {
    expect(checkServeFlags({ ...base, 'management-api': 'false' })).toMatchObject({ managementApi: false });
    expect(checkServeFlags({ ...base, 'management-api': 'true' })).toMatchObject({ managementApi: true });
    expect(checkServeFlags(base)).not.toHaveProperty('managementApi');
    expect(checkServeFlags({ ...base, 'management-api': 'no' })).toBe('--management-api takes true or false, not no');
  });

  it('is read by hearth gateway as the chart writes it', () => {
    const values = parseGatewayArgs(['--management-api=false', '--no-auth']);
    expect(checkServeFlags(values)).toMatchObject({ managementApi: false });
  });
});

const KEY = 'admin-key-0123456789abcdef';

/** Stand-ins that declare what the real control routes declare: what is under test is the switch. */
const controlRoutes: FastifyPluginAsync = async (app) => {
  const ok = async (_req: unknown, reply: FastifyReply) => reply.code(200).send({ served: true });
  app.post('/2015-03-31/functions', { config: { lambdaAction: 'lambda:CreateFunction' } }, ok);
  app.get('/2015-03-31/functions/:name', { config: { lambdaAction: 'lambda:GetFunction' } }, ok);
  app.post('/2015-03-31/functions/:name/versions', { config: { lambdaAction: 'lambda:PublishVersion' } }, ok);
  app.get('/2015-03-31/functions/:name/undeclared', ok);
};

describe('a gateway with the management API off', () => {
  const apps: FastifyInstance[] = [];
  let withAuth: string;
  let withoutAuth: string;
  const queue = {
    async listDeadLetters() {
      return [];
    },
    async redrive() {
      return { redriven: 0, requestIds: [] };
    },
  };

  beforeAll(async () => {
    const start = async (auth: boolean) => {
      const callers = new CallerTable({ callers: [{ name: 'admin', apiKey: KEY, functions: ['*'], actions: ['lambda:*'] }] });
      const app = await standInGateway({
        managementApi: false,
        ...(auth ? { auth: { callers: () => callers } } : {}),
        plugins: [
          { plugin: dlqPlugin, options: { queue } },
          { plugin: controlRoutes },
        ],
      });
      apps.push(app);
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    };
    [withAuth, withoutAuth] = await Promise.all([start(true), start(false)]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  async function call(base: string, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}) {
    const res = await request(`${base}${path}`, { method, headers, ...(method === 'POST' ? { body: '{"FunctionName":"echo"}' } : {}) });
    const text = await res.body.text();
    return { status: res.statusCode, type: res.headers['x-amzn-errortype'], text };
  }

  it.each([
    ['POST', '/2015-03-31/functions'],
    ['GET', '/2015-03-31/functions/echo'],
    ['POST', '/2015-03-31/functions/echo/versions'],
    ['GET', '/2015-03-31/functions/echo/undeclared'],
  ] as const)('refuses %s %s with 403 AccessDeniedException, even to a caller allowed lambda:*', async (method, path) => {
    for (const [base, headers] of [
      [withAuth, { 'x-api-key': KEY }],
      [withoutAuth, {}],
    ] as const) {
      const r = await call(base, method, path, headers);
      expect([r.status, r.type]).toEqual([403, 'AccessDeniedException']);
      expect(JSON.parse(r.text)).toMatchObject({ message: MANAGEMENT_DISABLED });
    }
  });

  it('serves Invoke, function URLs, dead letters and /metrics as before; anonymous callers still get 401 first', async () => {
    const h = { 'x-api-key': KEY };
    expect(await call(withAuth, 'POST', '/2015-03-31/functions/echo/invocations', h)).toMatchObject({ status: 200, text: '{"FunctionName":"echo"}' });
    expect((await call(withAuth, 'GET', '/fn/echo/x', h)).status).toBe(200);
    expect((await call(withAuth, 'GET', '/dlq/echo', h)).status).toBe(200);
    expect((await call(withAuth, 'GET', '/metrics')).status).toBe(200);
    expect((await call(withoutAuth, 'POST', '/2015-03-31/functions/echo/invocations')).status).toBe(200);
    expect((await call(withAuth, 'POST', '/2015-03-31/functions/echo/versions')).status).toBe(401);
  });
});

describe('hearth up --management-api=false', () => {
  let up: ChildPlatform;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-management-off-'));
    writeFileSync(join(dir, 'hello.yaml'), functionYaml('hello', py('def handler(event, context):\n    return {"hello": event.get("name")}\n')));
    up = await startChildPlatform(['--dir', dir, '--port', '0', '--warm-pool', '0', '--management-api=false']);
  }, 120_000);
  afterAll(() => up?.killAll());

  it('refuses publishing and aliasing with 403, and still invokes', async () => {
    for (const [method, path, body] of [
      ['POST', '/2015-03-31/functions/hello/versions', '{}'],
      ['POST', '/2015-03-31/functions/hello/aliases', '{"Name":"live","FunctionVersion":"$LATEST"}'],
      ['GET', '/2015-03-31/functions/hello/versions', undefined],
    ] as const) {
      const res = await request(`${up.url}${path}`, { method, ...(body !== undefined ? { body } : {}) });
      const answer = (await res.body.json()) as { message?: string };
      expect([res.statusCode, res.headers['x-amzn-errortype'], answer.message], path).toEqual([403, 'AccessDeniedException', MANAGEMENT_DISABLED]);
    }
    const res = await request(`${up.url}/2015-03-31/functions/hello/invocations`, { method: 'POST', body: '{"name":"off"}' });
    expect([res.statusCode, await res.body.text()]).toEqual([200, '{"hello": "off"}']);
  });
});
