// What InvokeWithResponseStream sends for each way a call can end, as
// event-stream frames: the body's chunks as PayloadChunk events in order,
// then one InvokeComplete with the error (ErrorCode the errorType,
// ErrorDetails its message) and the log tail when asked. The results are
// built by hand around real Readables; the route itself is tested through
// the embedded platform (test/platform/response-stream.test.ts).
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { LambdaError } from '../../src/gateway/lambda-errors.js';
import { errorDetails, eventStreamBody, invokeEvents, parseStreamingInvocationType, STREAM_LOST } from '../../src/gateway/plugins/response-stream-api.js';
import { decodeMessages } from '../../src/streaming/event-stream.js';
import type { StreamEnd } from '../../src/streaming/response-stream.js';

async function events(result: InvokeResult, tail = false): Promise<Array<{ type: unknown; payload: string }>> {
  const frames: Buffer[] = [];
  for await (const f of invokeEvents(result, tail)) frames.push(f);
  const { messages, rest } = decodeMessages(Buffer.concat(frames));
  expect(rest.length).toBe(0);
  return messages.map((m) => ({ type: m.headers[':event-type'], payload: m.payload.toString() }));
}

const errorJson = (errorType: string, errorMessage: string) => Buffer.from(JSON.stringify({ errorMessage, errorType }));
const streamed = (chunks: string[], end: Omit<StreamEnd, 'bytes' | 'durationMs'>, logTail?: string): InvokeResult => ({
  outcome: 'success',
  payload: Buffer.alloc(0),
  durationMs: 1,
  stream: { contentType: 'application/octet-stream', body: Readable.from(chunks.map((c) => Buffer.from(c))), ended: Promise.resolve({ bytes: 0, durationMs: 1, ...end }) },
  ...(logTail !== undefined ? { logTail } : {}),
});

describe('InvokeWithResponseStream events', () => {
  it('a stream: a PayloadChunk per chunk, in order, then an empty InvokeComplete', async () => {
    expect(await events(streamed(['a', 'bb', 'ccc'], {}))).toEqual([
      { type: 'PayloadChunk', payload: 'a' },
      { type: 'PayloadChunk', payload: 'bb' },
      { type: 'PayloadChunk', payload: 'ccc' },
      { type: 'InvokeComplete', payload: '{}' },
    ]);
  });

  it('a stream that failed mid-way: what was written, then InvokeComplete with ErrorCode and ErrorDetails', async () => {
    const out = await events(streamed(['part'], { error: { errorType: 'Sandbox.Timedout', payload: errorJson('Sandbox.Timedout', 'Task timed out after 1.00 seconds') } }));
    expect(out).toEqual([
      { type: 'PayloadChunk', payload: 'part' },
      { type: 'InvokeComplete', payload: JSON.stringify({ ErrorCode: 'Sandbox.Timedout', ErrorDetails: 'Task timed out after 1.00 seconds' }) },
    ]);
  });

  it('Tail: LogResult is the stream end\'s log tail', async () => {
    const out = await events(streamed(['x'], { logTail: 'U1RBUlQ=' }), true);
    expect(out.at(-1)).toEqual({ type: 'InvokeComplete', payload: '{"LogResult":"U1RBUlQ="}' });
    // Not asked: none, even when the stream has one.
    expect((await events(streamed(['x'], { logTail: 'U1RBUlQ=' }), false)).at(-1)).toEqual({ type: 'InvokeComplete', payload: '{}' });
  });

  it('a body that fails to be read with no error at its end: InvokeComplete says the stream was lost', async () => {
    const body = new PassThrough();
    body.write('first');
    setImmediate(() => body.destroy(new Error('socket hang up')));
    const out = await events({ outcome: 'success', payload: Buffer.alloc(0), durationMs: 1, stream: { contentType: 'application/octet-stream', body, ended: Promise.resolve({ bytes: 5, durationMs: 1 }) } });
    expect(out).toEqual([
      { type: 'PayloadChunk', payload: 'first' },
      { type: 'InvokeComplete', payload: JSON.stringify({ ErrorCode: STREAM_LOST.errorType, ErrorDetails: 'The response stream from the function was cut.' }) },
    ]);
  });

  it('a buffered success: its payload as one PayloadChunk, then InvokeComplete (LogResult when asked)', async () => {
    const out = await events({ outcome: 'success', payload: Buffer.from('{"ok":true}'), durationMs: 1, logTail: 'bG9n' }, true);
    expect(out).toEqual([
      { type: 'PayloadChunk', payload: '{"ok":true}' },
      { type: 'InvokeComplete', payload: '{"LogResult":"bG9n"}' },
    ]);
  });

  it('a buffered empty success: no PayloadChunk', async () => {
    expect(await events({ outcome: 'success', payload: Buffer.alloc(0), durationMs: 1 })).toEqual([{ type: 'InvokeComplete', payload: '{}' }]);
  });

  it('a buffered function error: InvokeComplete with its errorType and message, no PayloadChunk', async () => {
    expect(await events({ outcome: 'handled', payload: errorJson('ValueError', 'bad value'), errorType: 'ValueError', durationMs: 1 })).toEqual([
      { type: 'InvokeComplete', payload: JSON.stringify({ ErrorCode: 'ValueError', ErrorDetails: 'bad value' }) },
    ]);
    // No errorType on the result: read from the error JSON, else Unhandled.
    expect(await events({ outcome: 'unhandled', payload: errorJson('Runtime.ExitError', 'exited'), durationMs: 1 })).toEqual([
      { type: 'InvokeComplete', payload: JSON.stringify({ ErrorCode: 'Runtime.ExitError', ErrorDetails: 'exited' }) },
    ]);
    expect(await events({ outcome: 'unhandled', payload: Buffer.from('crashed'), durationMs: 1 })).toEqual([
      { type: 'InvokeComplete', payload: JSON.stringify({ ErrorCode: 'Unhandled', ErrorDetails: 'crashed' }) },
    ]);
  });

  it('a client that goes away destroys the body at once, though the function is between writes', async () => {
    const body = new PassThrough();
    const result: InvokeResult = { outcome: 'success', payload: Buffer.alloc(0), durationMs: 1, stream: { contentType: 'application/octet-stream', body, ended: new Promise(() => undefined) } };
    const out = eventStreamBody(result, false);
    body.write('one');
    const first = await new Promise<Buffer>((resolve) => out.once('data', resolve));
    expect(decodeMessages(first).messages[0]?.payload.toString()).toBe('one');
    out.destroy();
    await new Promise((resolve) => body.once('close', resolve));
    expect(body.destroyed).toBe(true);
  });
});

describe('InvokeWithResponseStream request rules', () => {
  it.each([
    { raw: undefined, want: 'RequestResponse' },
    { raw: '', want: 'RequestResponse' },
    { raw: 'RequestResponse', want: 'RequestResponse' },
    { raw: 'DryRun', want: 'DryRun' },
  ])('X-Amz-Invocation-Type $raw is $want', ({ raw, want }) => {
    expect(parseStreamingInvocationType(raw)).toBe(want);
  });

  it.each(['Event', 'requestresponse', 'Tail'])('X-Amz-Invocation-Type %s is refused with the two types it takes', (raw) => {
    expect(() => parseStreamingInvocationType(raw)).toThrow(LambdaError);
    expect(() => parseStreamingInvocationType(raw)).toThrow('[RequestResponse, DryRun]');
  });

  it.each([
    { name: 'the error JSON\'s message', payload: '{"errorMessage":"boom","errorType":"Error","trace":["at x"]}', want: 'boom' },
    { name: 'JSON without a message: the JSON', payload: '{"errorType":"Error"}', want: '{"errorType":"Error"}' },
    { name: 'a message that is not a string: the JSON', payload: '{"errorMessage":1}', want: '{"errorMessage":1}' },
    { name: 'not JSON: the text', payload: 'plain words', want: 'plain words' },
  ])('ErrorDetails: $name', ({ payload, want }) => {
    expect(errorDetails(Buffer.from(payload))).toBe(want);
  });
});
