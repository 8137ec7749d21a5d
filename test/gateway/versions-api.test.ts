// Lambda's version and alias routes as AWS's JavaScript SDK sees them, over
// the embedded platform's DirectoryStore on a real functions directory:
// PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias,
// UpdateAlias, DeleteAlias, ListAliases and DeleteFunction with a
// Qualifier, each Lambda error, and authorisation of these routes as the
// function they name.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  GetAliasCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { DEFAULT_OPEN_ROUTES, routeTarget } from '../../src/gateway/auth/route-target.js';
import { versionsApi } from '../../src/gateway/plugins/versions-api.js';
import { standInGateway } from '../hardening/stand-in.js';
import { directoryStoreOn } from '../helpers/directory-store.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function';
const py = (code: string): FunctionSpecInput => ({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': code } }, memoryMB: 256, timeoutSeconds: 7 });
const fnYaml = (name: string, spec: FunctionSpecInput) => stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec });

interface Gateway {
  app: FastifyInstance;
  url: string;
  dir: string;
  catalog: MemoryCatalog;
  reload(): Promise<void>;
}

async function gateway(fns: Record<string, FunctionSpecInput>, auth?: CredentialsFileAuth): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-versions-api-'));
  for (const [name, spec] of Object.entries(fns)) writeFileSync(join(dir, `${name}.yaml`), fnYaml(name, spec));
  const { catalog, store, reload: load } = await directoryStoreOn(dir);
  const reload = async (): Promise<void> => {
    await load();
  };
  const app = await standInGateway({
    catalog,
    ...(auth ? { auth: auth.options } : {}),
    plugins: [{ plugin: versionsApi, options: { store, catalog, arn: (n: string) => `${ARN}:${n}` } }],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${addr.port}`, dir, catalog, reload };
}

async function raw(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${url}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], headers: res.headers, json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

describe('version and alias routes through the AWS SDK', () => {
  let g: Gateway;
  let lambda: LambdaClient;

  beforeAll(async () => {
    g = await gateway({ hello: py('A'), other: py('O') });
    lambda = new LambdaClient({ endpoint: g.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    lambda?.destroy();
    await g?.app.close();
    if (g) rmSync(g.dir, { recursive: true, force: true });
  });

  it('PublishVersion answers 201 with the version\'s FunctionConfiguration; an unchanged function gets its latest version', async () => {
    const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', Description: 'code A' }));
    expect(v1).toMatchObject({
      FunctionName: 'hello',
      FunctionArn: `${ARN}:hello:1`,
      Version: '1',
      Description: 'code A',
      Runtime: 'python3.12',
      Handler: 'app.handler',
      MemorySize: 256,
      Timeout: 7,
      State: 'Active',
      PackageType: 'Zip',
    });
    expect(v1.$metadata.httpStatusCode).toBe(201);
    expect(Buffer.from(v1.CodeSha256 ?? '', 'base64')).toHaveLength(32);
    expect(v1.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);

    const again = await raw(g.url, 'POST', '/2015-03-31/functions/hello/versions', {});
    expect([again.status, again.json?.Version, again.headers['x-hearth-version-created']]).toEqual([201, '1', 'false']);
    // CodeSha256 as Lambda gives it (base64) is a precondition on the current code.
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: v1.CodeSha256 }))).Version).toBe('1');
    await expect(lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: Buffer.alloc(32, 1).toString('base64') }))).rejects.toMatchObject({
      name: 'PreconditionFailedException',
      $metadata: { httpStatusCode: 412 },
    });

    writeFileSync(join(g.dir, 'hello.yaml'), fnYaml('hello', py('B')));
    await g.reload();
    const v2 = await raw(g.url, 'POST', `/2015-03-31/functions/${encodeURIComponent(`${ARN}:hello`)}/versions`);
    expect([v2.status, v2.json?.Version, v2.headers['x-hearth-version-created']]).toEqual([201, '2', 'true']);
  });

  it('ListVersionsByFunction lists $LATEST, then the versions, in pages', async () => {
    const all = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'hello' }));
    expect(all.Versions?.map((v) => [v.Version, v.FunctionArn])).toEqual([
      ['$LATEST', `${ARN}:hello:$LATEST`],
      ['1', `${ARN}:hello:1`],
      ['2', `${ARN}:hello:2`],
    ]);
    expect(all.NextMarker).toBeUndefined();
    const first = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'hello', MaxItems: 2 }));
    expect(first.Versions?.map((v) => v.Version)).toEqual(['$LATEST', '1']);
    const rest = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'hello', MaxItems: 2, Marker: first.NextMarker }));
    expect(rest.Versions?.map((v) => v.Version)).toEqual(['2']);
  });

  it('CreateAlias, GetAlias, UpdateAlias (with RevisionId), ListAliases and DeleteAlias', async () => {
    const created = await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '1', Description: 'callers', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } }));
    expect(created).toMatchObject({ AliasArn: `${ARN}:hello:live`, Name: 'live', FunctionVersion: '1', Description: 'callers', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } });
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created.RevisionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // The catalog routes by it at once.
    expect(g.catalog.get('hello')?.spec.aliases).toEqual([{ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 }, minInstances: 0, description: 'callers' }]);

    const got = await lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'live' }));
    expect(got.RevisionId).toBe(created.RevisionId);

    // What UpdateAlias leaves out stays; an empty RoutingConfig ends the split.
    const promoted = await lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} }, RevisionId: got.RevisionId }));
    expect(promoted).toMatchObject({ FunctionVersion: '2', Description: 'callers' });
    expect(promoted.RoutingConfig).toBeUndefined();
    expect(promoted.RevisionId).not.toBe(got.RevisionId);
    await expect(lambda.send(new UpdateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '1', RevisionId: got.RevisionId }))).rejects.toMatchObject({
      name: 'PreconditionFailedException',
      $metadata: { httpStatusCode: 412 },
    });
    // MinInstances: Hearth's extension of the request. The answer keeps to Lambda's AliasConfiguration (the minimum
    // reads back as provisioned concurrency, functions-api.ts), but its RevisionId moves and the alias holds it.
    const minimum = await raw(g.url, 'PUT', '/2015-03-31/functions/hello/aliases/live', { MinInstances: 2 });
    expect([minimum.status, minimum.json?.FunctionVersion]).toEqual([200, '2']);
    expect(minimum.json).not.toHaveProperty('MinInstances');
    expect(minimum.json?.RevisionId).not.toBe(promoted.RevisionId);
    expect(g.catalog.get('hello')?.spec.aliases?.find((a) => a.name === 'live')?.minInstances).toBe(2);
    const badMinimum = await raw(g.url, 'PUT', '/2015-03-31/functions/hello/aliases/live', { MinInstances: 'two' });
    expect([badMinimum.status, badMinimum.json?.message]).toEqual([400, 'MinInstances must be an integer']);

    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'canary', FunctionVersion: '$LATEST' }));
    const listed = await lambda.send(new ListAliasesCommand({ FunctionName: 'hello' }));
    expect(listed.Aliases?.map((a) => [a.Name, a.FunctionVersion])).toEqual([['live', '2'], ['canary', '$LATEST']]);
    const onTwo = await lambda.send(new ListAliasesCommand({ FunctionName: 'hello', FunctionVersion: '2' }));
    expect(onTwo.Aliases?.map((a) => a.Name)).toEqual(['live']);

    await lambda.send(new DeleteAliasCommand({ FunctionName: 'hello', Name: 'canary' }));
    await expect(lambda.send(new GetAliasCommand({ FunctionName: 'hello', Name: 'canary' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Alias not found: ${ARN}:hello:canary`,
    });
  });

  it('DeleteFunction with a Qualifier deletes a version; refused while an alias points to it (409)', async () => {
    await expect(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '2' }))).rejects.toMatchObject({
      name: 'ResourceConflictException',
      $metadata: { httpStatusCode: 409 },
    });
    const deleted = await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello', Qualifier: '1' }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    await expect(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello:1' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: `Function not found: ${ARN}:hello:1`,
    });
    expect((await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'hello' }))).Versions?.map((v) => v.Version)).toEqual(['$LATEST', '2']);
  });

  it.each([
    {
      what: 'a weight above 1',
      body: { Name: 'w', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '1': 1.5 } } },
      path: 'spec.aliases[1].additionalVersionWeights["1"]',
      message: 'RoutingConfig.AdditionalVersionWeights["1"] (spec.aliases[1].additionalVersionWeights["1"]): must be at most 1',
    },
    { what: 'two additional versions', body: { Name: 'w', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '3': 0.1, '4': 0.1 } } }, path: 'spec.aliases[1].additionalVersionWeights' },
    { what: 'a version that does not exist', body: { Name: 'w', FunctionVersion: '9' }, path: 'spec.aliases[1].version', message: 'FunctionVersion (spec.aliases[1].version): version 9 does not exist' },
    { what: 'a name that is a number', body: { Name: '12', FunctionVersion: '2' }, path: 'spec.aliases[1].name' },
    { what: 'the name $LATEST', body: { Name: '$LATEST', FunctionVersion: '2' }, path: 'spec.aliases[1].name' },
  ])('CreateAlias with $what: 400 InvalidParameterValueException naming the field', async ({ body, path, message }) => {
    const r = await raw(g.url, 'POST', '/2015-03-31/functions/hello/aliases', body);
    expect([r.status, r.type]).toEqual([400, 'InvalidParameterValueException']);
    expect((r.json?.Problems as Array<{ path: string }>).map((p) => p.path)).toContain(path);
    if (message !== undefined) expect(r.json?.message).toBe(message);
  });

  it.each([
    { what: 'an unknown function', method: 'POST', path: '/2015-03-31/functions/nope/versions', status: 404, type: 'ResourceNotFoundException', message: `Function not found: ${ARN}:nope` },
    { what: 'an unknown function\'s aliases', method: 'GET', path: '/2015-03-31/functions/nope/aliases', status: 404, type: 'ResourceNotFoundException' },
    { what: 'an unknown alias', method: 'DELETE', path: '/2015-03-31/functions/hello/aliases/nope', status: 404, type: 'ResourceNotFoundException', message: `Alias not found: ${ARN}:hello:nope` },
    { what: 'an alias that exists', method: 'POST', path: '/2015-03-31/functions/hello/aliases', body: { Name: 'live', FunctionVersion: '2' }, status: 409, type: 'ResourceConflictException' },
    { what: 'a body that is not JSON', method: 'POST', path: '/2015-03-31/functions/hello/aliases', body: '{nope', status: 400, type: 'InvalidRequestContentException' },
    { what: 'an alias without FunctionVersion', method: 'POST', path: '/2015-03-31/functions/hello/aliases', body: { Name: 'x' }, status: 400, type: 'InvalidParameterValueException', message: 'FunctionVersion is required' },
    { what: 'a qualified name on PublishVersion', method: 'POST', path: '/2015-03-31/functions/hello:1/versions', status: 400, type: 'InvalidParameterValueException' },
    { what: 'an ARN of another region', method: 'GET', path: `/2015-03-31/functions/${encodeURIComponent('arn:aws:lambda:eu-west-1:000000000000:function:hello')}/versions`, status: 404, type: 'ResourceNotFoundException' },
    { what: 'a CodeSha256 that is no digest', method: 'POST', path: '/2015-03-31/functions/hello/versions', body: { CodeSha256: 'xyz' }, status: 400, type: 'InvalidParameterValueException' },
    { what: 'MaxItems out of range', method: 'GET', path: '/2015-03-31/functions/hello/versions?MaxItems=0', status: 400, type: 'InvalidParameterValueException' },
    { what: 'DeleteFunction of an unknown function', method: 'DELETE', path: '/2015-03-31/functions/nope', status: 404, type: 'ResourceNotFoundException', message: `Function not found: ${ARN}:nope` },
    { what: 'DeleteFunction of $LATEST', method: 'DELETE', path: '/2015-03-31/functions/hello?Qualifier=$LATEST', status: 400, type: 'InvalidParameterValueException', message: '$LATEST version cannot be deleted without deleting the function.' },
    { what: 'DeleteFunction of an alias', method: 'DELETE', path: '/2015-03-31/functions/hello?Qualifier=live', status: 400, type: 'InvalidParameterValueException' },
    { what: 'two qualifiers that differ', method: 'DELETE', path: '/2015-03-31/functions/hello:2?Qualifier=1', status: 400, type: 'InvalidParameterValueException' },
    { what: 'a version that does not exist', method: 'DELETE', path: '/2015-03-31/functions/hello?Qualifier=7', status: 404, type: 'ResourceNotFoundException', message: `Function not found: ${ARN}:hello:7` },
  ])('$what: $status $type', async ({ method, path, body, status, type, message }) => {
    const r = await raw(g.url, method, path, body);
    expect([r.status, r.type, r.json?.Type]).toEqual([status, type, 'User']);
    if (message !== undefined) expect(r.json?.message).toBe(message);
  });
});

describe('routeTarget of the version and alias routes', () => {
  it.each([
    ['/2015-03-31/functions/:name/versions', { name: 'b' }, 'b'],
    ['/2015-03-31/functions/:name/aliases', { name: 'arn:aws:lambda:us-east-1:000000000000:function:b' }, 'b'],
    ['/2015-03-31/functions/:name/aliases/:alias', { name: 'b', alias: 'live' }, 'b'],
    ['/2015-03-31/functions/:name', { name: 'b:3' }, 'b'],
    // Unparseable: the route answers 400; only a caller allowed this very string (or every function) gets that far.
    ['/2015-03-31/functions/:name', { name: 'b:3:x' }, 'b:3:x'],
  ])('%s with %j is function %s', (route, params, name) => {
    expect(routeTarget(route, params, DEFAULT_OPEN_ROUTES)).toEqual({ kind: 'function', name });
  });
});

describe('authorisation of the version and alias routes', () => {
  let g: Gateway;
  let auth: CredentialsFileAuth;
  const KEY = 'team-a-key-0123456789abcdef';

  beforeAll(async () => {
    const credFile = join(mkdtempSync(join(tmpdir(), 'hearth-versions-auth-')), 'credentials.yaml');
    // Every action, on function a only: the function patterns still refuse b.
    writeFileSync(credFile, stringify({ callers: [{ name: 'team-a', apiKey: KEY, functions: ['a'], actions: ['lambda:*'] }] }));
    auth = await authFromCredentialsFile(credFile, { pollIntervalMs: 60_000 });
    g = await gateway({ a: py('A'), b: py('B') }, auth);
  });
  afterAll(async () => {
    await g?.app.close();
    await auth?.close();
    if (g) rmSync(g.dir, { recursive: true, force: true });
  });

  const bearer = { authorization: `Bearer ${KEY}` };

  it.each([
    ['POST', '/2015-03-31/functions/b/versions', undefined],
    ['GET', '/2015-03-31/functions/b/versions', undefined],
    ['POST', '/2015-03-31/functions/b/aliases', { Name: 'live', FunctionVersion: '$LATEST' }],
    ['GET', '/2015-03-31/functions/b/aliases', undefined],
    ['GET', '/2015-03-31/functions/b/aliases/live', undefined],
    ['PUT', '/2015-03-31/functions/b/aliases/live', { FunctionVersion: '$LATEST' }],
    ['DELETE', '/2015-03-31/functions/b/aliases/live', undefined],
    ['DELETE', '/2015-03-31/functions/b?Qualifier=1', undefined],
    ['POST', `/2015-03-31/functions/${encodeURIComponent('arn:aws:lambda:us-east-1:000000000000:function:b')}/versions`, undefined],
  ] as const)('%s %s of a function the caller may not touch: 403, and nothing changes', async (method, path, body) => {
    const r = await raw(g.url, method, path, body, bearer);
    expect([r.status, r.type]).toEqual([403, 'AccessDeniedException']);
    expect(g.catalog.versions('b')).toEqual([]);
    expect(g.catalog.get('b')?.spec.aliases).toBeUndefined();
  });

  it('the caller\'s own function: publish and alias as usual; anonymous: 401', async () => {
    expect((await raw(g.url, 'POST', '/2015-03-31/functions/a/versions', undefined, bearer)).status).toBe(201);
    expect((await raw(g.url, 'POST', '/2015-03-31/functions/a/aliases', { Name: 'live', FunctionVersion: '1' }, bearer)).status).toBe(201);
    expect((await raw(g.url, 'POST', '/2015-03-31/functions/a/versions')).status).toBe(401);
  });
});

describe('version and alias routes while the catalog lags the store', () => {
  // In a cluster the gateway's catalog follows a watch: for a moment after CreateFunction the
  // store (the API server) has a function the catalog does not. The routes ask the store then.
  it('publishes and aliases a function only the store has yet, and still answers 404 for one neither has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-versions-lag-'));
    writeFileSync(join(dir, 'fresh.yaml'), fnYaml('fresh', py('F')));
    const { store } = await directoryStoreOn(dir);
    const lagging = new MemoryCatalog();
    const app = await standInGateway({ catalog: lagging, plugins: [{ plugin: versionsApi, options: { store, catalog: lagging, arn: (n: string) => `${ARN}:${n}` } }] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      const published = await raw(url, 'POST', '/2015-03-31/functions/fresh/versions', {});
      expect([published.status, published.json?.Version]).toEqual([201, '1']);
      const alias = await raw(url, 'POST', '/2015-03-31/functions/fresh/aliases', { Name: 'live', FunctionVersion: '1' });
      expect([alias.status, alias.json?.FunctionVersion]).toEqual([201, '1']);
      const missing = await raw(url, 'POST', '/2015-03-31/functions/absent/versions', {});
      expect([missing.status, missing.type, missing.json?.message]).toEqual([404, 'ResourceNotFoundException', `Function not found: ${ARN}:absent`]);
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
