// The conformance walk: every operation the gateway serves, called over HTTP
// as the model lays its request out, each answer validated against
// botocore's output shape for it, then each documented error case against
// its error shape. Registered into the caller's describe block, so the
// embedded platform (test/control/botocore-conformance.test.ts) and the
// process-node cluster (test/e2e/control-api.test.ts) run the same walk.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { expect, it } from 'vitest';
import { decodeMessages, EVENT_STREAM_CONTENT_TYPE } from '../../src/streaming/event-stream.js';
import { zipBytes } from '../packages/zip-bytes.js';
import { buildRequest, validateError, validateOutput, type HttpAnswer, type ServiceModel } from './botocore-model.js';

export interface WalkTarget {
  /** The gateway's origin, once it runs. */
  url: () => string;
  /** An API key allowed lambda:* on every function. */
  adminKey: string;
  /** An API key with the default actions (invoke only), and its caller's name. */
  invokerKey: string;
  invokerName: string;
  /** A function made outside the API (a file, kubectl apply), left to the error cases; its reserved concurrency ends at 0. */
  existing: string;
  /** The function the walk creates and deletes. */
  fn: string;
  /** Bound of each wait for a state (Active, READY). */
  waitMs: number;
  /** The gateway is on a loopback address: its function URLs are shorter than the model's minimum. */
  loopback: boolean;
}

export interface Step {
  /** The operation's name in the model. */
  op: string;
  input: Record<string, unknown>;
  /** What to wait for first (bounded), e.g. the function turning Active. */
  before?: () => Promise<void>;
  /** Exact problems that Lambda's own service shows too, with why. */
  lambdaToo?: Record<string, string>;
  /** Members Hearth answers beside Lambda's (documented in the README), with why: the validator's only excused problems besides lambdaToo. */
  hearthAdds?: Record<string, string>;
  then?: (json: Record<string, unknown> | undefined, answer: HttpAnswer) => void;
}

export interface ErrorCase {
  what: string;
  op: string;
  input: Record<string, unknown>;
  code: string;
  status: number;
  key?: string;
  before?: () => Promise<void>;
  message?: RegExp;
}

const ZIP_V1 = zipBytes([{ name: 'app.py', data: 'def handler(event, context):\n    return {"v": 1, "event": event}\n' }]);
const ZIP_V2 = zipBytes([{ name: 'app.py', data: 'def handler(event, context):\n    return {"v": 2, "event": event}\n' }]);
const ROLE_OF = (fn: string): string => `arn:aws:iam::000000000000:role/${fn}`;

/**
 * The model's operations the gateway serves, from its OpenAPI paths: every
 * path under one of Lambda's API dates (/2015-03-31/…) matched with the
 * operations of that method whose requestUri has the same segments (a
 * {Param} matches any {param}). Query-distinguished operations (List=ALL)
 * share a route and are all counted.
 */
export function servedOperations(model: ServiceModel, paths: Record<string, Record<string, unknown>>): { operations: Set<string>; unmatched: string[] } {
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

/** Registers the walk's tests in the current describe block; they run in order. */
export function conformanceWalk(model: ServiceModel, target: WalkTarget): void {
  const FN = target.fn;
  // Its own name: the ServiceAccount made for the function (a role naming another must exist as one).
  const ROLE = ROLE_OF(FN);
  /** The function's ARN as the gateway gives it, for the tag operations. */
  const functionArn = async (): Promise<string> => String(json(await call('GetFunctionConfiguration', { FunctionName: FN }))?.FunctionArn);

  /**
   * A function URL on a loopback gateway (http://127.0.0.1:PORT/fn/NAME/) is
   * shorter than the model's minimum of 40 characters, which Lambda's own
   * https://ID.lambda-url.REGION.on.aws/ always exceeds, and a gateway behind
   * a real host name does too. Only that length is excused, not the pattern.
   */
  const urlExcuse = (): Record<string, string> => (target.loopback ? { 'FunctionUrl: length': 'a loopback gateway\'s URL is shorter than the 40 characters of every Lambda URL' } : {});

  async function call(op: string, input: Record<string, unknown>, key = target.adminKey): Promise<HttpAnswer> {
    const req = buildRequest(model, op, input);
    const res = await request(`${target.url()}${req.path}`, {
      method: req.method as 'GET',
      headers: { ...req.headers, authorization: `Bearer ${key}` },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    const headers: HttpAnswer['headers'] = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = v;
    const raw = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers, body: raw.toString('utf8'), raw };
  }

  // An event stream is no JSON: its steps read the events from the answer itself.
  const json = (a: HttpAnswer): Record<string, unknown> | undefined =>
    a.body.trim() === '' || String(a.headers['content-type']).startsWith(EVENT_STREAM_CONTENT_TYPE) ? undefined : (JSON.parse(a.body) as Record<string, unknown>);
  /** The events of an InvokeWithResponseStream answer: type and payload text. */
  const events = (a: HttpAnswer): Array<{ type: string; payload: string }> =>
    decodeMessages(a.raw ?? Buffer.alloc(0)).messages.map((m) => ({ type: String(m.headers[':event-type']), payload: m.payload.toString('utf8') }));

  /** Polls an operation (GetFunctionConfiguration by default) until pick(answer) holds; bounded. */
  async function until(what: string, pick: (c: Record<string, unknown>) => boolean, input: Record<string, unknown> = { FunctionName: FN }, op = 'GetFunctionConfiguration'): Promise<void> {
    const deadline = Date.now() + target.waitMs;
    let last = '';
    while (Date.now() < deadline) {
      const a = await call(op, input);
      last = `${a.status} ${a.body.slice(0, 400)}`;
      if (a.status !== 200) throw new Error(`${op} answered ${last} while waiting for ${what}`);
      if (pick(json(a) ?? {})) return;
      await sleep(250);
    }
    throw new Error(`timed out after ${target.waitMs} ms waiting for ${what}; last answer ${last}`);
  }

  const updated = (c: Record<string, unknown>): boolean => c.State === 'Active' && c.LastUpdateStatus === 'Successful';

  // Event-source mappings: a Kafka mapping on a port nothing listens on (no broker needed: its result shows the PROBLEM), named by the UUID Create answers.
  let esmUuid = '';
  let conflictUuid = '';
  const KAFKA_SOURCE = { SelfManagedEventSource: { Endpoints: { KAFKA_BOOTSTRAP_SERVERS: ['127.0.0.1:9'] } }, Topics: ['conformance'] };
  const lagAdds = { 'unknown member Lag (': 'Hearth adds the lag per partition (README: Event sources)', 'unknown member TotalLag (': 'and over all partitions' };
  const esm = (pick: (c: Record<string, unknown>) => boolean, what: string) => () => until(what, pick, { UUID: esmUuid }, 'GetEventSourceMapping');

  const steps: Step[] = [
    { op: 'GetAccountSettings', input: {} },
    {
      op: 'CreateFunction',
      input: { FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 }, Description: 'conformance', Timeout: 9, MemorySize: 256, Environment: { Variables: { GREETING: 'hi' } }, Tags: { team: 'hearth' } },
      then: (j) => expect(j).toMatchObject({ FunctionName: FN, Runtime: 'python3.12', Handler: 'app.handler', MemorySize: 256, Timeout: 9, Description: 'conformance', Environment: { Variables: { GREETING: 'hi' } }, PackageType: 'Zip' }),
    },
    { op: 'GetFunctionConfiguration', input: { FunctionName: FN }, before: () => until('the function to be Active', (c) => c.State === 'Active'), then: (j) => expect(j).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' }) },
    { op: 'GetFunction', input: { FunctionName: FN }, then: (j) => expect(j).toMatchObject({ Configuration: { FunctionName: FN }, Code: { Location: expect.any(String) }, Tags: { team: 'hearth' } }) },
    { op: 'ListFunctions', input: {}, then: (j) => expect((j?.Functions as Array<{ FunctionName: string }>).map((f) => f.FunctionName)).toEqual(expect.arrayContaining([FN, target.existing])) },
    { op: 'ListFunctions', input: { MaxItems: 1 }, then: (j) => expect(j?.NextMarker).toEqual(expect.any(String)) },
    { op: 'Invoke', input: { FunctionName: FN, Payload: '{"a":1}' }, then: (j) => expect(j).toEqual({ v: 1, event: { a: 1 } }) },
    { op: 'Invoke', input: { FunctionName: FN, LogType: 'Tail', Payload: '{}' }, then: (_j, a) => expect(Buffer.from(String(a.headers['x-amz-log-result']), 'base64').toString()).toMatch(/REPORT RequestId/) },
    { op: 'Invoke', input: { FunctionName: FN, InvocationType: 'Event', Payload: '{}' }, then: (_j, a) => expect(a.status).toBe(202) },
    { op: 'Invoke', input: { FunctionName: FN, InvocationType: 'DryRun' }, then: (_j, a) => expect(a.status).toBe(204) },
    // A function that does not stream answers in one PayloadChunk, then InvokeComplete without an error.
    {
      op: 'InvokeWithResponseStream',
      input: { FunctionName: FN, Payload: '{"a":1}' },
      then: (_j, a) => {
        const e = events(a);
        expect(e.map((x) => x.type)).toEqual(['PayloadChunk', 'InvokeComplete']);
        expect(JSON.parse(e[0]?.payload ?? '')).toEqual({ v: 1, event: { a: 1 } });
        expect(JSON.parse(e[1]?.payload ?? '')).toEqual({});
      },
    },
    { op: 'UpdateFunctionConfiguration', input: { FunctionName: FN, MemorySize: 512, Environment: { Variables: { GREETING: 'hello' } } }, then: (j) => expect(j).toMatchObject({ MemorySize: 512 }) },
    { op: 'UpdateFunctionCode', input: { FunctionName: FN, ZipFile: ZIP_V2, Publish: true }, before: () => until('the update to finish', updated), then: (j) => expect(j).toMatchObject({ FunctionName: FN, Version: '1' }) },
    { op: 'GetFunctionConfiguration', input: { FunctionName: FN, Qualifier: '1' }, before: () => until('version 1 to be Active', (c) => c.State === 'Active' && c.LastUpdateStatus === 'Successful', { FunctionName: FN, Qualifier: '1' }) },
    { op: 'UpdateFunctionConfiguration', input: { FunctionName: FN, Timeout: 10 }, before: () => until('the code update to finish', updated), then: (j) => expect(j).toMatchObject({ Timeout: 10 }) },
    // Lambda's advanced logging controls: LoggingConfig in, and back with the defaults filled in.
    {
      op: 'UpdateFunctionConfiguration',
      input: { FunctionName: FN, LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'WARN' } },
      before: () => until('the timeout update to finish', updated),
      then: (j) => expect(j?.LoggingConfig).toEqual({ LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'INFO', LogGroup: `/aws/lambda/${FN}` }),
    },
    { op: 'PublishVersion', input: { FunctionName: FN, Description: 'timeout 10' }, before: () => until('the update to finish', updated), then: (j) => expect(j).toMatchObject({ Version: '2', Timeout: 10 }) },
    { op: 'ListVersionsByFunction', input: { FunctionName: FN }, then: (j) => expect((j?.Versions as Array<{ Version: string }>).map((v) => v.Version)).toEqual(['$LATEST', '1', '2']) },
    { op: 'ListVersionsByFunction', input: { FunctionName: FN, MaxItems: 2 }, then: (j) => expect(j?.NextMarker).toEqual(expect.any(String)) },
    { op: 'ListFunctions', input: { FunctionVersion: 'ALL' }, then: (j) => expect((j?.Functions as Array<{ FunctionName: string; Version: string }>).filter((f) => f.FunctionName === FN).map((f) => f.Version)).toEqual(['$LATEST', '1', '2']) },
    { op: 'CreateAlias', input: { FunctionName: FN, Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.1 } } } },
    { op: 'GetAlias', input: { FunctionName: FN, Name: 'live' } },
    { op: 'UpdateAlias', input: { FunctionName: FN, Name: 'live', Description: 'callers' } },
    { op: 'ListAliases', input: { FunctionName: FN } },
    { op: 'ListAliases', input: { FunctionName: FN, FunctionVersion: '1' }, then: (j) => expect((j?.Aliases as Array<{ Name: string }>).map((a) => a.Name)).toEqual(['live']) },
    { op: 'GetFunctionConfiguration', input: { FunctionName: FN, Qualifier: 'live' }, then: (j) => expect(j).toMatchObject({ Version: '1' }) },
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
    { op: 'GetFunctionUrlConfig', input: { FunctionName: FN }, lambdaToo: urlExcuse() },
    { op: 'CreateFunctionUrlConfig', input: { FunctionName: FN, Qualifier: 'live', AuthType: 'AWS_IAM' }, lambdaToo: urlExcuse() },
    { op: 'UpdateFunctionUrlConfig', input: { FunctionName: FN, AuthType: 'AWS_IAM' }, lambdaToo: urlExcuse() },
    { op: 'ListFunctionUrlConfigs', input: { FunctionName: FN }, lambdaToo: urlExcuse(), then: (j) => expect((j?.FunctionUrlConfigs as unknown[]).length).toBe(2) },
    { op: 'GetFunction', input: { FunctionName: FN, Qualifier: '1' }, then: (j) => expect(j).toMatchObject({ Configuration: { Version: '1' } }) },
    { op: 'TagResource', input: { Resource: 'ARN', Tags: { stage: 'test' } } },
    { op: 'ListTags', input: { Resource: 'ARN' }, then: (j) => expect(j).toEqual({ Tags: { team: 'hearth', stage: 'test' } }) },
    { op: 'UntagResource', input: { Resource: 'ARN', TagKeys: ['stage'] } },
    {
      op: 'GetFunctionCodeSigningConfig',
      input: { FunctionName: FN },
      lambdaToo: { '$.CodeSigningConfigArn: "" does not match': 'Lambda answers CodeSigningConfigArn "" for a function without a code signing configuration, below the model\'s own pattern' },
    },
    {
      op: 'CreateEventSourceMapping',
      input: {
        FunctionName: FN,
        ...KAFKA_SOURCE,
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: 1,
        FilterCriteria: { Filters: [{ Pattern: '{"value":{"kind":["order"]}}' }] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 2,
        MaximumRecordAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: 'kafka://conformance-dlq' } },
        ScalingConfig: { MaximumConcurrency: 2 },
      },
      hearthAdds: lagAdds,
      then: (j) => {
        expect(j).toMatchObject({ State: 'Creating', Topics: ['conformance'], BatchSize: 10, StartingPosition: 'TRIM_HORIZON', MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: 'kafka://conformance-dlq' } } });
        expect(String(j?.FunctionArn)).toMatch(new RegExp(`:function:${FN}$`));
        esmUuid = String(j?.UUID);
      },
    },
    // Running once the runner has it (from the file or the object the store wrote).
    { op: 'GetEventSourceMapping', input: { UUID: 'ESM-UUID' }, before: esm((c) => c.State === 'Enabled', 'the mapping to be Enabled'), hearthAdds: lagAdds, then: (j) => expect(j).toMatchObject({ UUID: esmUuid, BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] }) },
    { op: 'ListEventSourceMappings', input: { FunctionName: FN }, hearthAdds: lagAdds, then: (j) => expect((j?.EventSourceMappings as Array<{ UUID: string }>).map((m) => m.UUID)).toEqual([esmUuid]) },
    { op: 'UpdateEventSourceMapping', input: { UUID: 'ESM-UUID', Enabled: false, BatchSize: 5 }, hearthAdds: lagAdds, then: (j) => expect(j).toMatchObject({ UUID: esmUuid, State: 'Updating', BatchSize: 5 }) },
    { op: 'GetEventSourceMapping', input: { UUID: 'ESM-UUID' }, before: esm((c) => c.State === 'Disabled', 'the mapping to be Disabled'), hearthAdds: lagAdds, then: (j) => expect(j).toMatchObject({ State: 'Disabled', BatchSize: 5 }) },
    { op: 'DeleteEventSourceMapping', input: { UUID: 'ESM-UUID' }, hearthAdds: lagAdds, then: (j) => expect(j).toMatchObject({ UUID: esmUuid, State: 'Deleting' }) },
    {
      op: 'ListEventSourceMappings',
      input: {},
      before: () => until('the mapping to be gone', (c) => (c.EventSourceMappings as unknown[]).length === 0, {}, 'ListEventSourceMappings'),
      then: (j) => expect(j).toEqual({ EventSourceMappings: [] }),
    },
    { op: 'DeleteFunctionConcurrency', input: { FunctionName: FN } },
    { op: 'DeleteAlias', input: { FunctionName: FN, Name: 'live' } },
    { op: 'DeleteFunction', input: { FunctionName: FN, Qualifier: '2' } },
    { op: 'DeleteFunction', input: { FunctionName: FN } },
  ];

  const errorCases: Array<{ what: string; op: string; input: Record<string, unknown>; code: string; status: number; key?: string; before?: () => Promise<void>; message?: RegExp }> = [
    { what: 'an unknown function', op: 'GetFunction', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404, message: /^Function not found: arn:aws:lambda:.*:function:no-such-function$/ },
    { what: 'an unknown function\'s configuration', op: 'GetFunctionConfiguration', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'deleting an unknown function', op: 'DeleteFunction', input: { FunctionName: 'no-such-function' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'an unknown event-source mapping', op: 'GetEventSourceMapping', input: { UUID: '00000000-0000-4000-8000-000000000000' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'updating an unknown event-source mapping', op: 'UpdateEventSourceMapping', input: { UUID: '00000000-0000-4000-8000-000000000000', Enabled: false }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'deleting an unknown event-source mapping', op: 'DeleteEventSourceMapping', input: { UUID: '00000000-0000-4000-8000-000000000000' }, code: 'ResourceNotFoundException', status: 404 },
    { what: 'a mapping to an unknown function', op: 'CreateEventSourceMapping', input: { FunctionName: 'no-such-function', ...KAFKA_SOURCE }, code: 'ResourceNotFoundException', status: 404, message: /Function not found: arn:aws:lambda:.*:function:no-such-function$/ },
    { what: 'a mapping the schema refuses', op: 'CreateEventSourceMapping', input: { FunctionName: target.existing, ...KAFKA_SOURCE, MaximumRecordAgeInSeconds: 30 }, code: 'InvalidParameterValueException', status: 400, message: /spec\.maximumRecordAgeInSeconds: must be -1 or at least 60/ },
    { what: 'a mapping of an AWS event source', op: 'CreateEventSourceMapping', input: { FunctionName: target.existing, EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:queue' }, code: 'InvalidParameterValueException', status: 400, message: /self-managed Kafka/ },
    {
      what: 'a second mapping of the same function and source',
      op: 'CreateEventSourceMapping',
      input: { FunctionName: target.existing, ...KAFKA_SOURCE, Enabled: false },
      code: 'ResourceConflictException',
      status: 409,
      message: /already exists/,
      before: async () => {
        const a = await call('CreateEventSourceMapping', { FunctionName: target.existing, ...KAFKA_SOURCE, Enabled: false });
        expect(a.status, a.body).toBe(202);
        conflictUuid = String(json(a)?.UUID);
      },
    },
    { what: 'a caller without management actions creating a mapping', op: 'CreateEventSourceMapping', input: { FunctionName: target.existing, ...KAFKA_SOURCE }, key: target.invokerKey, code: 'AccessDeniedException', status: 403 },
    { what: 'a function that exists already', op: 'CreateFunction', input: { FunctionName: target.existing, Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, code: 'ResourceConflictException', status: 409, message: new RegExp(target.existing) },
    { what: 'a runtime Lambda no longer takes', op: 'CreateFunction', input: { FunctionName: 'old-go', Runtime: 'go1.x', Handler: 'main', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, code: 'InvalidParameterValueException', status: 400, message: /runtime/i },
    { what: 'provisioned concurrency on $LATEST', op: 'PutProvisionedConcurrencyConfig', input: { FunctionName: target.existing, Qualifier: '$LATEST', ProvisionedConcurrentExecutions: 1 }, code: 'InvalidParameterValueException', status: 400 },
    { what: 'a log level with the Text log format', op: 'UpdateFunctionConfiguration', input: { FunctionName: target.existing, LoggingConfig: { LogFormat: 'Text', ApplicationLogLevel: 'DEBUG' } }, code: 'InvalidParameterValueException', status: 400, message: /LogFormat JSON/ },
    { what: 'a stale RevisionId', op: 'UpdateFunctionConfiguration', input: { FunctionName: target.existing, Description: 'x', RevisionId: '00000000-0000-0000-0000-000000000000' }, code: 'PreconditionFailedException', status: 412 },
    { what: 'removing a function\'s URL alone', op: 'DeleteFunctionUrlConfig', input: { FunctionName: target.existing }, code: 'InvalidParameterValueException', status: 400 },
    { what: 'a caller without management actions', op: 'GetFunction', input: { FunctionName: target.existing }, key: target.invokerKey, code: 'AccessDeniedException', status: 403, message: new RegExp(`^User: ${target.invokerName} is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:.*:function:${target.existing}$`) },
    { what: 'a caller without management actions creating', op: 'CreateFunction', input: { FunctionName: 'sneaky', Runtime: 'python3.12', Handler: 'app.handler', Role: ROLE, Code: { ZipFile: ZIP_V1 } }, key: target.invokerKey, code: 'AccessDeniedException', status: 403 },
    {
      what: 'an invocation beyond a reserved concurrency of 0',
      op: 'Invoke',
      input: { FunctionName: target.existing, Payload: '{}' },
      code: 'TooManyRequestsException',
      status: 429,
      before: async () => {
        const a = await call('PutFunctionConcurrency', { FunctionName: target.existing, ReservedConcurrentExecutions: 0 });
        expect(a.status, a.body).toBe(200);
      },
    },
  ];


  const seen = new Map<string, HttpAnswer>();

  it('the steps and error cases call every operation the gateway serves (read from its own route table, /openapi.json), and only those', async () => {
    const doc = (await (await fetch(`${target.url()}/openapi.json`, { headers: { authorization: `Bearer ${target.adminKey}` } })).json()) as { paths: Record<string, Record<string, unknown>> };
    const served = servedOperations(model, doc.paths);
    expect(served.unmatched, 'Lambda-style routes that are no operation of the model').toEqual([]);
    const called = new Set([...steps.map((s) => s.op), ...errorCases.map((c) => c.op)]);
    expect([...served.operations].filter((op) => !called.has(op)).sort(), 'served but never called here').toEqual([]);
    expect([...called].filter((op) => !served.operations.has(op)).sort(), 'called here but not served').toEqual([]);
  });

  steps.forEach((step, i) => {
    it(`${i + 1}. ${step.op} ${JSON.stringify(step.input, (k, v: unknown) => (k === 'ZipFile' ? '<zip>' : v)).slice(0, 100)}`, async () => {
      await step.before?.();
      const arn = Object.values(step.input).includes('ARN') ? await functionArn() : undefined;
      const input = Object.fromEntries(Object.entries(step.input).map(([k, v]) => [k, v === 'ARN' ? arn : v === 'ESM-UUID' ? esmUuid : v]));
      const answer = await call(step.op, input);
      seen.set(step.op, answer);
      const problems = validateOutput(model, step.op, answer);
      const known = Object.keys({ ...step.lambdaToo, ...step.hearthAdds });
      const left = problems.filter((p) => !known.some((k) => p.includes(k)));
      expect(left, `${step.op} answered ${answer.status} ${answer.body.slice(0, 600)}`).toEqual([]);
      step.then?.(json(answer), answer);
    }, target.waitMs + 30_000);
  });

  it.each(errorCases)('error case, $what: $status $code', async ({ op, input, code, status, key, before, message }) => {
    await before?.();
    const answer = await call(op, input, key);
    expect(answer.status, answer.body).toBe(status);
    // The code is one the operation declares (AccessDeniedException is common to every AWS service, outside the model).
    if (code !== 'AccessDeniedException') expect(model.operations[op]?.errors?.map((e) => e.shape)).toContain(code);
    expect(validateError(model, code, answer, status), answer.body).toEqual([]);
    const body = JSON.parse(answer.body) as { message?: string; Message?: string };
    if (message) expect(body.message ?? body.Message).toMatch(message);
  }, 30_000);

  it('nothing was made by a refused request, and every step was answered', async () => {
    expect((await call('GetFunction', { FunctionName: 'sneaky' })).status).toBe(404);
    expect((await call('GetFunction', { FunctionName: 'old-go' })).status).toBe(404);
    // The conflict case's mapping goes again; no other was made by a refused request.
    if (conflictUuid !== '') expect((await call('DeleteEventSourceMapping', { UUID: conflictUuid })).status).toBe(202);
    await until('no mapping left', (c) => (c.EventSourceMappings as unknown[]).length === 0, {}, 'ListEventSourceMappings');
    expect(seen.size).toBe(new Set(steps.map((s) => s.op)).size);
  });
}
