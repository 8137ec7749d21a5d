// Invocations: context, results, errors, callbacks, logging, concurrency and
// warm-pool specialisation, through the real bootstrap.mjs as a child process.
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, runtimeEnv } from './fake-runtime-api.js';

const h = new Harness();
afterEach(() => h.cleanup());

const APP = `
let count = 0;
export const counter = async () => ({ count: ++count, pid: process.pid });
export const ctx = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  invokedFunctionArn: context.invokedFunctionArn,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity ?? null,
  clientContext: context.clientContext ?? null,
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  remaining: context.getRemainingTimeInMillis(),
  trace: process.env._X_AMZN_TRACE_ID ?? null,
  cwd: process.cwd(),
  event,
});
export const rejects = async (event) => { const e = new RangeError('too far: ' + event.n); throw e; };
export const throwsSync = () => { throw new Error('sync boom'); };
export const cbOk = (event, context, callback) => { callback(null, { via: 'callback', event }); };
export const cbErr = (event, context, callback) => { callback(new Error('handled boom')); };
export const cbString = (event, context, callback) => { callback('plain string'); };
export const cbWaits = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => {}, 400);
  callback(null, Date.now());
};
export const noAnswer = () => { setTimeout(() => {}, 50); };
export const succeed = (event, context) => { context.succeed('legacy'); };
export const undef = async () => undefined;
export const circular = async () => { const o = {}; o.self = o; return o; };
export const logs = async (event, context) => {
  console.log('hello %s', event.who);
  console.info('info line');
  console.warn('warn line');
  console.error('error line', { a: 1 });
  return 'logged';
};
export const slow = async (event, context) => {
  const started = Date.now();
  await new Promise((r) => setTimeout(r, event.ms));
  console.log('slow done');
  return { started, ended: Date.now(), id: context.awsRequestId };
};
export const leaksRejection = async () => { Promise.reject(new Error('nobody caught me')); await new Promise((r) => setTimeout(r, 200)); return 'late'; };
`;

interface ErrorJson {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

describe('invocations', () => {
  it('reuses one process, one module instance and one connection', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.counter');
    const bodies: { count: number; pid: number }[] = [];
    for (let i = 0; i < 20; i++) bodies.push(JSON.parse((await api.invoke({})).body));
    expect(bodies.map((b) => b.count)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(bodies.map((b) => b.pid)).size).toBe(1);
    expect(new Set(api.requests.map((r) => r.port)).size).toBe(1);
  });

  it("builds Lambda's context object and sets _X_AMZN_TRACE_ID per invocation", async () => {
    const { api, root } = await h.run({ 'app.mjs': APP }, 'app.ctx');
    const deadline = Date.now() + 60_000;
    const res = await api.invoke(
      { k: 'v' },
      {
        requestId: 'req-ctx',
        deadlineMs: deadline,
        arn: 'arn:aws:lambda:us-east-1:123456789012:function:test-fn:prod',
        traceId: 'Root=1-abc;Sampled=1',
        clientContext: { custom: { a: 'b' } },
        identity: { cognitoIdentityId: 'cid', cognitoIdentityPoolId: 'pool' },
      },
    );
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({
      awsRequestId: 'req-ctx',
      functionName: 'test-fn',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test-fn:prod',
      logGroupName: '/aws/lambda/test-fn',
      logStreamName: '2024/01/01/[$LATEST]abc',
      identity: { cognitoIdentityId: 'cid', cognitoIdentityPoolId: 'pool' },
      clientContext: { custom: { a: 'b' } },
      callbackWaitsForEmptyEventLoop: true,
      trace: 'Root=1-abc;Sampled=1',
      event: { k: 'v' },
    });
    expect(body.remaining).toBeGreaterThan(50_000);
    expect(body.remaining).toBeLessThanOrEqual(60_000);
    expect(body.cwd).toBe(root);
    const second = JSON.parse((await api.invoke({})).body);
    expect(second.trace).toBeNull();
    expect(second.identity).toBeNull();
    expect(second.clientContext).toBeNull();
  });

  it('a rejected promise is an unhandled error in Lambda\'s Node shape', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.rejects');
    const res = await api.invoke({ n: 7 }, { requestId: 'req-rej' });
    expect(res.kind).toBe('error');
    expect(res.headers['lambda-runtime-function-error-type']).toBe('RangeError');
    expect(res.headers['x-hearth-error-handled']).toBeUndefined();
    const err = JSON.parse(res.body) as ErrorJson;
    expect(Object.keys(err)).toEqual(['errorType', 'errorMessage', 'trace']);
    expect(err.errorType).toBe('RangeError');
    expect(err.errorMessage).toBe('too far: 7');
    expect(err.trace[0]).toBe('RangeError: too far: 7');
    expect(err.trace.some((l) => l.includes('app.mjs'))).toBe(true);
    await rt.waitStdout('\treq-rej\tERROR\tInvoke Error \t{"errorType":"RangeError"');
    // The process lives on.
    expect((await api.invoke({ n: 1 })).kind).toBe('error');
  });

  it('a synchronous throw is an unhandled error', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.throwsSync');
    const res = await api.invoke({});
    expect(res.headers['lambda-runtime-function-error-type']).toBe('Error');
    expect(res.headers['x-hearth-error-handled']).toBeUndefined();
    expect(JSON.parse(res.body).errorMessage).toBe('sync boom');
  });

  it('callback(null, value) answers with the value', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.cbOk');
    expect(JSON.parse((await api.invoke({ a: 1 })).body)).toEqual({ via: 'callback', event: { a: 1 } });
  });

  it('callback(err) is reported with its errorType and X-Hearth-Error-Handled: true', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.cbErr');
    const res = await api.invoke({});
    expect(res.kind).toBe('error');
    expect(res.headers['lambda-runtime-function-error-type']).toBe('Error');
    expect(res.headers['x-hearth-error-handled']).toBe('true');
    expect(JSON.parse(res.body)).toMatchObject({ errorType: 'Error', errorMessage: 'handled boom' });
  });

  it('callback with a non-Error value reports its type', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.cbString');
    const res = await api.invoke({});
    expect(JSON.parse(res.body)).toEqual({ errorType: 'string', errorMessage: 'plain string', trace: [] });
    expect(res.headers['x-hearth-error-handled']).toBe('true');
  });

  it('callbackWaitsForEmptyEventLoop: true waits for the event loop to drain; false answers at once', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.cbWaits');
    const waited = await api.invoke({ wait: true });
    expect(waited.at - Number(waited.body)).toBeGreaterThanOrEqual(350);
    const immediate = await api.invoke({ wait: false });
    expect(immediate.at - Number(immediate.body)).toBeLessThan(300);
  });

  it('a handler that never answers gets null once the event loop drains', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.noAnswer');
    const res = await api.invoke({});
    expect(res.kind).toBe('response');
    expect(res.body).toBe('null');
  });

  it('context.succeed, undefined results and unserialisable results', async () => {
    const a = await h.run({ 'app.mjs': APP }, 'app.succeed');
    expect((await a.api.invoke({})).body).toBe('"legacy"');
    const b = await h.run({ 'app.mjs': APP }, 'app.undef');
    expect((await b.api.invoke({})).body).toBe('null');
    const c = await h.run({ 'app.mjs': APP }, 'app.circular');
    const res = await c.api.invoke({});
    expect(res.kind).toBe('error');
    expect(JSON.parse(res.body).errorType).toBe('Runtime.MarshalError');
  });

  it('an event that is not JSON is an unhandled Runtime.UnmarshalError', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.counter');
    const res = await api.invoke(null, { raw: '{oops' });
    expect(res.headers['lambda-runtime-function-error-type']).toBe('Runtime.UnmarshalError');
  });

  it('prefixes console output like Lambda: time, request id, level', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.logs');
    await api.invoke({ who: 'you' }, { requestId: 'req-log' });
    const out = await rt.waitStdout('error line');
    const ts = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(out).toMatch(new RegExp(`^${ts}\\treq-log\\tINFO\\thello you$`, 'm'));
    expect(out).toMatch(new RegExp(`^${ts}\\treq-log\\tINFO\\tinfo line$`, 'm'));
    expect(out).toMatch(new RegExp(`^${ts}\\treq-log\\tWARN\\twarn line$`, 'm'));
    expect(out).toMatch(new RegExp(`^${ts}\\treq-log\\tERROR\\terror line \\{ a: 1 \\}$`, 'm'));
  });

  it('an unhandled rejection fails the invocation and ends the process', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.leaksRejection');
    const res = await api.invoke({});
    expect(res.kind).toBe('error');
    expect(res.headers['lambda-runtime-function-error-type']).toBe('Runtime.UnhandledPromiseRejection');
    expect(JSON.parse(res.body).errorMessage).toBe('Error: nobody caught me');
    expect(await rt.exited).toBe(129);
  });
});

describe('AWS_LAMBDA_MAX_CONCURRENCY', () => {
  it('runs N concurrent /next loops and overlaps invocations, logging each request id', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.slow', { AWS_LAMBDA_MAX_CONCURRENCY: '3' });
    await api.waitNextPolls(3);
    const ids = ['c1', 'c2', 'c3'];
    const results = await Promise.all(ids.map((id) => api.invoke({ ms: 400 }, { requestId: id })));
    const bodies = results.map((r) => JSON.parse(r.body) as { started: number; ended: number; id: string });
    expect(bodies.map((b) => b.id)).toEqual(ids);
    const latestStart = Math.max(...bodies.map((b) => b.started));
    const earliestEnd = Math.min(...bodies.map((b) => b.ended));
    expect(latestStart).toBeLessThan(earliestEnd);
    const out = await rt.waitStdout(/(slow done[\s\S]*){3}/);
    for (const id of ids) expect(out).toContain(`\t${id}\tINFO\tslow done`);
  });

  it('polls once at a time by default', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.counter');
    await api.waitNextPolls(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(api.maxWaitingNext).toBe(1);
  });
});

describe('HEARTH_SPECIALIZE=stdin', () => {
  it('waits for one JSON line, merges its env, chdirs to LAMBDA_TASK_ROOT, then serves', async () => {
    const api = await h.api();
    const root = h.root({ 'app.mjs': APP });
    const full = runtimeEnv(api, root, 'app.ctx');
    const generic: Record<string, string> = { HEARTH_SPECIALIZE: 'stdin' };
    const fnEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(full)) {
      if (/^(AWS_|LAMBDA_|_HANDLER)/.test(k)) fnEnv[k] = v;
      else generic[k] = v;
    }
    const rt = h.start(generic, { stdin: true, cwd: '/' });
    await new Promise((r) => setTimeout(r, 300));
    expect(rt.proc.exitCode).toBeNull();
    expect(api.requests).toEqual([]);
    rt.proc.stdin?.write(JSON.stringify({ env: fnEnv }) + '\n');
    const body = JSON.parse((await api.invoke({ n: 1 }, { requestId: 'spec-1' })).body);
    expect(body).toMatchObject({ awsRequestId: 'spec-1', functionName: 'test-fn', memoryLimitInMB: '256', cwd: root, event: { n: 1 } });
    expect(JSON.parse((await api.invoke({ n: 2 })).body).event).toEqual({ n: 2 });
  });
});
