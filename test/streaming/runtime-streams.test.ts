// Each runtime's own way of streaming, through the embedded platform's
// dispatcher with acceptStream (what InvokeWithResponseStream and streaming
// function URLs ask for): a Node.js handler wrapped by
// awslambda.streamifyResponse and a Go handler returning an io.Reader
// (aws-lambda-go) reach the caller piece by piece while the handler still
// runs, a failure mid-stream ends the stream with the function's error, and
// a Python handler (no streaming, as on Lambda) answers in one piece.
import { InvokeWithResponseStreamCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { startEmbedded, type EmbeddedPlatform } from '../../src/platform/embedded.js';
import { node, py, writeFunctions } from '../helpers/platform.js';
import { zipBytes } from '../packages/zip-bytes.js';

const NODE = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  if (event.http) responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 202, headers: { 'content-type': 'text/event-stream' } });
  responseStream.write('data: one\\n\\n');
  await sleep(500);
  if (event.fail) throw new TypeError('broke mid-stream');
  responseStream.write('data: two\\n\\n');
  responseStream.end();
});
`;

const PYTHON = `import time
def handler(event, context):
    time.sleep(0.5)
    return {"whole": True}
`;

/**
 * A custom runtime (runtime provided) that streams by posting the streamed
 * /response itself: the shell bootstrap of runtimes/provided/README.md,
 * curl uploading its stdin chunked as it comes (-T -).
 */
const SHELL_BOOTSTRAP = `#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  curl -sS -o /dev/null -D "$HEADERS" "$API/invocation/next"
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  rm -f "$HEADERS"
  { printf 'data: one\\n\\n'; sleep 0.5; printf 'data: two\\n\\n'; } |
    curl -sS -X POST -T - -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
      -H 'Content-Type: text/event-stream' "$API/invocation/$ID/response" >/dev/null
done
`;

/** The Go streaming function of the runtime's own tests (its go.sum pins what the module cache holds). */
function goStream(): FunctionSpecInput {
  const dir = new URL('../../runtimes/go/testdata/stream/', import.meta.url);
  const file = (name: string) => readFileSync(new URL(name, dir), 'utf8');
  return { runtime: 'go', code: { inline: { 'main.go': file('main.go'), 'go.mod': file('go.mod'), 'go.sum': file('go.sum') } } };
}

const FUNCTIONS = {
  'stream-node': { ...node(NODE), timeoutSeconds: 10 },
  'stream-go': { ...goStream(), timeoutSeconds: 10 },
  'whole-python': { ...py(PYTHON), timeoutSeconds: 10 },
  'stream-shell': { runtime: 'provided', code: { package: { path: 'stream-shell.zip' } }, timeoutSeconds: 10 },
} satisfies Record<string, FunctionSpecInput>;

interface Streamed {
  result: InvokeResult;
  chunks: { at: number; data: Buffer }[];
  endAt: number;
  body: Buffer;
}

describe('runtimes stream through the platform', () => {
  let platform: EmbeddedPlatform;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-runtime-streams-'));
    writeFunctions(dir, FUNCTIONS);
    writeFileSync(join(dir, 'stream-shell.zip'), zipBytes([{ name: 'bootstrap', data: SHELL_BOOTSTRAP, mode: 0o100755 }]));
    platform = await startEmbedded({ dir, host: '127.0.0.1', port: 0, logger: pino({ level: process.env.HEARTH_TEST_LOG ?? 'silent' }) });
  }, 120_000);
  afterAll(async () => {
    await platform?.close();
  });

  async function invoke(functionName: keyof typeof FUNCTIONS, event: unknown, acceptStream = true): Promise<Streamed> {
    const result = await platform.dispatcher.invoke({
      functionName,
      requestId: randomUUID(),
      payload: Buffer.from(JSON.stringify(event)),
      type: 'sync',
      acceptStream,
    });
    const chunks: { at: number; data: Buffer }[] = [];
    if (result.stream) for await (const c of result.stream.body) chunks.push({ at: Date.now(), data: c as Buffer });
    return { result, chunks, endAt: Date.now(), body: result.stream ? Buffer.concat(chunks.map((c) => c.data)) : result.payload };
  }

  /** The handler writes, waits 500 ms, writes: the first piece is in the caller's hands at least 400 ms before the end. */
  function expectStreamedAsWritten(s: Streamed): void {
    expect(s.result.outcome).toBe('success');
    expect(s.result.stream).toBeDefined();
    expect(s.endAt - (s.chunks[0]?.at ?? s.endAt)).toBeGreaterThanOrEqual(400);
  }

  it('Node.js: awslambda.streamifyResponse', async () => {
    const s = await invoke('stream-node', {});
    expectStreamedAsWritten(s);
    expect(s.result.stream?.contentType).toBe('application/octet-stream');
    expect(s.body.toString()).toBe('data: one\n\ndata: two\n\n');
    expect((await s.result.stream?.ended)?.error).toBeUndefined();
  }, 60_000);

  it('Node.js: awslambda.HttpResponseStream carries the prelude to the caller', async () => {
    const s = await invoke('stream-node', { http: true });
    expectStreamedAsWritten(s);
    expect(s.result.stream?.contentType).toBe('application/vnd.awslambda.http-integration-response');
    const at = s.body.indexOf(Buffer.alloc(8));
    expect(JSON.parse(s.body.subarray(0, at).toString())).toEqual({ statusCode: 202, headers: { 'content-type': 'text/event-stream' } });
    expect(s.body.subarray(at + 8).toString()).toBe('data: one\n\ndata: two\n\n');
  }, 60_000);

  it('Node.js: a throw mid-stream ends the stream with the function\'s error', async () => {
    const s = await invoke('stream-node', { fail: true });
    expect(s.body.toString()).toBe('data: one\n\n');
    const end = await s.result.stream?.ended;
    expect(end?.error?.errorType).toBe('TypeError');
    expect(JSON.parse(end?.error?.payload.toString() ?? '{}')).toMatchObject({ errorType: 'TypeError', errorMessage: 'broke mid-stream' });
  }, 60_000);

  it('Node.js, called without acceptStream (Invoke): the stream is buffered into the payload', async () => {
    const s = await invoke('stream-node', {}, false);
    expect(s.result.stream).toBeUndefined();
    expect(s.result.outcome).toBe('success');
    expect(s.body.toString()).toBe('data: one\n\ndata: two\n\n');
  }, 60_000);

  it('Go: a handler returning an io.Reader (aws-lambda-go)', async () => {
    const s = await invoke('stream-go', {});
    expectStreamedAsWritten(s);
    expect(s.body.toString()).toBe('firstsecond');
    expect((await s.result.stream?.ended)?.error).toBeUndefined();
  }, 180_000);

  it('Go: events.LambdaFunctionURLStreamingResponse, and a reader that fails mid-stream', async () => {
    const url = await invoke('stream-go', { mode: 'url' });
    expectStreamedAsWritten(url);
    expect(url.result.stream?.contentType).toBe('application/vnd.awslambda.http-integration-response');
    expect(url.body.toString()).toBe('{"statusCode":200,"headers":{"Content-Type":"text/event-stream"}}\0\0\0\0\0\0\0\0data: one\n\ndata: two\n\n');
    const failed = await invoke('stream-go', { mode: 'fail' });
    expect(failed.body.toString()).toBe('partial');
    const end = await failed.result.stream?.ended;
    expect(end?.error?.errorType).toBe('BrokenStreamError');
    expect(JSON.parse(end?.error?.payload.toString() ?? '{}')).toMatchObject({ errorType: 'BrokenStreamError', errorMessage: 'the stream broke' });
  }, 180_000);

  it('Go, called without acceptStream (Invoke): the reader is buffered, and a Read error is the function\'s error', async () => {
    const whole = await invoke('stream-go', { gapMs: 50 }, false);
    expect(whole.result.stream).toBeUndefined();
    expect(whole.result.outcome).toBe('success');
    expect(whole.body.toString()).toBe('firstsecond');
    const failed = await invoke('stream-go', { mode: 'fail' }, false);
    expect(failed.result.stream).toBeUndefined();
    expect(failed.result.outcome).not.toBe('success');
    expect(failed.result.errorType).toBe('BrokenStreamError');
    expect(JSON.parse(failed.body.toString())).toMatchObject({ errorType: 'BrokenStreamError', errorMessage: 'the stream broke' });
  }, 60_000);

  it('provided: a custom runtime posting the streamed /response itself (curl -T -)', async () => {
    const s = await invoke('stream-shell', {});
    expectStreamedAsWritten(s);
    expect(s.result.stream?.contentType).toBe('text/event-stream');
    expect(s.body.toString()).toBe('data: one\n\ndata: two\n\n');
    expect((await s.result.stream?.ended)?.error).toBeUndefined();
  }, 60_000);

  it('Python does not stream: its answer comes whole, once the handler returns', async () => {
    const s = await invoke('whole-python', {});
    expect(s.result.stream).toBeUndefined();
    expect(s.result.outcome).toBe('success');
    expect(JSON.parse(s.body.toString())).toEqual({ whole: true });
  }, 60_000);

  it('Python through InvokeWithResponseStream (AWS SDK v3): one PayloadChunk holding the whole answer, then InvokeComplete', async () => {
    const lambda = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    try {
      const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'whole-python', Payload: Buffer.from('{}') }));
      const events: string[] = [];
      const chunks: string[] = [];
      for await (const e of out.EventStream ?? []) {
        if (e.PayloadChunk) {
          events.push('PayloadChunk');
          chunks.push(Buffer.from(e.PayloadChunk.Payload ?? new Uint8Array()).toString());
        }
        if (e.InvokeComplete) {
          events.push('InvokeComplete');
          expect(e.InvokeComplete.ErrorCode).toBeUndefined();
        }
      }
      expect(events).toEqual(['PayloadChunk', 'InvokeComplete']);
      expect(JSON.parse(chunks[0] ?? '')).toEqual({ whole: true });
    } finally {
      lambda.destroy();
    }
  }, 60_000);

  it('Go through InvokeWithResponseStream (AWS SDK v3): the chunks as the reader gives them', async () => {
    const lambda = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    try {
      const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'stream-go', Payload: Buffer.from('{}') }));
      const chunks: { at: number; text: string }[] = [];
      let completeAt = 0;
      for await (const e of out.EventStream ?? []) {
        if (e.PayloadChunk) chunks.push({ at: Date.now(), text: Buffer.from(e.PayloadChunk.Payload ?? new Uint8Array()).toString() });
        if (e.InvokeComplete) {
          completeAt = Date.now();
          expect(e.InvokeComplete.ErrorCode).toBeUndefined();
        }
      }
      expect(chunks.map((c) => c.text).join('')).toBe('firstsecond');
      expect(completeAt - (chunks[0]?.at ?? completeAt)).toBeGreaterThanOrEqual(400);
    } finally {
      lambda.destroy();
    }
  }, 60_000);
});
