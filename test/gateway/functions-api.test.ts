// Lambda's function routes as AWS's JavaScript SDK sees them, on a real
// embedded platform (functions directory, uploads under .hearth/packages,
// runtime processes): CreateFunction with a ZIP and with an image,
// GetFunction (Code.Location downloads the same bytes), ListFunctions in
// pages, UpdateFunctionCode and UpdateFunctionConfiguration with RevisionId
// preconditions and the SDK's own waiters, reserved and provisioned
// concurrency (IN_PROGRESS until the alias's instance is ready, then READY),
// asynchronous invocation settings, function URL settings, tags, account
// settings, code signing, event source mappings, DeleteFunction, and each
// Lambda error.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionEventInvokeConfigCommand,
  DeleteFunctionUrlConfigCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetFunctionCodeSigningConfigCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionUrlConfigCommand,
  GetProvisionedConcurrencyConfigCommand,
  InvokeCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ListFunctionEventInvokeConfigsCommand,
  ListFunctionsCommand,
  ListProvisionedConcurrencyConfigsCommand,
  ListTagsCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  PutProvisionedConcurrencyConfigCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  UpdateFunctionEventInvokeConfigCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_BODY_LIMIT, ZIP_REQUEST_BYTES } from '../../src/control/function-code.js';
import { collectTree } from '../../src/packages/collect.js';
import { writeZip } from '../../src/packages/zip-write.js';
import { py, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function';
const ROLE = 'arn:aws:iam::000000000000:role/hello-runner';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function zipOf(files: Record<string, string>): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-fn-zip-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return new Uint8Array(await writeZip(await collectTree(dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const handler = (answer: string) => `def handler(event, context):\n    return {"answer": "${answer}", "greeting": __import__("os").environ.get("GREETING", "")}\n`;

async function raw(url: string, method: string, path: string, body?: string | Buffer) {
  const res = await request(`${url}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, type: res.headers['x-amzn-errortype'], json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

describe('the functions API through the AWS SDK on the embedded platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let lambda: LambdaClient;
  let zipA: Uint8Array;
  const invoke = async (name: string, qualifier?: string) => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: name, ...(qualifier ? { Qualifier: qualifier } : {}) }));
    return JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as { answer: string; greeting: string };
  };
  const waiter = () => ({ client: lambda, maxWaitTime: 60, minDelay: 1, maxDelay: 1 });

  beforeAll(async () => {
    platform = await startPlatform({ existing: py('def handler(e, c):\n    return "existing"\n') });
    lambda = new LambdaClient({ endpoint: platform.url, region: 'local', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    zipA = await zipOf({ 'app.py': handler('A') });
  });
  afterAll(async () => {
    lambda?.destroy();
    await platform?.close();
    if (platform) rmSync(platform.dir, { recursive: true, force: true });
  });

  it('CreateFunction with a ZIP: 201, its configuration, a Function file the platform serves; the waiter sees it Active; it answers', async () => {
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'hello',
        Runtime: 'python3.12',
        Handler: 'app.handler',
        Role: ROLE,
        Code: { ZipFile: zipA },
        Description: 'says hello',
        Timeout: 9,
        MemorySize: 256,
        Environment: { Variables: { GREETING: 'hi' } },
        Tags: { team: 'a' },
      }),
    );
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created).toMatchObject({
      FunctionName: 'hello',
      FunctionArn: `${ARN}:hello`,
      Runtime: 'python3.12',
      Role: ROLE,
      Handler: 'app.handler',
      Description: 'says hello',
      Timeout: 9,
      MemorySize: 256,
      PackageType: 'Zip',
      Version: '$LATEST',
      Environment: { Variables: { GREETING: 'hi' } },
      CodeSize: zipA.length,
    });
    expect(['Pending', 'Active']).toContain(created.State);
    expect(created.RevisionId).toMatch(UUID);
    expect(Buffer.from(created.CodeSha256 ?? '', 'base64')).toHaveLength(32);
    // The one write path: a Function file in the functions directory, naming the uploaded package.
    expect(readFileSync(join(platform.dir, 'hello.yaml'), 'utf8')).toMatch(/serviceAccountName: hello-runner/);

    await waitUntilFunctionActiveV2(waiter(), { FunctionName: 'hello' });
    expect(await invoke('hello')).toEqual({ answer: 'A', greeting: 'hi' });
  });

  it('CreateFunction of a name that exists: 409 ResourceConflictException "Function already exist: NAME"', async () => {
    for (const name of ['hello', 'existing']) {
      await expect(lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: zipA } }))).rejects.toMatchObject({
        name: 'ResourceConflictException',
        message: `Function already exist: ${name}`,
        $metadata: { httpStatusCode: 409 },
      });
    }
  });

  it('CreateFunction with an image needs no upload: PackageType Image, Publish answers version 1, GetFunction names the image', async () => {
    // With Publish, the answer is the version CreateFunction published.
    const created = await lambda.send(new CreateFunctionCommand({ FunctionName: 'boxed', PackageType: 'Image', Role: ROLE, Code: { ImageUri: 'registry.local/boxed:1' }, Publish: true }));
    expect(created).toMatchObject({ FunctionName: 'boxed', PackageType: 'Image', Runtime: 'provided.al2023', Version: '1', FunctionArn: `${ARN}:boxed:1` });
    expect(platform.catalog.versions('boxed').map((v) => v.spec.version)).toEqual(['1']);
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'boxed' }));
    expect(got.Code).toEqual({ RepositoryType: 'ECR', ImageUri: 'registry.local/boxed:1', ResolvedImageUri: 'registry.local/boxed:1' });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'boxed' }));
  });

  it('GetFunction: the configuration, Code.Location that downloads the same bytes, the tags; GetFunctionConfiguration the same configuration', async () => {
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    expect(got.Configuration).toMatchObject({ FunctionName: 'hello', State: 'Active', LastUpdateStatus: 'Successful', FunctionArn: `${ARN}:hello`, CodeSize: zipA.length });
    expect(got.Tags).toEqual({ team: 'a' });
    expect(got.Code?.RepositoryType).toBe('S3');
    const download = await request(got.Code?.Location ?? 'http://127.0.0.1:1/');
    expect(download.statusCode).toBe(200);
    expect(Buffer.from(await download.body.arrayBuffer()).equals(Buffer.from(zipA))).toBe(true);

    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: `${ARN}:hello` }));
    const { $metadata: _m, ...plain } = config;
    const { $metadata: _n, ...again } = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello' }));
    expect(plain).toEqual(again);
    expect(plain.RevisionId).toBe(got.Configuration?.RevisionId);
  });

  it('ListFunctions in pages with Marker and MaxItems, by name', async () => {
    const all = await lambda.send(new ListFunctionsCommand({}));
    expect(all.Functions?.map((f) => f.FunctionName)).toEqual(['existing', 'hello']);
    const first = await lambda.send(new ListFunctionsCommand({ MaxItems: 1 }));
    expect(first.Functions?.map((f) => f.FunctionName)).toEqual(['existing']);
    const rest = await lambda.send(new ListFunctionsCommand({ MaxItems: 1, Marker: first.NextMarker }));
    expect([rest.Functions?.map((f) => f.FunctionName), rest.NextMarker]).toEqual([['hello'], undefined]);
    expect((await raw(platform.url, 'GET', '/2015-03-31/functions/?MaxItems=0')).type).toBe('InvalidParameterValueException');
  });

  it('UpdateFunctionCode: a stale RevisionId is 412; with the current one and Publish, version 1 runs the new code; the waiter sees it Successful', async () => {
    const before = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello' }));
    const zipB = await zipOf({ 'app.py': handler('B') });
    await expect(lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: zipB, RevisionId: '00000000-0000-0000-0000-000000000000' }))).rejects.toMatchObject({
      name: 'PreconditionFailedException',
      $metadata: { httpStatusCode: 412 },
    });
    const published = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'hello', ZipFile: zipB, RevisionId: before.RevisionId, Publish: true }));
    expect(published).toMatchObject({ Version: '1', FunctionArn: `${ARN}:hello:1`, State: 'Active' });
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: 'hello' });
    const after = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello' }));
    expect(after.RevisionId).not.toBe(before.RevisionId);
    expect(after.CodeSha256).not.toBe(before.CodeSha256);
    expect(await invoke('hello')).toEqual({ answer: 'B', greeting: 'hi' });
    expect(await invoke('hello', '1')).toEqual({ answer: 'B', greeting: 'hi' });
    // A version's CodeSha256 and CodeSize are its package's, as $LATEST's are: the ZIP's base64 SHA-256 and bytes.
    const zipBDigest = createHash('sha256').update(zipB).digest('base64');
    expect([published.CodeSha256, published.CodeSize, after.CodeSha256, after.CodeSize]).toEqual([zipBDigest, zipB.length, zipBDigest, zipB.length]);
    const v1 = await lambda.send(new GetFunctionCommand({ FunctionName: 'hello', Qualifier: '1' }));
    expect([v1.Configuration?.CodeSha256, v1.Configuration?.CodeSize]).toEqual([zipBDigest, zipB.length]);
    // Its Code.Location downloads its package, though under hearth up the version keeps a copy of its own.
    const download = await request(v1.Code?.Location ?? 'http://127.0.0.1:1/');
    expect(download.statusCode).toBe(200);
    expect(Buffer.from(await download.body.arrayBuffer()).equals(Buffer.from(zipB))).toBe(true);
    // The CodeSha256 UpdateFunctionCode's caller saw, and the version's, are a precondition PublishVersion accepts; the code's earlier one is not.
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: after.CodeSha256, RevisionId: after.RevisionId }))).Version).toBe('1');
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: published.CodeSha256 }))).Version).toBe('1');
    await expect(lambda.send(new PublishVersionCommand({ FunctionName: 'hello', CodeSha256: before.CodeSha256 }))).rejects.toMatchObject({ name: 'PreconditionFailedException', $metadata: { httpStatusCode: 412 } });
    await expect(lambda.send(new PublishVersionCommand({ FunctionName: 'hello', RevisionId: before.RevisionId }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello', Qualifier: '1' }))).Version).toBe('1');
    const everyVersion = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }));
    expect(everyVersion.Functions?.map((f) => f.FunctionArn)).toEqual([`${ARN}:existing:$LATEST`, `${ARN}:hello:$LATEST`, `${ARN}:hello:1`]);
  });

  it('UpdateFunctionConfiguration: what it leaves out stays; a stale RevisionId is 412; the function answers with the new environment', async () => {
    const before = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hello' }));
    const updated = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Environment: { Variables: { GREETING: 'hello there' } }, MemorySize: 512, RevisionId: before.RevisionId }));
    expect(updated).toMatchObject({ MemorySize: 512, Timeout: 9, Description: 'says hello', Environment: { Variables: { GREETING: 'hello there' } } });
    await expect(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Timeout: 20, RevisionId: before.RevisionId }))).rejects.toMatchObject({
      name: 'PreconditionFailedException',
      $metadata: { httpStatusCode: 412 },
    });
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: 'hello' });
    // Successful means the new configuration serves: the next call runs with it.
    expect(await invoke('hello')).toEqual({ answer: 'B', greeting: 'hello there' });
    await expect(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hello', Runtime: 'java21' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });

  it('reserved concurrency: Put, Get (and in GetFunction), Delete', async () => {
    expect(await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'hello' }))).not.toHaveProperty('ReservedConcurrentExecutions');
    expect((await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'hello', ReservedConcurrentExecutions: 5 }))).ReservedConcurrentExecutions).toBe(5);
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'hello' }))).ReservedConcurrentExecutions).toBe(5);
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'hello' }))).Concurrency).toEqual({ ReservedConcurrentExecutions: 5 });
    expect(platform.catalog.get('hello')?.spec.reservedConcurrency).toBe(5);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'hello' }));
    expect(platform.catalog.get('hello')?.spec.reservedConcurrency).toBeUndefined();
  });

  it('provisioned concurrency on an alias: 202 IN_PROGRESS until its instances are ready, then READY; version numbers and $LATEST refused', async () => {
    // Version 2 has never been called: no instance of it runs yet.
    expect((await lambda.send(new PublishVersionCommand({ FunctionName: 'hello' }))).Version).toBe('2');
    expect(platform.backend.instances('hello:2')).toEqual([]);
    await lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '2' }));
    await expect(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'hello', Qualifier: 'live' }))).rejects.toMatchObject({
      name: 'ProvisionedConcurrencyConfigNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    const put = await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'hello', Qualifier: 'live', ProvisionedConcurrentExecutions: 2 }));
    expect(put).toMatchObject({ RequestedProvisionedConcurrentExecutions: 2, Status: 'IN_PROGRESS', $metadata: { httpStatusCode: 202 } });
    expect(put.AllocatedProvisionedConcurrentExecutions).toBeLessThan(2);
    expect(platform.catalog.get('hello')?.spec.aliases?.find((a) => a.name === 'live')?.minInstances).toBe(2);
    const ready = await waitFor(
      'the alias live to be READY',
      async () => {
        const got = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'hello', Qualifier: 'live' }));
        return got.Status === 'READY' ? got : undefined;
      },
      30_000,
      50,
    );
    expect(ready).toMatchObject({ RequestedProvisionedConcurrentExecutions: 2, AllocatedProvisionedConcurrentExecutions: 2, AvailableProvisionedConcurrentExecutions: 2 });
    // READY means what it says: the backend has both instances of version 2 ready.
    expect(platform.backend.instances('hello:2').filter((i) => i.state === 'ready')).toHaveLength(2);
    const listed = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'hello' }));
    expect(listed.ProvisionedConcurrencyConfigs?.map((c) => [c.FunctionArn, c.Status])).toEqual([[`${ARN}:hello:live`, 'READY']]);
    for (const q of ['1', '$LATEST']) {
      await expect(lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'hello', Qualifier: q, ProvisionedConcurrentExecutions: 1 }))).rejects.toMatchObject({
        name: 'InvalidParameterValueException',
      });
    }
    await lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'hello', Qualifier: 'live' }));
    expect(platform.catalog.get('hello')?.spec.aliases?.find((a) => a.name === 'live')?.minInstances).toBe(0);
  });

  it('event invoke config: none, Put, Get, Update (merging), List, Delete; destinations other than this gateway\'s functions refused', async () => {
    const none = { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } };
    await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello' }))).rejects.toMatchObject(none);
    const put = await lambda.send(
      new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 300, DestinationConfig: { OnFailure: { Destination: `${ARN}:existing` } } }),
    );
    expect(put).toMatchObject({ FunctionArn: `${ARN}:hello:$LATEST`, MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 300, DestinationConfig: { OnFailure: { Destination: `${ARN}:existing` } } });
    expect(put.LastModified).toBeInstanceOf(Date);
    expect(platform.catalog.get('hello')?.spec.async).toMatchObject({ maxRetries: 1, maxEventAgeSeconds: 300, onFailure: { function: 'existing' } });
    const updated = await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'hello', MaximumRetryAttempts: 0 }));
    expect(updated).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 300, DestinationConfig: { OnFailure: { Destination: `${ARN}:existing` } } });
    expect((await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello' }))).MaximumRetryAttempts).toBe(0);
    expect((await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'hello' }))).FunctionEventInvokeConfigs).toHaveLength(1);
    await expect(
      lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:local:000000000000:queue' } } })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live', MaximumRetryAttempts: 1 }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'hello' }));
    await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello' }))).rejects.toMatchObject(none);
  });

  it('function URL config: Get shows /fn/NAME/, Create asks for what it is, any other configuration and Delete are refused', async () => {
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'hello' }));
    expect(url).toMatchObject({ FunctionUrl: `${platform.url}/fn/hello/`, FunctionArn: `${ARN}:hello`, AuthType: 'NONE', InvokeMode: 'BUFFERED' });
    const res = await request(url.FunctionUrl ?? '');
    expect(JSON.parse(await res.body.text())).toMatchObject({ answer: 'B' });
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'hello', Qualifier: 'live' }))).FunctionUrl).toBe(`${platform.url}/fn/hello:live/`);
    const created = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'NONE' }));
    expect(created.$metadata.httpStatusCode).toBe(201);
    await expect(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'AWS_IAM' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'NONE', Cors: { AllowOrigins: ['*'] } }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'hello' }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });

  it('tags: TagResource, ListTags, UntagResource by the function\'s ARN', async () => {
    await lambda.send(new TagResourceCommand({ Resource: `${ARN}:hello`, Tags: { env: 'test', team: 'b' } }));
    expect((await lambda.send(new ListTagsCommand({ Resource: `${ARN}:hello` }))).Tags).toEqual({ team: 'b', env: 'test' });
    await lambda.send(new UntagResourceCommand({ Resource: `${ARN}:hello`, TagKeys: ['team', 'nope'] }));
    expect((await lambda.send(new ListTagsCommand({ Resource: `${ARN}:hello` }))).Tags).toEqual({ env: 'test' });
    // Tags stay with the function, out of its versions.
    expect(platform.catalog.versions('hello').every((v) => v.spec.snapshot.tags === undefined)).toBe(true);
    await expect(lambda.send(new ListTagsCommand({ Resource: `${ARN}:nope` }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('account settings, code signing (none) and event source mappings (none)', async () => {
    const settings = await lambda.send(new GetAccountSettingsCommand({}));
    expect(settings.AccountLimit).toMatchObject({ CodeSizeZipped: 52428800, CodeSizeUnzipped: 262144000 });
    expect(settings.AccountUsage?.FunctionCount).toBe(2);
    expect(await lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: 'hello' }))).toMatchObject({ CodeSigningConfigArn: '', FunctionName: 'hello' });
    expect((await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'hello' }))).EventSourceMappings).toEqual([]);
  });

  it('a body beyond the ZipFile limit: 413 RequestEntityTooLargeException naming the operation', async () => {
    const r = await raw(platform.url, 'PUT', '/2015-03-31/functions/hello/code', Buffer.alloc(CODE_BODY_LIMIT + 1, 0x41));
    expect([r.status, r.type, r.json?.message]).toEqual([413, 'RequestEntityTooLargeException', `Request must be smaller than ${ZIP_REQUEST_BYTES} bytes for the UpdateFunctionCode operation`]);
  });

  it.each([
    { what: 'GetFunction of an unknown function', method: 'GET', path: '/2015-03-31/functions/nope', status: 404, type: 'ResourceNotFoundException', message: `Function not found: ${ARN}:nope` },
    { what: 'an unknown version', method: 'GET', path: '/2015-03-31/functions/hello/configuration?Qualifier=9', status: 404, type: 'ResourceNotFoundException', message: `Function not found: ${ARN}:hello:9` },
    { what: 'UpdateFunctionConfiguration of an unknown function', method: 'PUT', path: '/2015-03-31/functions/nope/configuration', body: '{"Timeout":5}', status: 404, type: 'ResourceNotFoundException' },
    { what: 'a body that is not JSON', method: 'POST', path: '/2015-03-31/functions', body: '{nope', status: 400, type: 'InvalidRequestContentException' },
    { what: 'CreateFunction without FunctionName', method: 'POST', path: '/2015-03-31/functions', body: '{}', status: 400, type: 'InvalidParameterValueException', message: 'FunctionName is required' },
    { what: 'a name that is no DNS label', method: 'POST', path: '/2015-03-31/functions', body: JSON.stringify({ FunctionName: 'Hello_World', Runtime: 'python3.12', Handler: 'a.b', Code: { ZipFile: 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==' } }), status: 400, type: 'InvalidParameterValueException' },
    { what: 'a ZipFile that is not a ZIP', method: 'POST', path: '/2015-03-31/functions', body: JSON.stringify({ FunctionName: 'bad', Runtime: 'python3.12', Handler: 'a.b', Code: { ZipFile: Buffer.from('not a zip').toString('base64') } }), status: 400, type: 'InvalidParameterValueException' },
    { what: 'an S3 location', method: 'PUT', path: '/2015-03-31/functions/hello/code', body: '{"S3Bucket":"b","S3Key":"k"}', status: 400, type: 'InvalidParameterValueException' },
    { what: 'a negative reserved concurrency', method: 'PUT', path: '/2017-10-31/functions/hello/concurrency', body: '{"ReservedConcurrentExecutions":-1}', status: 400, type: 'InvalidParameterValueException' },
    { what: 'tags of a name that is no ARN', method: 'GET', path: '/2017-03-31/tags/hello', status: 400, type: 'InvalidParameterValueException' },
  ])('$what: $status $type', async ({ method, path, body, status, type, message }) => {
    const r = await raw(platform.url, method, path, body);
    expect([r.status, r.type]).toEqual([status, type]);
    if (message !== undefined) expect(r.json?.message).toBe(message);
  });

  it('DeleteFunction without a Qualifier deletes the function, its file and its versions: 404 after', async () => {
    expect((await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello' }))).$metadata.httpStatusCode).toBe(204);
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: 'hello' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: `Function not found: ${ARN}:hello` });
    await expect(lambda.send(new DeleteFunctionCommand({ FunctionName: 'hello' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await waitFor('hello to leave the catalog', () => platform.catalog.get('hello') === undefined && platform.catalog.versions('hello').length === 0);
    expect((await lambda.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName)).toEqual(['existing']);
  });
});
