// Drives the agent exactly as the Lambda Runtime API documentation describes:
// first with the test itself acting as the runtime (raw HTTP), then with a
// runtime process (our fixture, and Hearth's real runtimes where present).
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { effectiveHandler, LIMITS, type HearthFunction } from '../../src/api/function.js';
import { CodeStore } from '../../src/backends/local/code-store.js';
import { lambdaEnv, runtimePath } from '../../src/backends/local/lambda-env.js';
import { runtimeFamily, scriptRuntimeCommand } from '../../src/backends/local/runtime-command.js';
import { example, fn } from '../backends/helpers.js';
import { waitFor } from '../helpers/wait.js';
import { FAKE_RUNTIME, json, RawRuntime, REPO_ROOT, request, silent } from './helpers.js';

const agents: Agent[] = [];

async function startAgent(opts: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = new Agent({ functionName: 'test', logger: silent, timeoutSeconds: 3, ...opts });
  agents.push(agent);
  await agent.start();
  return agent;
}

function fixtureAgent(env: Record<string, string> = {}, opts: Partial<AgentOptions> = {}): Promise<Agent> {
  return startAgent({ launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '', ...env } }), ...opts });
}

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const NEXT_REQUEST = 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n\r\n';

/** A connection to the Runtime API for requests written by hand; `until` resolves with all read once `text` has come. */
async function rawConnection(api: string): Promise<{ socket: Socket; until: (text: string) => Promise<string> }> {
  const colon = api.lastIndexOf(':');
  const socket = connect(Number(api.slice(colon + 1)), api.slice(0, colon));
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  return {
    socket,
    until: async (text) => {
      await waitFor(`"${text}" on the connection`, () => got.includes(text), 5000);
      return got;
    },
  };
}

describe('Runtime API with the test as the runtime', () => {
  it('hands over the event with the documented headers and returns the response', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const req = { ...request({ hello: 'world' }), traceId: 'Root=1-abc', clientContext: '{"custom":{}}', cognitoIdentity: '{"cognitoIdentityId":"x"}' };
    const result = agent.invoke(req);
    const before = Date.now();
    const next = await rt.next();
    const after = Date.now();
    expect(next.id).toBe(req.requestId);
    expect(JSON.parse(next.body)).toEqual({ hello: 'world' });
    // The deadline starts when the runtime takes the event.
    const deadline = Number(next.headers.get('lambda-runtime-deadline-ms'));
    expect(deadline).toBeGreaterThanOrEqual(before + req.timeoutMs);
    expect(deadline).toBeLessThanOrEqual(after + req.timeoutMs);
    expect(next.headers.get('lambda-runtime-invoked-function-arn')).toBe(req.invokedFunctionArn);
    expect(next.headers.get('lambda-runtime-trace-id')).toBe('Root=1-abc');
    expect(next.headers.get('lambda-runtime-client-context')).toBe('{"custom":{}}');
    expect(next.headers.get('lambda-runtime-cognito-identity')).toBe('{"cognitoIdentityId":"x"}');
    const posted = await rt.post(`invocation/${next.id}/response`, '{"ok":true}');
    expect(posted.status).toBe(202);
    expect(await posted.json()).toEqual({ status: 'OK' });
    const r = await result;
    expect(r.outcome).toBe('success');
    expect(json(r.payload)).toEqual({ ok: true });
    expect(r.initDurationMs).toBeGreaterThan(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    // A second answer for the same id is refused, as AWS does.
    const again = await rt.post(`invocation/${next.id}/response`, '{}');
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
  });

  it('answers unknown request ids with 400 and unknown paths with 404', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const r1 = await rt.post('invocation/nope/response', '{}');
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({ errorType: 'InvalidRequestID' });
    const r2 = await rt.post('invocation/nope/error', '{}');
    expect(r2.status).toBe(400);
    const r4 = await rt.post('invocation/%zz/response', '{}');
    expect(r4.status).toBe(400);
    const r3 = await fetch(rt.url('nothing/here'));
    expect(r3.status).toBe(404);
    expect(await r3.json()).toMatchObject({ errorType: 'NotFound' });
  });

  it('reports a handler error as unhandled, or handled when the runtime says so', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const p1 = agent.invoke(request({}));
    const n1 = await rt.next();
    const body = JSON.stringify({ errorMessage: 'bad value', errorType: 'ValueError', stackTrace: ['File "x"'] });
    const e1 = await rt.post(`invocation/${n1.id}/error`, body, { 'Lambda-Runtime-Function-Error-Type': 'ValueError' });
    expect(e1.status).toBe(202);
    const r1 = await p1;
    expect(r1).toMatchObject({ outcome: 'unhandled', errorType: 'ValueError' });
    expect(json(r1.payload)).toEqual(JSON.parse(body));

    const p2 = agent.invoke(request({}));
    const n2 = await rt.next();
    await rt.post(`invocation/${n2.id}/error`, JSON.stringify({ errorMessage: 'cb', errorType: 'Error' }), { 'X-Hearth-Error-Handled': 'true' });
    expect(await p2).toMatchObject({ outcome: 'handled', errorType: 'Error' });
  });

  it('reports an init error to the waiting caller with the posted errorType', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const pending = agent.invoke(request({}));
    const doc = { errorMessage: "Unable to import module 'lambda_function': No module named 'x'", errorType: 'Runtime.ImportModuleError', stackTrace: [] };
    const r = await rt.post('init/error', JSON.stringify(doc), { 'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError' });
    expect(r.status).toBe(202);
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'unhandled', errorType: 'Runtime.ImportModuleError' });
    expect(json(result.payload)).toEqual(doc);
    expect(agent.state).toBe('failed');
    expect(agent.initError?.errorType).toBe('Runtime.ImportModuleError');
    // After init, /init/error is no longer allowed.
    const agent2 = await startAgent();
    const rt2 = new RawRuntime(agent2.runtimeApi);
    const p = agent2.invoke(request({}));
    const n = await rt2.next();
    expect((await rt2.post('init/error', '{}')).status).toBe(403);
    await rt2.post(`invocation/${n.id}/response`, '1');
    await p;
  });

  it('fails the init after the init timeout', async () => {
    const agent = await startAgent({ initTimeoutMs: 200 });
    const result = await agent.invoke(request({}));
    expect(result.outcome).toBe('unhandled');
    expect(result.errorType).toBe('Sandbox.Timedout');
    expect(agent.state).toBe('failed');
  });

  it('times out an invocation with Lambda\'s message', async () => {
    const agent = await startAgent({ timeoutSeconds: 1 });
    const rt = new RawRuntime(agent.runtimeApi);
    const req = request({}, { timeoutMs: 300 });
    const pending = agent.invoke(req);
    const n = await rt.next();
    const result = await pending;
    expect(result.outcome).toBe('unhandled');
    // The request's timeout wins over the agent's own (which serves only callers that send none).
    expect(json(result.payload)).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${req.requestId} Error: Task timed out after 0.30 seconds` });
    // The late answer finds no invocation any more.
    expect((await rt.post(`invocation/${n.id}/response`, '{}')).status).toBe(400);
  });

  it('refuses a response over 6 MB with 413 and reports Function.ResponseSizeTooLarge', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const pending = agent.invoke(request({}));
    const n = await rt.next();
    const r = await rt.post(`invocation/${n.id}/response`, Buffer.alloc(LIMITS.responseBytes + 1, 'a'));
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ errorType: 'RequestEntityTooLarge' });
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'unhandled', errorType: 'Function.ResponseSizeTooLarge' });
    expect(json(result.payload)).toEqual({
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: `Response payload size exceeded maximum allowed payload size (${LIMITS.responseBytes} bytes).`,
    });
  });

  it('queues two invocations at concurrency 1: the second is handed over only on the next /next', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const a = agent.invoke(request({ n: 1 }));
    const b = agent.invoke(request({ n: 2 }));
    const n1 = await rt.next();
    expect(JSON.parse(n1.body)).toEqual({ n: 1 });
    // A second /next from the runtime while the first is running gets nothing yet.
    const second = rt.next();
    let handed = false;
    void second.then(() => (handed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(handed).toBe(false);
    await rt.post(`invocation/${n1.id}/response`, '"one"');
    const n2 = await second;
    expect(JSON.parse(n2.body)).toEqual({ n: 2 });
    await rt.post(`invocation/${n2.id}/response`, '"two"');
    expect(json((await a).payload)).toBe('one');
    expect(json((await b).payload)).toBe('two');
    expect((await b).initDurationMs).toBeUndefined();
  });

  it('takes a /next sent in one write behind a /response (HTTP/1.1 pipelining): the 202, then the next event, on the one connection', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    const calls = [1, 2].map((n) => agent.invoke(request({ n })));
    const n1 = await rt.next();
    const conn = await rawConnection(agent.runtimeApi);
    conn.socket.write(`POST /2018-06-01/runtime/invocation/${n1.id}/response HTTP/1.1\r\nHost: rt\r\nContent-Length: 5\r\n\r\n"one"${NEXT_REQUEST}`);
    const got = await conn.until('{"n":2}');
    expect(got.indexOf('HTTP/1.1 202')).toBe(0);
    expect(got.indexOf('HTTP/1.1 200')).toBeGreaterThan(0);
    const n2 = /lambda-runtime-aws-request-id: ([^\r]+)/i.exec(got)?.[1] ?? '';
    await rt.post(`invocation/${n2}/response`, '"two"');
    expect((await Promise.all(calls)).map((r) => json(r.payload))).toEqual(['one', 'two']);
    conn.socket.destroy();
  });

  it('hands nothing to a pipelined /next whose connection is gone (node never closes its queued response): the event goes to the next /next', async () => {
    const agent = await startAgent();
    const rt = new RawRuntime(agent.runtimeApi);
    // Two /next in one write, nothing to hand over: both wait, the second's response queued behind the first's.
    const conn = await rawConnection(agent.runtimeApi);
    conn.socket.write(NEXT_REQUEST + NEXT_REQUEST);
    await new Promise((r) => setTimeout(r, 100));
    conn.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const call = agent.invoke(request({ n: 1 }));
    const n1 = await rt.next();
    expect(JSON.parse(n1.body)).toEqual({ n: 1 });
    await rt.post(`invocation/${n1.id}/response`, '"one"');
    expect(json((await call).payload)).toBe('one');
  }, 10_000);
});

describe('Runtime API with a runtime process', () => {
  it('serves invocations and captures each one\'s logs with START/END/REPORT', async () => {
    const agent = await fixtureAgent();
    const ok = await agent.invoke(request({ action: 'echo', x: 1 }));
    expect(ok.outcome).toBe('success');
    expect(ok.initDurationMs).toBeGreaterThan(0);
    const req = request({ action: 'log', lines: ['first', 'second'], stderr: 'on stderr' }, { tailLogs: true });
    const r = await agent.invoke(req);
    const tail = Buffer.from(r.logTail ?? '', 'base64').toString('utf8');
    expect(tail).toMatch(new RegExp(`^START RequestId: ${req.requestId} Version: \\$LATEST\n`));
    expect(tail).toContain(`\t${req.requestId}\tINFO\tfirst\n`);
    expect(tail).toContain('on stderr\n');
    expect(tail).toContain(`END RequestId: ${req.requestId}\n`);
    expect(tail).toMatch(/REPORT RequestId: \S+\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t\n$/);
    expect(tail).not.toContain('init done');
  });

  it('restarts the runtime after a crash mid-invocation and reports Runtime.ExitError', async () => {
    const agent = await fixtureAgent();
    const first = await agent.invoke(request({ action: 'echo' }));
    const pid = (json(first.payload) as { pid: number }).pid;
    const req = request({ action: 'crash', code: 1 });
    const crashed = await agent.invoke(req);
    expect(crashed.outcome).toBe('unhandled');
    expect(json(crashed.payload)).toEqual({ errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${req.requestId} Error: Runtime exited with error: exit status 1` });
    const killed = await agent.invoke(request({ action: 'kill' }));
    expect((json(killed.payload) as { errorMessage: string }).errorMessage).toMatch(/signal: killed$/);
    const after = await agent.invoke(request({ action: 'echo' }));
    expect(after.outcome).toBe('success');
    expect((json(after.payload) as { pid: number }).pid).not.toBe(pid);
    expect(after.initDurationMs).toBeGreaterThan(0);
  });

  it('kills and replaces a runtime that overruns its deadline', async () => {
    const agent = await fixtureAgent({}, { timeoutSeconds: 1 });
    const first = await agent.invoke(request({ action: 'echo' }));
    const pid = (json(first.payload) as { pid: number }).pid;
    const req = request({ action: 'sleep', ms: 5000 }, { timeoutMs: 1000 });
    const t0 = Date.now();
    const r = await agent.invoke(req);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(json(r.payload)).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${req.requestId} Error: Task timed out after 1.00 seconds` });
    const after = await agent.invoke(request({ action: 'echo' }));
    expect(after.outcome).toBe('success');
    expect((json(after.payload) as { pid: number }).pid).not.toBe(pid);
  });

  it('reports an init crash as Runtime.ExitError and a posted init error as posted', async () => {
    const crash = await fixtureAgent({ FAKE_INIT: 'crash' });
    const r = await crash.invoke(request({}));
    expect(r.errorType).toBe('Runtime.ExitError');
    expect((json(r.payload) as { errorMessage: string }).errorMessage).toMatch(/Runtime exited with error: exit status 3$/);
    expect(crash.state).toBe('failed');
    const posted = await fixtureAgent({ FAKE_INIT: 'error' });
    const r2 = await posted.invoke(request({}));
    expect(r2.errorType).toBe('Runtime.ImportModuleError');
  });

  it('answers the oversized response with 413 to the runtime, which carries on', async () => {
    const agent = await fixtureAgent();
    const r = await agent.invoke(request({ action: 'big', bytes: LIMITS.responseBytes + 10 }));
    expect(r.errorType).toBe('Function.ResponseSizeTooLarge');
    const ok = await agent.invoke(request({ action: 'big', bytes: 1000 }));
    expect(ok.outcome).toBe('success');
    expect(ok.initDurationMs).toBeUndefined();
  });

  it('does not interleave invocations at concurrency 1', async () => {
    const agent = await fixtureAgent();
    const results = await Promise.all([1, 2, 3].map(() => agent.invoke(request({ action: 'sleep', ms: 150 }))));
    expect(results.every((r) => r.outcome === 'success')).toBe(true);
    // Three 150 ms handlers one after the other; each measured duration covers only its own run.
    for (const r of results) expect(r.durationMs).toBeLessThan(300);
  });

  it('starts a queued call\'s deadline when the runtime takes it, so waiting for the slot does not eat its timeout', async () => {
    const agent = await fixtureAgent();
    await agent.invoke(request({ action: 'echo' })); // past the init
    const t0 = Date.now();
    const first = agent.invoke(request({ action: 'sleep', ms: 1000 }, { timeoutMs: 1500 }));
    const second = agent.invoke(request({ action: 'sleep', ms: 1000 }, { timeoutMs: 1500 }));
    const [a, b] = await Promise.all([first, second]);
    const t1 = Date.now();
    // Counted from dispatch, the second would have timed out at t0 + 1.5 s, half-way through its run.
    expect(a.outcome).toBe('success');
    expect(b.outcome).toBe('success');
    expect(t1 - t0).toBeGreaterThanOrEqual(2000);
    const deadlineA = (json(a.payload) as { deadlineMs: number }).deadlineMs;
    const deadlineB = (json(b.payload) as { deadlineMs: number }).deadlineMs;
    // The runtime saw hand-over time + timeout: the first at once, the second after the first's 1 s run.
    expect(deadlineA - t0).toBeGreaterThanOrEqual(1500);
    expect(deadlineA - t0).toBeLessThan(1500 + 250);
    expect(deadlineB - t0).toBeGreaterThanOrEqual(1000 + 1500);
    expect(deadlineB - t0).toBeLessThan(1000 + 1500 + 400);
    expect(deadlineB).toBeLessThanOrEqual(t1 - 1000 + 1500);
  });
});

// Hearth's own runtimes (runtimes/python, runtimes/nodejs, runtimes/go) behind the agent.
const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-contract-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
const store = new CodeStore(cacheDir, join(REPO_ROOT, 'runtimes/go/build.sh'));
const has = (path: string): boolean => existsSync(join(REPO_ROOT, path));

async function realAgent(fn: HearthFunction): Promise<Agent> {
  const files = fn.spec.code.inline ?? {};
  const taskRoot = await store.materialise(files);
  const family = runtimeFamily(fn.spec.runtime);
  const command = family === 'go' ? { command: await store.buildGo(files), args: [] } : scriptRuntimeCommand(fn.spec.runtime, REPO_ROOT);
  const env = lambdaEnv({
    functionName: fn.metadata.name,
    runtime: fn.spec.runtime,
    handler: effectiveHandler(fn.spec),
    memoryMB: fn.spec.memoryMB,
    concurrency: fn.spec.concurrency,
    taskRoot,
    runtimeDir: join(REPO_ROOT, 'runtimes', family),
    region: 'local',
    path: runtimePath(family === 'go' ? undefined : dirname(command.command)),
    functionEnv: {},
  });
  return startAgent({ launcher: spawnLauncher({ ...command, env, cwd: taskRoot }), timeoutSeconds: fn.spec.timeoutSeconds, memoryMB: fn.spec.memoryMB, concurrency: fn.spec.concurrency });
}

describe('Runtime API with Hearth\'s runtimes', () => {
  it.skipIf(!has('runtimes/python/bootstrap.py'))('runs the Python example', async () => {
    const agent = await realAgent(example('hello-python.yaml'));
    const r = await agent.invoke(request({}, { tailLogs: true }));
    expect(r.outcome).toBe('success');
    expect(json(r.payload)).toEqual({ statusCode: 200, body: '"Hello, world!"' });
    expect(Buffer.from(r.logTail ?? '', 'base64').toString()).toMatch(/REPORT RequestId: .*Init Duration: /);
  });

  it.skipIf(!has('runtimes/python/bootstrap.py'))('reports a Python ValueError with its type', async () => {
    const agent = await realAgent(
      fn('py-error', {
        runtime: 'python3.12',
        handler: 'lambda_function.lambda_handler',
        code: { inline: { 'lambda_function.py': 'def lambda_handler(event, context):\n    print("about to fail")\n    raise ValueError("bad input")\n' } },
      }),
    );
    const r = await agent.invoke(request({}, { tailLogs: true }));
    expect(r).toMatchObject({ outcome: 'unhandled', errorType: 'ValueError' });
    expect(json(r.payload)).toMatchObject({ errorType: 'ValueError', errorMessage: 'bad input' });
    expect(Buffer.from(r.logTail ?? '', 'base64').toString()).toContain('about to fail');
  });

  it.skipIf(!has('runtimes/python/bootstrap.py'))('reports a Python import error at init', async () => {
    const agent = await realAgent(
      fn('py-import', { runtime: 'python3.12', handler: 'lambda_function.lambda_handler', code: { inline: { 'lambda_function.py': 'import no_such_module\n' } } }),
    );
    const r = await agent.invoke(request({}));
    expect(r).toMatchObject({ outcome: 'unhandled', errorType: 'Runtime.ImportModuleError' });
    expect(agent.state).toBe('failed');
  });

  it.skipIf(!has('runtimes/nodejs/bootstrap.mjs'))('runs the Node example', async () => {
    const agent = await realAgent(example('hello-node.yaml'));
    const req = request({ name: 'Ada' });
    const r = await agent.invoke(req);
    expect(r.outcome).toBe('success');
    const doc = json(r.payload) as { statusCode: number; body: string };
    expect(doc.statusCode).toBe(200);
    expect(JSON.parse(doc.body)).toEqual({ message: 'Hello from Node.js, Ada!', requestId: req.requestId });
  });

  it.skipIf(!has('runtimes/nodejs/bootstrap.mjs'))('runs two invocations at once at concurrency 2 and keeps their logs apart', async () => {
    const agent = await realAgent(
      fn('node-conc', {
        concurrency: 2,
        code: { inline: { 'index.mjs': 'export const handler = async (e) => { console.log(`begin ${e.n}`); await new Promise((r) => setTimeout(r, 300)); console.log(`end ${e.n}`); return e.n; };\n' } },
      }),
    );
    await agent.invoke(request({ n: 0 }));
    const t0 = Date.now();
    const [a, b] = await Promise.all([agent.invoke(request({ n: 1 }, { tailLogs: true })), agent.invoke(request({ n: 2 }, { tailLogs: true }))]);
    expect(Date.now() - t0).toBeLessThan(550);
    expect([json(a.payload), json(b.payload)]).toEqual([1, 2]);
    const ta = Buffer.from(a.logTail ?? '', 'base64').toString();
    const tb = Buffer.from(b.logTail ?? '', 'base64').toString();
    expect(ta).toContain('begin 1');
    expect(ta).toContain('end 1');
    expect(ta).not.toContain('begin 2');
    expect(tb).toContain('end 2');
    expect(tb).not.toContain('end 1');
  });

  it.skipIf(!has('runtimes/go/build.sh'))('builds and runs the Go example', { timeout: 180_000 }, async () => {
    const agent = await realAgent(example('hello-go.yaml'));
    const req = request({ name: 'Gopher' });
    const r = await agent.invoke(req);
    expect(r.outcome).toBe('success');
    expect(json(r.payload)).toEqual({ statusCode: 200, body: `Hello from Go, Gopher! (request ${req.requestId})` });
  });
});
