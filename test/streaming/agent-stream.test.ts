// The agent's side of response streaming, with the test as the runtime: a
// streamed /response post reaches the caller chunk by chunk while the
// runtime is still writing, in process and over the agent's HTTP endpoint;
// an error in the trailers, a timeout mid-stream and a reader that goes
// away each end the stream as Lambda does, and the instance is free after.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { AgentClient } from '../../src/agent/client.js';
import type { InvokeRequest, InvokeResult } from '../../src/agent/invocation.js';
import { ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER, RESPONSE_MODE_HEADER } from '../../src/streaming/response-stream.js';
import { RawRuntime, request, silent } from '../agent/helpers.js';
import { isStreamedResponse } from '../../src/agent/runtime-api-routes.js';

/** The runtime's streamed post: open it, write chunks, end it (optionally with error trailers). */
function streamPost(api: string, id: string, contentType = 'text/event-stream'): ClientRequest {
  const req = httpRequest({
    host: api.split(':')[0],
    port: Number(api.split(':')[1]),
    method: 'POST',
    path: `/2018-06-01/runtime/invocation/${id}/response`,
    headers: { [RESPONSE_MODE_HEADER]: 'streaming', 'content-type': contentType, 'transfer-encoding': 'chunked', trailer: `${ERROR_TYPE_TRAILER}, ${ERROR_BODY_TRAILER}` },
  });
  req.on('error', () => undefined);
  req.on('response', (res) => res.resume());
  req.flushHeaders();
  return req;
}

/** Reads a result's stream, noting when each chunk came. */
async function readChunks(result: InvokeResult): Promise<Array<{ at: number; text: string }>> {
  const chunks: Array<{ at: number; text: string }> = [];
  for await (const c of result.stream?.body ?? []) chunks.push({ at: performance.now(), text: (c as Buffer).toString() });
  return chunks;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call from a caller that takes a stream as it comes. */
const streamed = (event: unknown, opts: Parameters<typeof request>[1] = {}) => ({ ...request(event, opts), acceptStream: true });

describe('agent: a streamed response', () => {
  let agent: Agent | undefined;
  let client: AgentClient | undefined;
  afterEach(async () => {
    await client?.close();
    await agent?.close();
    agent = undefined;
    client = undefined;
  });

  /** How the test calls the agent: in process, or through its HTTP endpoint and the dispatcher's client. */
  async function caller(a: Agent, path: 'in process' | 'over HTTP'): Promise<(r: InvokeRequest) => Promise<InvokeResult>> {
    if (path === 'in process') return (r) => a.invoke(r);
    const { url } = await a.listenInvoke();
    const c = new AgentClient(url);
    client = c;
    return (r) => c.invoke(r);
  }

  async function started(timeoutSeconds = 5, responseLimitBytes?: number): Promise<{ agent: Agent; runtime: RawRuntime }> {
    agent = new Agent({ functionName: 'streamer', timeoutSeconds, logger: silent, ...(responseLimitBytes !== undefined ? { responseLimitBytes } : {}) });
    await agent.start();
    return { agent, runtime: new RawRuntime(agent.runtimeApi) };
  }

  /** A started agent (`timeoutSeconds`), a call that takes a stream made through `path`, and the runtime's streamed post opened for it. */
  async function streamCall(path: 'in process' | 'over HTTP', timeoutSeconds = 5) {
    const { agent: a, runtime } = await started(timeoutSeconds);
    const invoke = await caller(a, path);
    const next = runtime.next();
    const call = invoke(streamed({}, { timeoutMs: timeoutSeconds * 1000 }));
    const { id } = await next;
    return { agent: a, runtime, invoke, id, call, post: streamPost(a.runtimeApi, id) };
  }

  for (const path of ['in process', 'over HTTP'] as const) {
    it(`${path}: the caller reads each chunk while the runtime is still writing`, async () => {
      const { runtime, invoke, call, post } = await streamCall(path);
      post.write('data: one\n\n');
      const result = await call;
      expect(result.outcome).toBe('success');
      expect(result.stream?.contentType).toBe('text/event-stream');
      const reading = readChunks(result);
      await sleep(500);
      post.write('data: two\n\n');
      const endedAt = performance.now();
      post.end();
      const chunks = await reading;
      expect(chunks.map((c) => c.text).join('')).toBe('data: one\n\ndata: two\n\n');
      expect(endedAt - (chunks[0]?.at ?? endedAt)).toBeGreaterThanOrEqual(400);
      const end = await result.stream?.ended;
      expect(end?.error).toBeUndefined();
      expect(end?.bytes).toBe(22);
      // The instance is free again: the next call runs.
      const again = runtime.next();
      const second = invoke(request({}));
      const n = await again;
      await runtime.post(`invocation/${n.id}/response`, '"fine"');
      expect((await second).payload.toString()).toBe('"fine"');
    });

    it(`${path}: an error in the trailers ends the stream with the function's error`, async () => {
      const { call, post } = await streamCall(path);
      post.write('partial');
      const result = await call;
      const reading = readChunks(result);
      post.addTrailers({ [ERROR_TYPE_TRAILER]: 'Error', [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: 'boom' })).toString('base64') });
      post.end();
      expect((await reading).map((c) => c.text).join('')).toBe('partial');
      const end = await result.stream?.ended;
      expect(end?.error?.errorType).toBe('Error');
      expect(JSON.parse(end?.error?.payload.toString() ?? '{}')).toMatchObject({ errorMessage: 'boom' });
    });

    it(`${path}: a timeout mid-stream ends it with Sandbox.Timedout`, async () => {
      const { call, post } = await streamCall(path, 1);
      post.write('started');
      const result = await call;
      const reading = readChunks(result);
      const end = await result.stream?.ended;
      expect(end?.error?.errorType).toBe('Sandbox.Timedout');
      expect((await reading).map((c) => c.text).join('')).toBe('started');
      post.destroy();
    });
  }

  for (const path of ['in process', 'over HTTP'] as const) {
    it(`${path}: a caller that cannot stream gets the stream buffered, a mid-stream error as the function's error`, async () => {
      const { agent: a, runtime } = await started();
      const invoke = await caller(a, path);
      for (const failing of [false, true]) {
        const next = runtime.next();
        const call = invoke(request({}));
        const { id } = await next;
        const post = streamPost(a.runtimeApi, id, 'application/json');
        post.write('{"a":');
        await sleep(50);
        post.write('1}');
        if (failing) post.addTrailers({ [ERROR_TYPE_TRAILER]: 'Error', [ERROR_BODY_TRAILER]: Buffer.from('{"errorType":"Error","errorMessage":"late"}').toString('base64') });
        post.end();
        const result = await call;
        expect(result.stream).toBeUndefined();
        if (failing) expect(result).toMatchObject({ outcome: 'unhandled', errorType: 'Error' });
        else expect(result.payload.toString()).toBe('{"a":1}');
      }
    });
  }

  for (const path of ['in process', 'over HTTP'] as const) {
    it(`${path}: a caller that cannot stream gets a stream over the response limit as Function.ResponseSizeTooLarge, and the instance is free after`, async () => {
      const { agent: a, runtime } = await started(5, 100);
      const invoke = await caller(a, path);
      const next = runtime.next();
      const call = invoke(request({}));
      const { id } = await next;
      const post = streamPost(a.runtimeApi, id, 'application/json');
      post.write(Buffer.alloc(60, 0x61));
      post.write(Buffer.alloc(60, 0x62));
      post.end();
      const result = await call;
      expect(result.stream).toBeUndefined();
      expect(result).toMatchObject({ outcome: 'unhandled', errorType: 'Function.ResponseSizeTooLarge' });
      expect(a.load).toBe(0);
    });
  }

  it('a reader that goes away releases the stream: the runtime finishes writing and the instance is free', async () => {
    const { agent: a, call, post } = await streamCall('in process');
    post.write('x'.repeat(1024));
    const result = await call;
    result.stream?.body.destroy();
    // Far more than any buffer holds: the agent must keep reading and drop it.
    for (let i = 0; i < 64; i++) post.write(Buffer.alloc(64 * 1024, 1));
    post.end();
    const end = await result.stream?.ended;
    expect(end?.error).toBeUndefined();
    expect(end?.bytes).toBe(1024 + 64 * 64 * 1024);
    expect(a.load).toBe(0);
  });

  it('a second answer to a streamed invocation is refused', async () => {
    const { runtime, id, call, post } = await streamCall('in process');
    post.write('a');
    const result = await call;
    const again = await runtime.post(`invocation/${id}/response`, '"twice"');
    expect(again.status).toBe(400);
    post.end();
    await readChunks(result);
    expect((await result.stream?.ended)?.error).toBeUndefined();
  });
});

describe('agent: which /response posts are streams', () => {
  it.each([
    [{ 'lambda-runtime-function-response-mode': 'streaming' }, true],
    [{ 'lambda-runtime-function-response-mode': 'Streaming' }, true],
    // aws-lambda-go: every answer chunked, the error trailers declared.
    [{ 'transfer-encoding': 'chunked', trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body' }, true],
    [{ 'transfer-encoding': 'chunked' }, false],
    [{ 'content-length': '12' }, false],
    [{ trailer: 'x-other' }, false],
  ])('%o: %s', (headers, streamed) => {
    expect(isStreamedResponse({ headers })).toBe(streamed);
  });
});
