// A function URL's InvokeMode through AWS's JavaScript SDK on the embedded
// platform: Create/UpdateFunctionUrlConfig write it through the
// FunctionStore (spec.url.invokeMode of the function, url.invokeMode of an
// alias) into the functions directory, Get/List report it, the platform's
// catalog serves it, /fn answers in it, and what else the URL cannot have is
// still refused.
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateFunctionUrlConfigCommand,
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
  ListFunctionUrlConfigsCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function';
/** Writes 'a', waits 500 ms, writes 'b'. */
const TICK = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  responseStream.write('a');
  await new Promise((r) => setTimeout(r, 500));
  responseStream.write('b');
  responseStream.end();
});
`;

/** GET url: the body, whether it came chunked, and how long before the end its first bytes arrived. */
function timedGet(url: string): Promise<{ status: number; body: string; chunked: boolean; firstBeforeEndMs: number }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const parts: Buffer[] = [];
      let first = 0;
      res.on('data', (d: Buffer) => {
        if (parts.length === 0) first = performance.now();
        parts.push(d);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), chunked: res.headers['transfer-encoding'] === 'chunked', firstBeforeEndMs: performance.now() - first }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('function URL InvokeMode through the AWS SDK', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let lambda: LambdaClient;
  const modeOf = async (qualifier?: string) => (await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web', ...(qualifier ? { Qualifier: qualifier } : {}) }))).InvokeMode;
  const fileText = () => readFileSync(join(platform.dir, 'web.yaml'), 'utf8');

  beforeAll(async () => {
    platform = await startPlatform({ web: node('export const handler = async () => ({ statusCode: 200, body: "hi" });\n'), tick: { ...node(TICK), timeoutSeconds: 10 } });
    lambda = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    await lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
  }, 120_000);
  afterAll(async () => {
    lambda?.destroy();
    await platform?.close();
  });

  it('BUFFERED until told otherwise, for the function and its aliases', async () => {
    expect(await modeOf()).toBe('BUFFERED');
    expect(await modeOf('live')).toBe('BUFFERED');
  });

  it("UpdateFunctionUrlConfig InvokeMode RESPONSE_STREAM writes the function's spec.url; Get, List and the catalog see it", async () => {
    const updated = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'RESPONSE_STREAM' }));
    expect(updated).toMatchObject({ FunctionUrl: `${platform.url}/fn/web/`, FunctionArn: `${ARN}:web`, AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' });
    expect(await modeOf()).toBe('RESPONSE_STREAM');
    // Through the one store, into the Function's own file.
    expect((await platform.store.getFunction('web')).fn.spec.url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
    expect(fileText()).toMatch(/url:\s*\n\s+invokeMode: RESPONSE_STREAM/);
    await waitFor('the catalog serves the new mode', async () => (platform.catalog.get('web')?.spec.url?.invokeMode === 'RESPONSE_STREAM' ? true : undefined));
    // The alias's URL is its own.
    expect(await modeOf('live')).toBe('BUFFERED');
    const list = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web' }));
    expect(list.FunctionUrlConfigs?.map((c) => [c.FunctionArn, c.InvokeMode])).toEqual([
      [`${ARN}:web`, 'RESPONSE_STREAM'],
      [`${ARN}:web:live`, 'BUFFERED'],
    ]);
  });

  it("an alias's InvokeMode is written to its url, and UpdateAlias keeps it", async () => {
    const updated = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', InvokeMode: 'RESPONSE_STREAM' }));
    expect(updated).toMatchObject({ FunctionUrl: `${platform.url}/fn/web:live/`, FunctionArn: `${ARN}:web:live`, InvokeMode: 'RESPONSE_STREAM' });
    expect((await platform.store.listAliases('web')).find((a) => a.name === 'live')?.url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
    await lambda.send(new UpdateAliasCommand({ FunctionName: 'web', Name: 'live', Description: 'the live one' }));
    expect(await modeOf('live')).toBe('RESPONSE_STREAM');
    await waitFor('the catalog serves the alias mode', async () => (platform.catalog.get('web')?.spec.aliases?.find((a) => a.name === 'live')?.url?.invokeMode === 'RESPONSE_STREAM' ? true : undefined));
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', InvokeMode: 'BUFFERED' }));
    expect(await modeOf('live')).toBe('BUFFERED');
    expect(await modeOf()).toBe('RESPONSE_STREAM');
  });

  it('an Update that names no InvokeMode, or the one the URL has, writes nothing', async () => {
    const before = (await lambda.send(new GetFunctionCommand({ FunctionName: 'web' }))).Configuration?.RevisionId;
    expect((await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }))).InvokeMode).toBe('RESPONSE_STREAM');
    expect((await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'RESPONSE_STREAM' }))).InvokeMode).toBe('RESPONSE_STREAM');
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'web' }))).Configuration?.RevisionId).toBe(before);
  });

  it('CreateFunctionUrlConfig sets the InvokeMode it names, BUFFERED when it names none', async () => {
    const buffered = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }));
    expect(buffered.$metadata.httpStatusCode).toBe(201);
    expect(buffered.InvokeMode).toBe('BUFFERED');
    expect(await modeOf()).toBe('BUFFERED');
    const streaming = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    expect(streaming.InvokeMode).toBe('RESPONSE_STREAM');
    expect(await modeOf()).toBe('RESPONSE_STREAM');
  });

  it('/fn answers in the mode the API set: buffered whole, then streamed as written, for the function and an alias apart', async () => {
    await lambda.send(new PublishVersionCommand({ FunctionName: 'tick' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'tick', Name: 'live', FunctionVersion: '1' }));
    const buffered = await timedGet(`${platform.url}/fn/tick/`);
    expect([buffered.status, buffered.body, buffered.chunked]).toEqual([200, 'ab', false]);

    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'tick', InvokeMode: 'RESPONSE_STREAM' }));
    await waitFor('the catalog serves the new mode', async () => (platform.catalog.get('tick')?.spec.url?.invokeMode === 'RESPONSE_STREAM' ? true : undefined));
    const streamed = await timedGet(`${platform.url}/fn/tick/`);
    expect([streamed.status, streamed.body, streamed.chunked]).toEqual([200, 'ab', true]);
    expect(streamed.firstBeforeEndMs).toBeGreaterThanOrEqual(400);
    // The alias's URL is still BUFFERED until it is set too.
    expect((await timedGet(`${platform.url}/fn/tick:live/`)).chunked).toBe(false);
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'tick', Qualifier: 'live', InvokeMode: 'RESPONSE_STREAM' }));
    await waitFor('the catalog serves the alias mode', async () => (platform.catalog.get('tick')?.spec.aliases?.[0]?.url?.invokeMode === 'RESPONSE_STREAM' ? true : undefined));
    const alias = await timedGet(`${platform.url}/fn/tick:live/`);
    expect([alias.body, alias.chunked]).toEqual(['ab', true]);
    expect(alias.firstBeforeEndMs).toBeGreaterThanOrEqual(400);
  });

  it.each([
    ['an InvokeMode Lambda does not have', { InvokeMode: 'STREAMING' }],
    ['the other AuthType', { AuthType: 'AWS_IAM', InvokeMode: 'BUFFERED' }],
    ['CORS', { InvokeMode: 'BUFFERED', Cors: { AllowOrigins: ['*'] } }],
  ])('%s: 400, nothing written', async (_what, input) => {
    const before = await modeOf();
    await expect(lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', ...input } as never))).rejects.toMatchObject({ name: 'InvalidParameterValueException', $metadata: { httpStatusCode: 400 } });
    expect(await modeOf()).toBe(before);
  });

  it('an alias the function does not have: 404', async () => {
    await expect(lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'nope', InvokeMode: 'RESPONSE_STREAM' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
