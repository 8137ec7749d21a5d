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
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import { buildRequest, findLambdaModel, loadModel, patternRegExp, validateError, validateOutput, validateValue, type HttpAnswer, type ServiceModel } from '../helpers/botocore-model.js';
import { conformanceWalk } from '../helpers/conformance-walk.js';
import { startPlatform } from '../helpers/platform.js';

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

describe.skipIf(MODEL_PATH === undefined)('every operation the gateway serves against botocore\'s output shapes, and Lambda\'s error cases, on the embedded platform', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let auth: CredentialsFileAuth | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-conformance-'));

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

  if (MODEL_PATH !== undefined) {
    conformanceWalk(loadModel(MODEL_PATH), {
      url: () => platform?.url ?? 'http://127.0.0.1:1',
      adminKey: ADMIN_KEY,
      invokerKey: INVOKER_KEY,
      invokerName: 'invoker',
      existing: 'from-file',
      fn: 'conform',
      waitMs: 60_000,
      loopback: true,
    });
  }
});
