// Response streaming (awslambda.streamifyResponse, awslambda.HttpResponseStream)
// through the real bootstrap.mjs: what the streamed /response post carries,
// when each piece arrives, the error trailers, and back-pressure.
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, type Posted } from './fake-runtime-api.js';

const h = new Harness();
afterEach(() => h.cleanup());

const APP = `
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { once } from 'node:events';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const twoWrites = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('first');
  await sleep(500);
  responseStream.write('second');
  responseStream.end();
});
export const ticks = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let i = 0; i < 5; i++) {
    responseStream.write('t' + i + '\\n');
    await sleep(100);
  }
  responseStream.end();
});
export const http = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'x-a': 'b' }, cookies: ['c=d'] });
  s.write('data: one\\n\\n');
  s.end('data: two\\n\\n');
});
export const httpEmpty = awslambda.streamifyResponse(async (event, responseStream) => {
  awslambda.HttpResponseStream.from(responseStream, { statusCode: 204, headers: { 'x-empty': '1' } }).end();
});
export const contentType = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/event-stream');
  responseStream.write({ as: 'json' });
  let late;
  try { responseStream.setContentType('text/plain'); } catch (err) { late = err.name + ': ' + err.message; }
  responseStream.end(late);
});
export const failsMidStream = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial ');
  await sleep(50);
  throw new TypeError('broke after writing');
});
export const failsFirst = awslambda.streamifyResponse(async () => {
  throw new RangeError('nothing written');
});
export const notAsync = awslambda.streamifyResponse((event, responseStream) => {
  responseStream.write('sync ');
});
export const returnsEarly = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before return ');
  setTimeout(() => responseStream.end('ended later'), 300);
});
export const neverEnds = awslambda.streamifyResponse(async (event, responseStream) => {});
export const piped = awslambda.streamifyResponse(async (event, responseStream) => {
  await pipeline(Readable.from(['a', 'b', 'c']), responseStream);
});
export const hwm = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.end(String(responseStream.writableHighWaterMark));
}, { highWaterMark: 512 });
export const crashes = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('then ');
  setTimeout(() => { throw new Error('uncaught mid-stream'); }, 50);
  await sleep(5000);
});
export const bulk = awslambda.streamifyResponse(async (event, responseStream) => {
  const chunk = Buffer.alloc(1 << 20, 120);
  for (let i = 1; i <= event.mib; i++) {
    if (!responseStream.write(chunk)) await once(responseStream, 'drain');
    console.log('wrote ' + i);
  }
  responseStream.end();
});
export const untilCut = awslambda.streamifyResponse(async (event, responseStream) => {
  try {
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve, reject) => responseStream.write('tick ' + i + '\\n', (err) => (err ? reject(err) : resolve())));
      await sleep(event.gapMs ?? 20);
    }
  } catch (err) {
    console.log('write failed: ' + err.message);
    throw err;
  }
  responseStream.end();
});
export const plain = async () => ({ awslambda: typeof awslambda, stream: typeof awslambda?.streamifyResponse, http: typeof awslambda?.HttpResponseStream?.from });
`;

function trailerError(p: Posted): { errorType: string; errorMessage: string; trace: string[] } {
  const body = p.trailers['lambda-runtime-function-error-body'];
  expect(body).toBeDefined();
  return JSON.parse(Buffer.from(body ?? '', 'base64').toString('utf8'));
}

/** The JSON prelude and the body of an http-integration response. */
function splitPrelude(raw: Buffer): { prelude: unknown; body: string } {
  const at = raw.indexOf(Buffer.alloc(8));
  expect(at).toBeGreaterThan(0);
  return { prelude: JSON.parse(raw.subarray(0, at).toString('utf8')), body: raw.subarray(at + 8).toString('utf8') };
}

describe('awslambda.streamifyResponse', () => {
  it('posts a chunked streaming /response with the error trailers declared, each write arriving as it is made', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.twoWrites');
    const p = await api.invoke({});
    expect(p.kind).toBe('response');
    expect(p.headers['lambda-runtime-function-response-mode']).toBe('streaming');
    expect(p.headers['transfer-encoding']).toBe('chunked');
    expect(p.headers['content-type']).toBe('application/octet-stream');
    expect(p.headers['trailer']?.toLowerCase()).toBe('lambda-runtime-function-error-type, lambda-runtime-function-error-body');
    expect(p.headers['content-length']).toBeUndefined();
    expect(p.body).toBe('firstsecond');
    expect(p.trailers).toEqual({});
    const first = p.chunks[0];
    expect(first?.data.toString()).toBe('first');
    // The handler waits 500 ms between its writes: the first is not held back for the second.
    expect(p.at - (first?.at ?? p.at)).toBeGreaterThanOrEqual(400);
  });

  it('does not coalesce small writes: five writes 100 ms apart arrive as they are made', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.ticks');
    const p = await api.invoke({});
    expect(p.body).toBe('t0\nt1\nt2\nt3\nt4\n');
    // A small write is not held back for more (nodejs RIC #94): the first, 3 bytes, arrives
    // on its own, about 400 ms before the end. (The pieces are counted loosely: a busy
    // test process may read two of them at once.)
    expect(p.chunks[0]?.data.toString()).toBe('t0\n');
    expect(p.at - (p.chunks[0]?.at ?? p.at)).toBeGreaterThanOrEqual(300);
    expect(p.chunks.length).toBeGreaterThanOrEqual(3);
  });

  it('HttpResponseStream.from writes the JSON prelude and 8 NUL bytes before the body', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.http');
    const p = await api.invoke({});
    expect(p.headers['content-type']).toBe('application/vnd.awslambda.http-integration-response');
    expect(splitPrelude(p.raw)).toEqual({
      prelude: { statusCode: 201, headers: { 'x-a': 'b' }, cookies: ['c=d'] },
      body: 'data: one\n\ndata: two\n\n',
    });
  });

  it('HttpResponseStream.from still sends the prelude when the stream ends without a write (nodejs RIC #97)', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.httpEmpty');
    const p = await api.invoke({});
    expect(p.headers['content-type']).toBe('application/vnd.awslambda.http-integration-response');
    expect(splitPrelude(p.raw)).toEqual({ prelude: { statusCode: 204, headers: { 'x-empty': '1' } }, body: '' });
  });

  it('setContentType before the first write; too late after it; objects are written as JSON', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.contentType');
    const p = await api.invoke({});
    expect(p.headers['content-type']).toBe('text/event-stream');
    expect(p.body).toBe('{"as":"json"}Runtime.InvalidStreamingOperation: Cannot set content-type, too late.');
  });

  it('a handler that fails after writing ends the stream with the error trailers', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.failsMidStream');
    const p = await api.invoke({}, { requestId: 'req-mid' });
    expect(p.kind).toBe('response');
    expect(p.body).toBe('partial ');
    expect(p.trailers['lambda-runtime-function-error-type']).toBe('TypeError');
    const err = trailerError(p);
    expect(Object.keys(err)).toEqual(['errorType', 'errorMessage', 'trace']);
    expect(err).toMatchObject({ errorType: 'TypeError', errorMessage: 'broke after writing' });
    expect(err.trace[0]).toBe('TypeError: broke after writing');
    await rt.waitStdout('\treq-mid\tERROR\tInvoke Error \t{"errorType":"TypeError"');
    // The process serves the next invocation.
    expect((await api.invoke({})).trailers['lambda-runtime-function-error-type']).toBe('TypeError');
  });

  it('a handler that fails before writing sends the error in the trailers of an empty stream, as the RIC does', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.failsFirst');
    const p = await api.invoke({});
    expect(p.kind).toBe('response');
    expect(p.headers['lambda-runtime-function-response-mode']).toBe('streaming');
    expect(p.body).toBe('');
    expect(p.trailers['lambda-runtime-function-error-type']).toBe('RangeError');
    expect(trailerError(p).errorMessage).toBe('nothing written');
  });

  it('a handler that is not async is refused, as on Lambda', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.notAsync');
    const p = await api.invoke({});
    expect(p.trailers['lambda-runtime-function-error-type']).toBe('Runtime.MalformedStreamingHandler');
    expect(trailerError(p).errorMessage).toBe('Streaming does not support non-async handlers.');
    expect(p.body).toBe('sync ');
  });

  it('the invocation lasts until the stream ends, also after the handler returned', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.returnsEarly');
    const p = await api.invoke({});
    expect(p.body).toBe('before return ended later');
    expect(p.trailers).toEqual({});
    expect(p.at - (p.chunks[0]?.at ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it('a handler that returns without ending its stream, with nothing left that could, gets an error rather than hanging', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.neverEnds');
    const p = await api.invoke({});
    expect(p.trailers['lambda-runtime-function-error-type']).toBe('Runtime.InvalidStreamingOperation');
    expect(trailerError(p).errorMessage).toMatch(/^Response stream is not finished/);
  });

  it('pipeline() into the response stream; streamifyResponse honours highWaterMark', async () => {
    const a = await h.run({ 'app.mjs': APP }, 'app.piped');
    expect((await a.api.invoke({})).body).toBe('abc');
    const b = await h.run({ 'app.mjs': APP }, 'app.hwm');
    expect((await b.api.invoke({})).body).toBe('512');
  });

  it('an uncaught exception mid-stream sends the error trailers, then the process exits 129', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.crashes');
    const p = await api.invoke({});
    expect(p.body).toBe('then ');
    expect(p.trailers['lambda-runtime-function-error-type']).toBe('Error');
    expect(trailerError(p).errorMessage).toBe('uncaught mid-stream');
    expect(await rt.exited).toBe(129);
  });

  it('honours back-pressure: a post the agent does not read stops the handler\'s writes', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.bulk');
    api.readDelayMs = 1500;
    const id = api.enqueue({ mib: 48 });
    await rt.waitStdout('wrote 1\n');
    await new Promise((r) => setTimeout(r, 1000));
    // Unread, only what the socket buffers and the stream's own buffer hold can have been written.
    const written = Math.max(...[...rt.stdout().matchAll(/wrote (\d+)\n/g)].map((m) => Number(m[1])));
    expect(written).toBeLessThan(16);
    const p = await api.waitResult(id, 30_000);
    expect(p.raw.length).toBe(48 << 20);
    expect(p.trailers).toEqual({});
    await rt.waitStdout('wrote 48\n');
  });

  it('a post the agent cuts mid-stream fails the handler\'s writes, and the runtime serves the next invocation', async () => {
    const { api, rt } = await h.run({ 'app.mjs': APP }, 'app.untilCut');
    api.cutStreams = true;
    const first = api.enqueue({});
    await rt.waitStdout(/write failed: /);
    expect(api.streaming.get(first)?.chunks[0]?.data.toString()).toBe('tick 0\n');
    api.cutStreams = false;
    const next = await api.invoke({ gapMs: 1 });
    expect(next.body.split('\n').length).toBe(201);
    expect(api.results.has(first)).toBe(false);
  });

  it('runs streaming invocations concurrently (AWS_LAMBDA_MAX_CONCURRENCY=2)', async () => {
    const { api } = await h.run({ 'app.mjs': APP }, 'app.twoWrites', { AWS_LAMBDA_MAX_CONCURRENCY: '2' });
    await api.waitNextPolls(2);
    const [a, b] = await Promise.all([api.invoke({}), api.invoke({})]);
    expect(a?.body).toBe('firstsecond');
    expect(b?.body).toBe('firstsecond');
    // They overlapped: each began before the other ended.
    expect(Math.max(a?.headersAt ?? 0, b?.headersAt ?? 0)).toBeLessThan(Math.min(a?.at ?? 0, b?.at ?? 0));
  });
});

describe('a handler marked for a streaming mode other than response', () => {
  it('is an init error, Runtime.MalformedStreamingHandler', async () => {
    const code = "export const handler = async () => {};\nhandler[Symbol.for('aws.lambda.runtime.handler.streaming')] = 'request';\n";
    const { api, rt } = await h.run({ 'app.mjs': code }, 'app.handler');
    const p = await api.waitInitError();
    expect(p.headers['lambda-runtime-function-error-type']).toBe('Runtime.MalformedStreamingHandler');
    expect(JSON.parse(p.body).errorMessage).toBe('Only response streaming is supported.');
    expect(await rt.exited).toBe(1);
  });
});

describe('the awslambda global', () => {
  it('is there for every handler, and not with AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA=1', async () => {
    const a = await h.run({ 'app.mjs': APP }, 'app.plain');
    expect(JSON.parse((await a.api.invoke({})).body)).toEqual({ awslambda: 'object', stream: 'function', http: 'function' });
    const b = await h.run({ 'app.mjs': 'export const plain = async () => ({ awslambda: typeof awslambda });\n' }, 'app.plain', {
      AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA: '1',
    });
    expect(JSON.parse((await b.api.invoke({})).body)).toEqual({ awslambda: 'undefined' });
  });
});
