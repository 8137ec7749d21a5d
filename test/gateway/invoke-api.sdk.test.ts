// The Invoke API as AWS's JavaScript SDK sees it, against the real embedded
// platform (real runtime processes behind it).
import { readFileSync } from 'node:fs';
import { InvokeCommand, LambdaClient, TooManyRequestsException, ResourceNotFoundException, RequestTooLargeException, InvalidParameterValueException } from '@aws-sdk/client-lambda';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { setHandVersions } from '../helpers/hand-versions.js';
import { node, py, startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const helloPython = (parse(readFileSync('examples/hello-python.yaml', 'utf8')) as { spec: FunctionSpecInput }).spec;
const decode = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('utf8');
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
/** Code that says which build it is and the version the runtime was told it runs. */
const build = (code: string) => py(`def handler(event, context):\n    return {"code": "${code}", "version": context.function_version}\n`);

describe('Invoke API through AWS SDK', () => {
  let platform: Platform;
  let lambda: LambdaClient;

  beforeAll(async () => {
    platform = await startPlatform({
      'hello-python': helloPython,
      echo: py('import json\ndef handler(event, context):\n    print("echoing", json.dumps(event))\n    return event\n'),
      boom: py('def handler(event, context):\n    raise ValueError("bad value")\n'),
      'handled-error': node('export const handler = (event, context, callback) => { callback(new Error("told you")); };\n'),
      closed: { ...py('def handler(e, c):\n    return 1\n'), reservedConcurrency: 0 },
      slow: { ...py('import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return "done"\n'), reservedConcurrency: 1 },
      versioned: build('latest'),
    });
    // Versions 1 and 2 with their own code, and aliases to them, set by hand (the version stores are tested on their own).
    setHandVersions(platform.catalog, 'versioned', { '1': build('one'), '2': build('two') }, [
      { name: 'live', version: '1' },
      { name: 'next', version: '2' },
      { name: 'dev', version: '$LATEST' },
    ]);
    lambda = new LambdaClient({ endpoint: platform.url, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await platform?.close();
  });

  it('runs the Lambda guide\'s handler synchronously', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'hello-python', Payload: json({ key: 'value' }) }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(decode(out.Payload)).toBe('{"statusCode": 200, "body": "\\"Hello, world!\\""}');
  });

  it('accepts an ARN as the function name', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:echo', Payload: json({ a: 1 }) }));
    expect(JSON.parse(decode(out.Payload))).toEqual({ a: 1 });
  });

  it('refuses an ARN of another region or account as Lambda does', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:eu-west-1:000000000000:function:echo' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
    });
    await expect(lambda.send(new InvokeCommand({ FunctionName: '123456789012:function:echo' }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
  });

  it('queues Event invocations and answers 202', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: json({ async: true }) }));
    expect(out.StatusCode).toBe(202);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers DryRun with 204 after its checks', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));
    expect(out.StatusCode).toBe(204);
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'nope', InvocationType: 'DryRun' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('returns the log tail', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'echo', LogType: 'Tail', Payload: json({ tail: 'me' }) }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toContain('echoing {"tail": "me"}');
    expect(log).toMatch(/REPORT RequestId: [0-9a-f-]{36}/);
  });

  it('reports an unhandled function error as Lambda does', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'boom' }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(JSON.parse(decode(out.Payload))).toMatchObject({ errorType: 'ValueError', errorMessage: 'bad value' });
  });

  it('reports a handled function error (callback(err)) as Handled', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'handled-error' }));
    expect(out.FunctionError).toBe('Handled');
    expect(JSON.parse(decode(out.Payload))).toMatchObject({ errorMessage: 'told you' });
  });

  it('answers 404 ResourceNotFoundException for an unknown function', async () => {
    const err = await lambda.send(new InvokeCommand({ FunctionName: 'missing' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceNotFoundException);
    expect((err as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((err as Error).message).toContain('function:missing');
  });

  it('answers 413 RequestTooLargeException for an oversized payload', async () => {
    const big = json({ blob: 'x'.repeat(6 * 1024 * 1024) });
    const err = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: big })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTooLargeException);
    const asyncErr = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: json({ blob: 'x'.repeat(1024 * 1024) }) })).catch((e: unknown) => e);
    expect(asyncErr).toBeInstanceOf(RequestTooLargeException);
  });

  it('throttles beyond reserved concurrency with 429 TooManyRequestsException', async () => {
    const err = await lambda.send(new InvokeCommand({ FunctionName: 'closed' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRequestsException);
    expect((err as TooManyRequestsException).Reason).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');

    const results = await Promise.allSettled([lambda.send(new InvokeCommand({ FunctionName: 'slow' })), lambda.send(new InvokeCommand({ FunctionName: 'slow' }))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(TooManyRequestsException);
  });

  describe('qualifiers', () => {
    const invoke = async (input: ConstructorParameters<typeof InvokeCommand>[0]) => {
      const out = await lambda.send(new InvokeCommand(input));
      return { executed: out.ExecutedVersion, body: JSON.parse(decode(out.Payload)) as { code: string; version: string } };
    };

    it.each<[string, ConstructorParameters<typeof InvokeCommand>[0], string, string]>([
      ['Qualifier set to an alias', { FunctionName: 'versioned', Qualifier: 'live' }, '1', 'one'],
      ['Qualifier set to a version number', { FunctionName: 'versioned', Qualifier: '2' }, '2', 'two'],
      ['Qualifier set to $LATEST', { FunctionName: 'versioned', Qualifier: '$LATEST' }, '$LATEST', 'latest'],
      ['no qualifier', { FunctionName: 'versioned' }, '$LATEST', 'latest'],
      ['an alias to $LATEST', { FunctionName: 'versioned', Qualifier: 'dev' }, '$LATEST', 'latest'],
      ['NAME:ALIAS', { FunctionName: 'versioned:next' }, '2', 'two'],
      ['NAME:N', { FunctionName: 'versioned:1' }, '1', 'one'],
      ['a qualified ARN (alias)', { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:versioned:live' }, '1', 'one'],
      ['a qualified ARN (version)', { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:versioned:2' }, '2', 'two'],
      ['a qualified partial ARN', { FunctionName: '000000000000:function:versioned:next' }, '2', 'two'],
      ['a qualified ARN and the same Qualifier', { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:versioned:live', Qualifier: 'live' }, '1', 'one'],
    ])('%s gets the right ExecutedVersion and code', async (_what, input, executed, code) => {
      const out = await invoke(input);
      expect(out.executed).toBe(executed);
      expect(out.body).toEqual({ code, version: executed });
    });

    it('answers an unknown Qualifier with 404 ResourceNotFoundException naming the qualified ARN', async () => {
      for (const input of [
        { FunctionName: 'versioned', Qualifier: 'nope' },
        { FunctionName: 'versioned', Qualifier: '9' },
        { FunctionName: 'versioned:nope' },
        { FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:versioned:9' },
      ]) {
        const err = await lambda.send(new InvokeCommand(input)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ResourceNotFoundException);
        expect((err as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
        const q = input.Qualifier ?? input.FunctionName.split(':').pop();
        expect((err as Error).message).toBe(`Function not found: arn:aws:lambda:us-east-1:000000000000:function:versioned:${q}`);
      }
    });

    it('refuses a Qualifier that differs from the one in the name', async () => {
      const err = await lambda.send(new InvokeCommand({ FunctionName: 'versioned:live', Qualifier: '2' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidParameterValueException);
    });

    it('checks a DryRun\'s qualifier', async () => {
      expect((await lambda.send(new InvokeCommand({ FunctionName: 'versioned', Qualifier: 'live', InvocationType: 'DryRun' }))).StatusCode).toBe(204);
      await expect(lambda.send(new InvokeCommand({ FunctionName: 'versioned', Qualifier: 'nope', InvocationType: 'DryRun' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    });

    it('queues an Event with its qualifier, refuses an unknown one, and records the version that ran', async () => {
      await expect(lambda.send(new InvokeCommand({ FunctionName: 'versioned', Qualifier: '7', InvocationType: 'Event' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:versioned:next', InvocationType: 'Event', Payload: json({}) }));
      expect(out.StatusCode).toBe(202);
      const id = out.$metadata.requestId ?? '';
      const rec = await waitFor('the event ran', async () => {
        const r = (await (await fetch(`${platform.url}/invocations/${id}`)).json()) as { status: string; qualifier?: string; executedVersion?: string; result?: { payload: string } };
        return r.status === 'succeeded' ? r : undefined;
      });
      expect(rec).toMatchObject({ qualifier: 'next', executedVersion: '2' });
      expect(JSON.parse(rec.result?.payload ?? '')).toEqual({ code: 'two', version: '2' });
    });
  });

  it('answers 400 InvalidRequestContentException for a payload that is not JSON', async () => {
    const res = await fetch(`${platform.url}/2015-03-31/functions/echo/invocations`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
