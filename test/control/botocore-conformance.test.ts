// Conformance with Lambda's own service model: botocore's service-2.json for
// Lambda (what the AWS CLI, boto3 and every other SDK are generated from).
// First the strict validator itself, table-tested on hand-made shapes; then a
// real embedded platform over a functions directory, called over HTTP with
// requests laid out as the model says (path, query, headers, body) for every
// operation Hearth implements, each answer validated against its operation's
// output shape, and each documented error case against its error shape.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import {
  buildRequest,
  findLambdaModel,
  loadModel,
  patternRegExp,
  validateError,
  validateOutput,
  validateValue,
  type HttpAnswer,
  type ServiceModel,
} from '../helpers/botocore-model.js';
import { startPlatform } from '../helpers/platform.js';
import { zipBytes } from '../packages/zip-bytes.js';

const MODEL_PATH = findLambdaModel();
if (MODEL_PATH === undefined && process.env.CI === 'true') throw new Error('botocore\'s Lambda model is required under CI=true (make test installs the AWS CLI into .cache/awscli)');

// ---- the validator, on shapes written by hand ----

const hand: ServiceModel = {
  metadata: { protocol: 'rest-json', apiVersion: 'test' },
  operations: {
    Get: { name: 'Get', http: { method: 'GET', requestUri: '/things/{Name}' }, input: { shape: 'GetIn' }, output: { shape: 'Thing' } },
    Make: { name: 'Make', http: { method: 'POST', requestUri: '/things', responseCode: 201 }, input: { shape: 'MakeIn' }, output: { shape: 'Thing' } },
    Drop: { name: 'Drop', http: { method: 'DELETE', requestUri: '/things/{Name}', responseCode: 204 }, input: { shape: 'GetIn' } },
    Headed: { name: 'Headed', http: { method: 'POST', requestUri: '/x/{Path+}' }, input: { shape: 'HeadedIn' }, output: { shape: 'HeadedOut' } },
  },
  shapes: {
    GetIn: { type: 'structure', required: ['Name'], members: { Name: { shape: 'Name', location: 'uri', locationName: 'Name' }, Qualifier: { shape: 'Name', location: 'querystring', locationName: 'Qualifier' } } },
    MakeIn: { type: 'structure', members: { Name: { shape: 'Name' }, Size: { shape: 'Size' }, Zip: { shape: 'Blob' }, Inner: { shape: 'ZipBox' } } },
    ZipBox: { type: 'structure', members: { Zip: { shape: 'Blob' } } },
    HeadedIn: { type: 'structure', payload: 'Payload', members: { Path: { shape: 'Name', location: 'uri', locationName: 'Path' }, Mode: { shape: 'Mode', location: 'header', locationName: 'X-Mode' }, Payload: { shape: 'Blob' } } },
    HeadedOut: { type: 'structure', payload: 'Payload', members: { Status: { shape: 'Size', location: 'statusCode' }, Count: { shape: 'Size', location: 'header', locationName: 'X-Count' }, Payload: { shape: 'Blob' } } },
    Thing: {
      type: 'structure',
      required: ['Name'],
      members: {
        Name: { shape: 'Name' },
        Size: { shape: 'Size' },
        Big: { shape: 'Long' },
        Mode: { shape: 'Mode' },
        On: { shape: 'Bool' },
        When: { shape: 'Stamp' },
        WhenIso: { shape: 'IsoStamp' },
        Weight: { shape: 'Weight' },
        Tags: { shape: 'Tags' },
        Parts: { shape: 'Parts' },
        Inner: { shape: 'Inner' },
      },
    },
    Inner: { type: 'structure', members: { Mode: { shape: 'Mode' } } },
    Name: { type: 'string', min: 1, max: 8, pattern: '[a-z]+' },
    Mode: { type: 'string', enum: ['On', 'Off'] },
    Size: { type: 'integer', min: 1, max: 10 },
    Long: { type: 'long' },
    Bool: { type: 'boolean' },
    Stamp: { type: 'timestamp' },
    IsoStamp: { type: 'timestamp', timestampFormat: 'iso8601' },
    Weight: { type: 'double', min: 0, max: 1 },
    Blob: { type: 'blob' },
    Tags: { type: 'map', key: { shape: 'Name' }, value: { shape: 'Mode' }, max: 2 },
    Parts: { type: 'list', member: { shape: 'Size' }, min: 1 },
    Oops: { type: 'structure', exception: true, error: { httpStatusCode: 409 }, members: { Type: { shape: 'Any' }, message: { shape: 'Any' } } },
    Throttle: { type: 'structure', exception: true, error: { httpStatusCode: 429 }, members: { Type: { shape: 'Any' }, message: { shape: 'Any' }, Reason: { shape: 'Mode' }, After: { shape: 'Any', location: 'header', locationName: 'Retry-After' } } },
    Any: { type: 'string' },
  },
};

const ok = (body: unknown, status = 200, headers: Record<string, string> = {}): HttpAnswer => ({ status, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('the botocore shape validator', () => {
  const cases: Array<[string, string, HttpAnswer, RegExp[]]> = [
    ['a full, valid answer', 'Get', ok({ Name: 'abc', Size: 3, Big: 2 ** 40, Mode: 'On', On: false, When: 1700000000.5, WhenIso: '2024-01-02T03:04:05.678+0000', Weight: 0.5, Tags: { ab: 'Off' }, Parts: [1, 2], Inner: { Mode: 'Off' } }), []],
    ['an unknown member (a typo)', 'Get', ok({ Name: 'abc', Sise: 3 }), [/\$: unknown member Sise/]],
    ['an unknown member deep down', 'Get', ok({ Name: 'abc', Inner: { Mood: 'On' } }), [/\$\.Inner: unknown member Mood/]],
    ['a missing required member', 'Get', ok({ Size: 3 }), [/missing required member Name/]],
    ['null instead of absence', 'Get', ok({ Name: 'abc', Mode: null }), [/\$\.Mode: null/]],
    ['a value outside the enum', 'Get', ok({ Name: 'abc', Mode: 'on' }), [/"on" is not one of On, Off/]],
    ['a string breaking the pattern', 'Get', ok({ Name: 'ABC' }), [/"ABC" does not match Name's pattern/]],
    ['the pattern is anchored (Java matches the whole value)', 'Get', ok({ Name: 'abc1' }), [/does not match/]],
    ['a string too long', 'Get', ok({ Name: 'abcdefghi' }), [/length 9 is above the maximum 8/]],
    ['a number as a string', 'Get', ok({ Name: 'abc', Size: '3' }), [/\$\.Size: expected an integer/]],
    ['a fraction for an integer', 'Get', ok({ Name: 'abc', Size: 1.5 }), [/expected an integer/]],
    ['an integer out of range', 'Get', ok({ Name: 'abc', Size: 11 }), [/value 11 is above the maximum 10/]],
    ['a string for a boolean', 'Get', ok({ Name: 'abc', On: 'true' }), [/expected a boolean/]],
    ['an ISO string where epoch seconds belong', 'Get', ok({ Name: 'abc', When: '2024-01-02T03:04:05Z' }), [/expected epoch seconds/]],
    ['epoch seconds where ISO 8601 belongs', 'Get', ok({ Name: 'abc', WhenIso: 1700000000 }), [/expected an ISO 8601 timestamp/]],
    ['a double out of range', 'Get', ok({ Name: 'abc', Weight: 1.5 }), [/above the maximum 1/]],
    ['a map key breaking its shape and a map value outside the enum', 'Get', ok({ Name: 'abc', Tags: { AB: 'x' } }), [/key "AB".*does not match/, /\["AB"\]: "x" is not one of/]],
    ['a map with too many entries', 'Get', ok({ Name: 'abc', Tags: { a: 'On', b: 'On', c: 'On' } }), [/entries 3 is above the maximum 2/]],
    ['a list too short and an object for a list', 'Get', ok({ Name: 'abc', Parts: [] }), [/length 0 is below the minimum 1/]],
    ['an object for a list', 'Get', ok({ Name: 'abc', Parts: { 0: 1 } }), [/expected an array/]],
    ['a bad list item', 'Get', ok({ Name: 'abc', Parts: [1, 20] }), [/\$\.Parts\[1\]: value 20 is above/]],
    ['a body that is not JSON', 'Get', ok('<html>'), [/not JSON/]],
    ['a status other than the operation\'s', 'Make', ok({ Name: 'abc' }, 200), [/status 200, the model says 201/]],
    ['the operation\'s own status', 'Make', ok({ Name: 'abc' }, 201), []],
    ['no output, no body', 'Drop', ok('', 204), []],
    ['no output but a body', 'Drop', ok({ Name: 'abc' }, 204), [/a body where Drop has no output/]],
    ['a blob payload is any bytes; a header member is parsed', 'Headed', ok('not json', 200, { 'x-count': '4' }), []],
    ['a statusCode member takes any 2xx', 'Headed', ok('', 202), []],
    ['but not an error status', 'Headed', ok('', 404), [/status 404, the model says 2xx/]],
    ['a header member with a bad value', 'Headed', ok('', 200, { 'x-count': 'four' }), [/header X-Count: header "four" is not an integer/]],
  ];
  it.each(cases)('%s', (_what, op, answer, expected) => {
    const problems = validateOutput(hand, op, answer);
    if (expected.length === 0) expect(problems).toEqual([]);
    else for (const re of expected) expect(problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(problems)}`).toBe(true);
    if (expected.length > 0) expect(problems).toHaveLength(expected.length);
  });

  const errors: Array<[string, string, HttpAnswer, number | undefined, RegExp[]]> = [
    ['a modelled error', 'Oops', ok({ Type: 'User', message: 'no' }, 409, { 'x-amzn-errortype': 'Oops' }), undefined, []],
    ['botocore reads Message for message', 'Oops', ok({ Type: 'User', Message: 'no' }, 409, { 'x-amzn-errortype': 'Oops:http://internal' }), undefined, []],
    ['the wrong code', 'Oops', ok({ message: 'no' }, 409, { 'x-amzn-errortype': 'Other' }), undefined, [/x-amzn-ErrorType "Other", expected Oops/]],
    ['the wrong status', 'Oops', ok({ message: 'no' }, 400, { 'x-amzn-errortype': 'Oops' }), undefined, [/status 400, the model says 409/]],
    ['an unknown body member', 'Oops', ok({ message: 'no', Reason: 'x' }, 409, { 'x-amzn-errortype': 'Oops' }), undefined, [/unknown member Reason/]],
    ['a header member sent in the body', 'Throttle', ok({ message: 'slow', Reason: 'On', After: '1' }, 429, { 'x-amzn-errortype': 'Throttle', 'retry-after': '1' }), undefined, [/unknown member After/]],
    ['an error common to AWS services', 'AccessDeniedException', ok({ Type: 'User', message: 'denied' }, 403, { 'x-amzn-errortype': 'AccessDeniedException' }), 403, []],
    ['an unmodelled error without a message', 'AccessDeniedException', ok({ Type: 'User' }, 403, { 'x-amzn-errortype': 'AccessDeniedException' }), 403, [/no message/]],
  ];
  it.each(errors)('error: %s', (_what, code, answer, status, expected) => {
    const problems = validateError(hand, code, answer, status);
    if (expected.length === 0) expect(problems).toEqual([]);
    else for (const re of expected) expect(problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(problems)}`).toBe(true);
  });

  it('lays a request out as the model says: uri, greedy uri, query, header, JSON body, raw payload', () => {
    expect(buildRequest(hand, 'Get', { Name: 'a b', Qualifier: '$LATEST' })).toEqual({ method: 'GET', path: '/things/a%20b?Qualifier=%24LATEST', headers: {} });
    expect(buildRequest(hand, 'Make', { Name: 'abc', Size: 2, Zip: Buffer.from('PK') })).toEqual({ method: 'POST', path: '/things', headers: { 'content-type': 'application/json' }, body: '{"Name":"abc","Size":2,"Zip":"UEs="}' });
    expect(buildRequest(hand, 'Make', { Name: 'abc', Inner: { Zip: Buffer.from('PK') } }).body).toBe('{"Name":"abc","Inner":{"Zip":"UEs="}}');
    expect(buildRequest(hand, 'Headed', { Path: 'a/b', Mode: 'On', Payload: '{"x":1}' })).toEqual({ method: 'POST', path: '/x/a/b', headers: { 'x-mode': 'On', 'content-type': 'application/json' }, body: '{"x":1}' });
    expect(() => buildRequest(hand, 'Get', { Nmae: 'x' })).toThrow(/has no member Nmae/);
    expect(() => buildRequest(hand, 'Get', {})).toThrow(/still has a path member/);
  });

  it('validates a single value too', () => {
    expect(validateValue(hand, 'Parts', [1, 2])).toEqual([]);
    expect(validateValue(hand, 'Nope', 1)).toEqual(['$: the model has no shape Nope']);
  });
});

// ---- Lambda's model ----

describe.skipIf(MODEL_PATH === undefined)(`botocore's Lambda model (${MODEL_PATH ?? 'not installed'})`, () => {
  it('is Lambda\'s rest-json model, and every pattern in it compiles', () => {
    const model = loadModel(MODEL_PATH ?? '');
    expect(model.metadata).toMatchObject({ protocol: 'rest-json', apiVersion: '2015-03-31' });
    const patterns = Object.values(model.shapes).flatMap((s) => (s.pattern === undefined ? [] : [s.pattern]));
    expect(patterns.length).toBeGreaterThan(20);
    for (const p of patterns) expect(() => patternRegExp(p), p).not.toThrow();
    // Lambda's FunctionConfiguration.LastModified is a string shape (ISO 8601 text), not a timestamp.
    expect(model.shapes[model.shapes.FunctionConfiguration?.members?.LastModified?.shape ?? '']?.type).toBe('string');
  });
});

// ---- a running platform, every implemented operation ----

const ADMIN_KEY = 'conformance-admin-key-0123456789';
const INVOKER_KEY = 'conformance-invoker-key-0123456789';
const FN = 'conform';
const ZIP_V1 = zipBytes([{ name: 'app.py', data: 'def handler(event, context):\n    return {"v": 1, "event": event}\n' }]);
const ZIP_V2 = zipBytes([{ name: 'app.py', data: 'def handler(event, context):\n    return {"v": 2, "event": event}\n' }]);
const ROLE = 'arn:aws:iam::000000000000:role/conform-runner';

/**
 * A function URL on this test's loopback gateway (http://127.0.0.1:PORT/fn/NAME/)
 * is shorter than the model's minimum of 40 characters, which Lambda's own
 * https://ID.lambda-url.REGION.on.aws/ always exceeds; a gateway behind a
 * real host name does too. Only that length is excused, not the pattern.
 */
const LOOPBACK_URL = { 'FunctionUrl: length': 'a loopback gateway\'s URL is shorter than the 40 characters of every Lambda URL' };

/**
 * The model's operations the gateway serves, from its OpenAPI paths: every
 * path under one of Lambda's API dates (/2015-03-31/…) matched with the
 * operations of that method whose requestUri has the same segments (a
 * {Param} matches any {param}). Query-distinguished operations (List=ALL)
 * share a route and are all counted.
 */
function servedOperations(model: ServiceModel, paths: Record<string, Record<string, unknown>>): { operations: Set<string>; unmatched: string[] } {
  const segments = (p: string) => p.split('?')[0]?.replace(/\/+$/, '').split('/').map((s) => (/^\{.*\}$/.test(s) ? '{}' : s)).join('/');
  const operations = new Set<string>();
  const unmatched: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    if (!/^\/20\d\d-\d\d-\d\d\//.test(path)) continue;
    for (const method of Object.keys(methods)) {
      const ops = Object.values(model.operations).filter((o) => o.http.method === method.toUpperCase() && segments(o.http.requestUri) === segments(path));
      if (ops.length === 0) unmatched.push(`${method.toUpperCase()} ${path}`);
      for (const o of ops) operations.add(o.name);
    }
  }
  return { operations, unmatched };
}

interface Step {
  /** The operation's name in the model. */
  op: string;
  input: Record<string, unknown>;
  /** What to wait for first (bounded), e.g. the function turning Active. */
  before?: () => Promise<void>;
  /** Exact problems that Lambda's own service shows too, with why. */
  lambdaToo?: Record<string, string>;
  then?: (json: Record<string, unknown> | undefined, answer: HttpAnswer) => void;
}

describe.skipIf(MODEL_PATH === undefined)('every implemented operation against botocore\'s output shapes, on the embedded platform', () => {
  const model = MODEL_PATH === undefined ? undefined : loadModel(MODEL_PATH);
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let auth: CredentialsFileAuth | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-conformance-'));
  const seen = new Map<string, HttpAnswer>();

  beforeAll(async () => {
    const file = join(dir, 'credentials.yaml');
    writeFileSync(
      file,
      stringify({
        callers: [
          { name: 'admin', apiKey: ADMIN_KEY, functions: ['*'], actions: ['lambda:*'] },
          { name: 'invoker', apiKey: INVOKER_KEY, functions: ['*'] },
        ],
      }),
    );
    auth = await authFromCredentialsFile(file);
    // One function from a file beside the API's, so ListFunctions has something it did not make.
    platform = await startPlatform({ 'from-file': { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } } } }, { auth: auth.options });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
    auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(op: string, input: Record<string, unknown>, key = ADMIN_KEY): Promise<HttpAnswer> {
    if (platform === undefined || model === undefined) throw new Error('no platform');
    const req = buildRequest(model, op, input);
    const res = await request(`${platform.url}${req.path}`, {
      method: req.method as 'GET',
      headers: { ...req.headers, authorization: `Bearer ${key}` },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    const headers: HttpAnswer['headers'] = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = v;
    return { status: res.statusCode, headers, body: await res.body.text() };
  }

  const json = (a: HttpAnswer): Record<string, unknown> | undefined => (a.body.trim() === '' ? undefined : (JSON.parse(a.body) as Record<string, unknown>));

  /** Polls GetFunctionConfiguration until pick(config) holds; bounded. */
  async function until(what: string, pick: (c: Record<string, unknown>) => boolean, input: Record<string, unknown> = { FunctionName: FN }, op = 'GetFunctionConfiguration'): Promise<void> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      const a = await call(op, input);
      last = `${a.status} ${a.body.slice(0, 400)}`;
      if (a.status !== 200) throw new Error(`${op} answered ${last} while waiting for ${what}`);
      if (pick(json(a) ?? {})) return;
      await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}; last answer ${last}`);
  }

  const updated = (c: Record<string, unknown>): boolean => c.State === 'Active' && c.LastUpdateStatus === 'Successful';

  const steps: Step[] = [
    { op: 'GetAccountSettings', input: {} },
    {
      op: 'CreateFunction',
      input: { FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 }, Description: 'conformance', Timeout: 9, MemorySize: 256, Environment: { Variables: { GREETING: 'hi' } }, Tags: { team: 'hearth' } },
      then: (j) => expect(j).toMatchObject({ FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', MemorySize: 256, Timeout: 9, Description: 'conformance', Environment: { Variables: { GREETING: 'hi' } }, PackageType: 'Zip' }),
    },
    { op: 'GetFunctionConfiguration', input: { FunctionName: FN }, before: () => until('the function to be Active', (c) => c.State === 'Active'), then: (j) => expect(j).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' }) },
    { op: 'GetFunction', input: { FunctionName: FN }, then: (j) => expect(j).toMatchObject({ Configuration: { FunctionName: FN }, Code: { Location: expect.any(String) }, Tags: { team: 'hearth' } }) },
    { op: 'ListFunctions', input: {}, then: (j) => expect((j?.Functions as Array<{ FunctionName: string }>).map((f) => f.FunctionName).sort()).toEqual([FN, 'from-file']) },
    { op: 'ListFunctions', input: { MaxItems: 1 }, then: (j) => expect(j?.NextMarker).toEqual(expect.any(String)) },
    { op: 'Invoke', input: { FunctionName: FN, Payload: '{"a":1}' }, then: (j) => expect(j).toEqual({ v: 1, event: { a: 1 } }) },
    { op: 'UpdateFunctionConfiguration', input: { FunctionName: FN, MemorySize: 512, Environment: { Variables: { GREETING: 'hello' } } }, then: (j) => expect(j).toMatchObject({ MemorySize: 512 }) },
    { op: 'UpdateFunctionCode', input: { FunctionName: FN, ZipFile: ZIP_V2, Publish: true }, before: () => until('the update to finish', updated), then: (j) => expect(j).toMatchObject({ FunctionName: FN, Version: '1' }) },
    { op: 'GetFunctionConfiguration', input: { FunctionName: FN, Qualifier: '1' }, before: () => until('version 1 to be Active', (c) => c.State === 'Active' && c.LastUpdateStatus === 'Successful', { FunctionName: FN, Qualifier: '1' }) },
    { op: 'UpdateFunctionConfiguration', input: { FunctionName: FN, Timeout: 10 }, before: () => until('the code update to finish', updated), then: (j) => expect(j).toMatchObject({ Timeout: 10 }) },
    { op: 'PublishVersion', input: { FunctionName: FN, Description: 'timeout 10' }, before: () => until('the update to finish', updated), then: (j) => expect(j).toMatchObject({ Version: '2', Timeout: 10 }) },
    { op: 'ListVersionsByFunction', input: { FunctionName: FN }, then: (j) => expect((j?.Versions as Array<{ Version: string }>).map((v) => v.Version)).toEqual(['$LATEST', '1', '2']) },
    { op: 'CreateAlias', input: { FunctionName: FN, Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } } },
    { op: 'GetAlias', input: { FunctionName: FN, Name: 'live' } },
    { op: 'UpdateAlias', input: { FunctionName: FN, Name: 'live', Description: 'callers' } },
    { op: 'ListAliases', input: { FunctionName: FN } },
    { op: 'Invoke', input: { FunctionName: FN, Qualifier: 'live', Payload: '{}' }, then: (_j, a) => expect(['1', '2']).toContain(a.headers['x-amz-executed-version']) },
    { op: 'PutFunctionConcurrency', input: { FunctionName: FN, ReservedConcurrentExecutions: 5 } },
    { op: 'GetFunctionConcurrency', input: { FunctionName: FN }, then: (j) => expect(j).toEqual({ ReservedConcurrentExecutions: 5 }) },
    { op: 'PutProvisionedConcurrencyConfig', input: { FunctionName: FN, Qualifier: 'live', ProvisionedConcurrentExecutions: 1 } },
    {
      op: 'GetProvisionedConcurrencyConfig',
      input: { FunctionName: FN, Qualifier: 'live' },
      before: () => until('provisioned concurrency READY', (c) => c.Status === 'READY', { FunctionName: FN, Qualifier: 'live' }, 'GetProvisionedConcurrencyConfig'),
      then: (j) => expect(j).toMatchObject({ Status: 'READY', RequestedProvisionedConcurrentExecutions: 1 }),
    },
    { op: 'ListProvisionedConcurrencyConfigs', input: { FunctionName: FN } },
    { op: 'DeleteProvisionedConcurrencyConfig', input: { FunctionName: FN, Qualifier: 'live' } },
    { op: 'PutFunctionEventInvokeConfig', input: { FunctionName: FN, MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 120 } },
    { op: 'UpdateFunctionEventInvokeConfig', input: { FunctionName: FN, MaximumRetryAttempts: 0 } },
    { op: 'GetFunctionEventInvokeConfig', input: { FunctionName: FN }, then: (j) => expect(j).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 120 }) },
    { op: 'ListFunctionEventInvokeConfigs', input: { FunctionName: FN }, then: (j) => expect((j?.FunctionEventInvokeConfigs as unknown[]).length).toBe(1) },
    { op: 'DeleteFunctionEventInvokeConfig', input: { FunctionName: FN } },
    { op: 'GetFunctionUrlConfig', input: { FunctionName: FN }, lambdaToo: LOOPBACK_URL },
    { op: 'CreateFunctionUrlConfig', input: { FunctionName: FN, Qualifier: 'live', AuthType: 'AWS_IAM' }, lambdaToo: LOOPBACK_URL },
    { op: 'UpdateFunctionUrlConfig', input: { FunctionName: FN, AuthType: 'AWS_IAM' }, lambdaToo: LOOPBACK_URL },
    { op: 'ListFunctionUrlConfigs', input: { FunctionName: FN }, lambdaToo: LOOPBACK_URL, then: (j) => expect((j?.FunctionUrlConfigs as unknown[]).length).toBe(2) },
    { op: 'GetFunction', input: { FunctionName: FN, Qualifier: '1' }, then: (j) => expect(j).toMatchObject({ Configuration: { Version: '1' } }) },
    { op: 'TagResource', input: { Resource: 'ARN', Tags: { stage: 'test' } } },
    { op: 'ListTags', input: { Resource: 'ARN' }, then: (j) => expect(j).toEqual({ Tags: { team: 'hearth', stage: 'test' } }) },
    { op: 'UntagResource', input: { Resource: 'ARN', TagKeys: ['stage'] } },
    {
      op: 'GetFunctionCodeSigningConfig',
      input: { FunctionName: FN },
      lambdaToo: { '$.CodeSigningConfigArn: "" does not match': 'Lambda answers CodeSigningConfigArn "" for a function without a code signing configuration, below the model\'s own pattern' },
    },
    { op: 'ListEventSourceMappings', input: {}, then: (j) => expect(j).toEqual({ EventSourceMappings: [] }) },
    { op: 'DeleteFunctionConcurrency', input: { FunctionName: FN } },
    { op: 'DeleteAlias', input: { FunctionName: FN, Name: 'live' } },
    { op: 'DeleteFunction', input: { FunctionName: FN, Qualifier: '2' } },
    { op: 'DeleteFunction', input: { FunctionName: FN } },
  ];

  it('the steps and error cases call every operation the gateway serves (read from its own route table, /openapi.json), and only those', async () => {
    if (model === undefined || platform === undefined) throw new Error('no platform');
    const doc = (await (await fetch(`${platform.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const served = servedOperations(model, doc.paths);
    expect(served.unmatched, 'Lambda-style routes that are no operation of the model').toEqual([]);
    const called = new Set([...steps.map((s) => s.op), ...errorCases.map((c) => c.op)]);
    expect([...served.operations].filter((op) => !called.has(op)).sort(), 'served but never called here').toEqual([]);
    expect([...called].filter((op) => !served.operations.has(op)).sort(), 'called here but not served').toEqual([]);
  });

  steps.forEach((step, i) => {
    it(`${i + 1}. ${step.op} ${JSON.stringify(step.input, (k, v: unknown) => (k === 'ZipFile' ? '<zip>' : v)).slice(0, 100)}`, async () => {
      if (model === undefined || platform === undefined) throw new Error('no platform');
      await step.before?.();
      const arn = platform.dispatcher.arn(FN);
      const input = Object.fromEntries(Object.entries(step.input).map(([k, v]) => [k, v === 'ARN' ? arn : v]));
      const answer = await call(step.op, input);
      seen.set(step.op, answer);
      const problems = validateOutput(model, step.op, answer);
      const known = Object.keys(step.lambdaToo ?? {});
      const left = problems.filter((p) => !known.some((k) => p.includes(k)));
      expect(left, `${step.op} answered ${answer.status} ${answer.body.slice(0, 600)}`).toEqual([]);
      step.then?.(json(answer), answer);
    }, 90_000);
  });

  // ---- the error cases Lambda documents ----

  const errorCases: Array<{ what: string; op: string; input: Record<string, unknown>; code: string; status: number; key?: string; before?: () => Promise<void>; message?: RegExp }> = [
    { what: 'an unknown function', op: 'GetFunction', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404, message: /^Function not found: arn:aws:lambda:.*:function:no-such-function$/ },
    { what: 'an unknown function\'s configuration', op: 'GetFunctionConfiguration', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'deleting an unknown function', op: 'DeleteFunction', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'a function that exists already', op: 'CreateFunction', input: { FunctionName: 'from-file', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, code: 'ResourceConflictException', status: 409, message: /from-file/ },
    { what: 'a runtime Lambda no longer takes', op: 'CreateFunction', input: { FunctionName: 'old-go', Runtime: 'go1.x', Handler: 'main', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, code: 'InvalidParameterValueException', status: 400, message: /runtime/i },
    { what: 'provisioned concurrency on $LATEST', op: 'PutProvisionedConcurrencyConfig', input: { FunctionName: 'from-file', Qualifier: '$LATEST', ProvisionedConcurrentExecutions: 1 }, code: 'InvalidParameterValueException', status: 400 },
    { what: 'a stale RevisionId', op: 'UpdateFunctionConfiguration', input: { FunctionName: 'from-file', Description: 'x', RevisionId: '00000000-0000-0000-0000-000000000000' }, code: 'PreconditionFailedException', status: 412 },
    { what: 'removing a function\'s URL alone', op: 'DeleteFunctionUrlConfig', input: { FunctionName: 'from-file' }, code: 'InvalidParameterValueException', status: 400 },
    { what: 'a caller without management actions', op: 'GetFunction', input: { FunctionName: 'from-file' }, key: INVOKER_KEY, code: 'AccessDeniedException', status: 403, message: /^User: invoker is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:.*:function:from-file$/ },
    { what: 'a caller without management actions creating', op: 'CreateFunction', input: { FunctionName: 'sneaky', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, key: INVOKER_KEY, code: 'AccessDeniedException', status: 403 },
    {
      what: 'an invocation beyond a reserved concurrency of 0',
      op: 'Invoke',
      input: { FunctionName: 'from-file', Payload: '{}' },
      code: 'TooManyRequestsException',
      status: 429,
      before: async () => {
        const a = await call('PutFunctionConcurrency', { FunctionName: 'from-file', ReservedConcurrentExecutions: 0 });
        expect(a.status, a.body).toBe(200);
      },
    },
  ];

  describe('error cases', () => {
    it.each(errorCases)('$what: $status $code', async ({ op, input, code, status, key, before, message }) => {
      if (model === undefined) throw new Error('no model');
      await before?.();
      const answer = await call(op, input, key);
      expect(answer.status, answer.body).toBe(status);
      // The code is one the operation declares (AccessDeniedException is common to every AWS service, outside the model).
      if (code !== 'AccessDeniedException') expect(model.operations[op]?.errors?.map((e) => e.shape)).toContain(code);
      expect(validateError(model, code, answer, status), answer.body).toEqual([]);
      const body = JSON.parse(answer.body) as { message?: string; Message?: string };
      if (message) expect(body.message ?? body.Message).toMatch(message);
    }, 30_000);
  });

  it('nothing was made by a refused request', async () => {
    expect((await call('GetFunction', { FunctionName: 'sneaky' })).status).toBe(404);
    expect((await call('GetFunction', { FunctionName: 'old-go' })).status).toBe(404);
    expect(seen.size).toBeGreaterThan(0);
  });
});
