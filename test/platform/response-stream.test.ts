// Streamed responses through the embedded gateway, as clients see them:
// AWS SDK v3's InvokeWithResponseStreamCommand and boto3's
// invoke_with_response_stream get each chunk as the handler writes it (the
// handler writes, waits 500 ms, writes: the first chunk is in the client's
// hands at least 400 ms before the end), and a failure mid-stream as
// InvokeComplete.ErrorCode; curl -N on a RESPONSE_STREAM function URL sees
// server-sent events one at a time; a timeout mid-stream cuts the URL's
// response; 100 MB pass through /fn with the gateway's memory flat; and a
// client that leaves mid-stream frees the instance for the next call. Real
// Node.js and Python runtime processes behind the gateway.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { get, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import {
  InvalidParameterValueException,
  InvokeWithResponseStreamCommand,
  LambdaClient,
  ResourceNotFoundException,
  type InvokeWithResponseStreamCompleteEvent,
} from '@aws-sdk/client-lambda';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromCredentialsFile, type CredentialsFileAuth } from '../../src/gateway/auth/credentials-file.js';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { AWS_PYTHON } from '../helpers/aws-cli.js';
import { functionYaml, node, py, startPlatform } from '../helpers/platform.js';
import { until, waitFor } from '../helpers/wait.js';
import { zipBytes } from '../packages/zip-bytes.js';

type Platform = Awaited<ReturnType<typeof startPlatform>>;

const MIB = 1024 * 1024;

/** Writes, waits 500 ms, writes. A URL call answers through HttpResponseStream (202, text/event-stream, a cookie); ?fail throws after the first write, ?early before it, ?hang outlives the 2 s timeout. */
const SSE = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ask = event.requestContext ? (event.queryStringParameters ?? {}) : event;
  if (event.requestContext) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 202, headers: { 'Content-Type': 'text/event-stream', 'X-Sse': 'yes' }, cookies: ['s=1; Path=/'] });
  }
  console.log('streaming');
  if (ask.early) throw new RangeError('failed before writing');
  responseStream.write('data: one\\n\\n');
  await sleep(500);
  if (ask.fail) throw new TypeError('broke mid-stream');
  if (ask.hang) await sleep(10_000);
  responseStream.write('data: two\\n\\n');
  responseStream.end();
});
`;

/** Writes ?mb (or event.mb) MiB in 64 KiB chunks, waiting for 'drain' as a Writable's writer should. */
const BIG = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const mb = Number(event.requestContext ? event.queryStringParameters?.mb : event.mb) || 1;
  const chunk = Buffer.alloc(64 * 1024, 97);
  for (let i = 0; i < mb * 16; i++) {
    if (!responseStream.write(chunk)) await new Promise((r) => responseStream.once('drain', r));
  }
  responseStream.end();
});
`;

/** A plain stream (no prelude): 'a', 500 ms, 'b'. */
const PLAIN = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/plain');
  responseStream.write('a');
  await new Promise((r) => setTimeout(r, 500));
  responseStream.write('b');
  responseStream.end();
});
`;

/**
 * A custom runtime (provided) that posts the Runtime API's streamed /response
 * itself with curl: an http-integration prelude (418, or one that is not JSON
 * when the event says "bad"), 8 NULs, then a second later the body.
 */
const RAW_BOOTSTRAP = `#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  # The path, not any "bad": the event holds random hex ids (a request id with "bad3" in it once made the good call bad).
  case "$EVENT" in
    */bad*) PRELUDE='not json' ;;
    *) PRELUDE='{"statusCode":418,"headers":{"content-type":"text/plain"}}' ;;
  esac
  { printf '%s' "$PRELUDE"; head -c 8 /dev/zero; sleep 1; printf 'short and stout'; } |
    curl -sS -T - -X POST -H 'Expect:' -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
      -H 'Content-Type: application/vnd.awslambda.http-integration-response' "$API/invocation/$ID/response" >/dev/null
  rm -f "$HEADERS"
done
`;

const FUNCTIONS = {
  sse: { ...node(SSE), timeoutSeconds: 2, url: { invokeMode: 'RESPONSE_STREAM' }, aliases: [{ name: 'live', version: '$LATEST' }] },
  // One at a time: a stream that is never released would keep the next call out.
  big: { ...node(BIG), timeoutSeconds: 60, reservedConcurrency: 1, url: { invokeMode: 'RESPONSE_STREAM' } },
  // Its own URL buffers; the alias's streams.
  plain: { ...node(PLAIN), timeoutSeconds: 10, aliases: [{ name: 'live', version: '$LATEST', url: { invokeMode: 'RESPONSE_STREAM' } }] },
  'whole-python': { ...py('import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return {"whole": True}\n'), timeoutSeconds: 10, url: { invokeMode: 'RESPONSE_STREAM' } },
} satisfies Record<string, FunctionSpecInput>;

interface Timed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  chunks: { at: number; data: Buffer }[];
  endAt: number;
  /** The response ended cleanly (the chunked end arrived). */
  complete: boolean;
  body: Buffer;
}

/**
 * GET with node:http, timing each chunk; `onChunk` may pause the response or
 * end the call (destroy). `keep: false` counts the bytes without holding
 * them (`received`; body and chunks stay empty), for a large body.
 */
function timedGet(url: string, onChunk?: (res: IncomingMessage, received: number) => void, keep = true): Promise<Timed & { received: number }> {
  return new Promise((done, fail) => {
    const req = get(url, (res) => {
      const chunks: { at: number; data: Buffer }[] = [];
      let received = 0;
      res.on('data', (data: Buffer) => {
        if (keep) chunks.push({ at: Date.now(), data });
        received += data.length;
        onChunk?.(res, received);
      });
      res.on('error', () => undefined);
      res.on('close', () =>
        done({ status: res.statusCode ?? 0, headers: res.headers, chunks, endAt: Date.now(), complete: res.complete, body: Buffer.concat(chunks.map((c) => c.data)), received }),
      );
    });
    req.on('error', (err) => fail(err));
  });
}

interface SdkStream {
  status: number | undefined;
  version: string | undefined;
  chunks: { at: number; data: string }[];
  complete: InvokeWithResponseStreamCompleteEvent | undefined;
  endAt: number;
}

function boto3Present(): boolean {
  const present = existsSync(AWS_PYTHON) && existsSync(join(resolve('.cache/awscli'), '.awscli-boto3'));
  if (!present && process.env.CI === 'true') throw new Error('boto3 is required under CI=true (make test installs it into .cache/awscli)');
  return present;
}

describe('streamed responses through the embedded gateway', () => {
  let platform: Platform;
  let lambda: LambdaClient;

  beforeAll(async () => {
    // No pace after the burst, so 100 MB pass in seconds (the pace itself is tested with the limits).
    platform = await startPlatform(FUNCTIONS, { streamLimits: { maxBytes: 200 * MIB, burstBytes: 6 * MIB, bytesPerSecond: 0 } });
    lambda = new LambdaClient({ endpoint: platform.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    // A package with an executable bootstrap, written beside the others once the platform watches the directory.
    writeFileSync(join(platform.dir, 'raw.zip'), zipBytes([{ name: 'bootstrap', data: RAW_BOOTSTRAP, mode: 0o100755 }]));
    writeFileSync(join(platform.dir, 'raw.yaml'), functionYaml('raw', { runtime: 'provided', timeoutSeconds: 10, code: { package: { path: 'raw.zip' } }, url: { invokeMode: 'RESPONSE_STREAM' } }));
    await waitFor('the raw function', () => platform.catalog.get('raw') !== undefined, 20_000);
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await platform?.close();
  });

  async function sdkStream(input: ConstructorParameters<typeof InvokeWithResponseStreamCommand>[0]): Promise<SdkStream> {
    const out = await lambda.send(new InvokeWithResponseStreamCommand(input));
    const chunks: { at: number; data: string }[] = [];
    let complete: InvokeWithResponseStreamCompleteEvent | undefined;
    for await (const ev of out.EventStream ?? []) {
      if (ev.PayloadChunk) chunks.push({ at: Date.now(), data: Buffer.from(ev.PayloadChunk.Payload ?? []).toString() });
      if (ev.InvokeComplete) complete = ev.InvokeComplete;
    }
    return { status: out.StatusCode, version: out.ExecutedVersion, chunks, complete, endAt: Date.now() };
  }

  it('AWS SDK v3 InvokeWithResponseStreamCommand gets each chunk as the handler writes it', async () => {
    const s = await sdkStream({ FunctionName: 'sse', Payload: Buffer.from('{}') });
    expect(s.status).toBe(200);
    expect(s.version).toBe('$LATEST');
    expect(s.chunks.map((c) => c.data)).toEqual(['data: one\n\n', 'data: two\n\n']);
    expect(s.complete).toEqual({});
    expect(s.endAt - (s.chunks[0]?.at ?? s.endAt)).toBeGreaterThanOrEqual(400);
  }, 60_000);

  it('an error mid-stream reaches the SDK as InvokeComplete.ErrorCode, after what was written', async () => {
    const s = await sdkStream({ FunctionName: 'sse', Payload: Buffer.from('{"fail":true}') });
    expect(s.chunks.map((c) => c.data)).toEqual(['data: one\n\n']);
    expect(s.complete).toEqual({ ErrorCode: 'TypeError', ErrorDetails: 'broke mid-stream' });
  }, 60_000);

  it('a timeout mid-stream: InvokeComplete.ErrorCode Sandbox.Timedout', async () => {
    const s = await sdkStream({ FunctionName: 'sse', Payload: Buffer.from('{"hang":true}') });
    expect(s.chunks.map((c) => c.data)).toEqual(['data: one\n\n']);
    expect(s.complete?.ErrorCode).toBe('Sandbox.Timedout');
    expect(s.complete?.ErrorDetails).toMatch(/timed out/i);
  }, 60_000);

  it('LogType Tail: InvokeComplete.LogResult holds the invocation\'s log; an alias names the version that ran', async () => {
    const s = await sdkStream({ FunctionName: 'sse', Qualifier: 'live', LogType: 'Tail', Payload: Buffer.from('{}') });
    expect(s.version).toBe('$LATEST');
    expect(Buffer.from(s.complete?.LogResult ?? '', 'base64').toString()).toContain('streaming');
  }, 60_000);

  it('a function that does not stream (Python) answers in one PayloadChunk', async () => {
    const s = await sdkStream({ FunctionName: 'whole-python', Payload: Buffer.from('{}') });
    expect(s.chunks.map((c) => JSON.parse(c.data) as unknown)).toEqual([{ whole: true }]);
    expect(s.complete).toEqual({});
  }, 60_000);

  it('DryRun is 204; Event is refused; an unknown function is ResourceNotFoundException', async () => {
    expect((await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'sse', InvocationType: 'DryRun' }))).StatusCode).toBe(204);
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'sse', InvocationType: 'Event' as 'DryRun' }))).rejects.toBeInstanceOf(InvalidParameterValueException);
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'sse', Qualifier: 'nope' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  }, 60_000);

  const boto3 = boto3Present();
  it.skipIf(!boto3)('boto3 invoke_with_response_stream gets each chunk as written, and the error as InvokeComplete.ErrorCode', async () => {
    const script = resolve('test/platform/response_stream_boto3.py');
    const args = [script, 'sse', 'sse={"fail": true}', 'whole-python'];
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(AWS_PYTHON, args, { env: { PATH: process.env.PATH ?? '', HOME: platform.dir, HEARTH_ENDPOINT: platform.url }, timeout: 120_000 }, (err, stdout, stderr) =>
        done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 124, stdout, stderr }),
      ),
    );
    expect(out.code, out.stderr).toBe(0);
    type Run = { status: number; version: string; contentType: string; events: Array<{ at: number; chunk?: string; complete?: Record<string, string> }>; endAt: number };
    const runs = JSON.parse(out.stdout) as Record<string, Run>;
    const ok = runs.sse as Run;
    expect(ok.status).toBe(200);
    expect(ok.contentType).toBe('application/vnd.amazon.eventstream');
    expect(ok.events.map((e) => e.chunk ?? e.complete)).toEqual(['data: one\n\n', 'data: two\n\n', {}]);
    expect(ok.endAt - (ok.events[0]?.at ?? ok.endAt)).toBeGreaterThanOrEqual(400);
    const failed = runs['sse={"fail": true}'] as Run;
    expect(failed.events.map((e) => e.chunk ?? e.complete)).toEqual(['data: one\n\n', { ErrorCode: 'TypeError', ErrorDetails: 'broke mid-stream' }]);
    expect((runs['whole-python'] as Run).events.map((e) => e.chunk ?? e.complete)).toEqual(['{"whole": true}', {}]);
  }, 180_000);

  it('curl -N on a RESPONSE_STREAM function URL sees the server-sent events one at a time, with the prelude\'s status, headers and cookies', async () => {
    const started = Date.now();
    const seen: { at: number; text: string }[] = [];
    const code = await new Promise<number>((done) => {
      const curl = spawn('curl', ['-sS', '-N', '-i', '--max-time', '30', `${platform.url}/fn/sse/events`], { stdio: ['ignore', 'pipe', 'inherit'] });
      curl.stdout.on('data', (d: Buffer) => seen.push({ at: Date.now(), text: d.toString() }));
      curl.on('close', (c) => done(c ?? -1));
    });
    expect(code).toBe(0);
    const all = seen.map((s) => s.text).join('');
    expect(all).toMatch(/^HTTP\/1\.1 202 /);
    expect(all).toMatch(/\r\ncontent-type: text\/event-stream\r\n/i);
    expect(all).toMatch(/\r\nx-sse: yes\r\n/i);
    expect(all).toMatch(/\r\nset-cookie: s=1; Path=\/\r\n/i);
    expect(all.endsWith('\r\n\r\ndata: one\n\ndata: two\n\n')).toBe(true);
    const at = (text: string) => seen.find((_, i) => seen.slice(0, i + 1).map((s) => s.text).join('').includes(text))?.at ?? Number.NaN;
    // The first event is on curl's output alone, at least 400 ms before the second.
    expect(at('data: two') - at('data: one')).toBeGreaterThanOrEqual(400);
    expect(at('data: one') - started).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('a timeout mid-stream cuts the URL\'s response: the client sees it incomplete (curl: transfer closed, exit 18)', async () => {
    const r = await timedGet(`${platform.url}/fn/sse/?hang=1`);
    expect(r.status).toBe(202);
    expect(r.body.toString()).toBe('data: one\n\n');
    expect(r.complete).toBe(false);
    const code = await new Promise<number>((done) => {
      const curl = spawn('curl', ['-sS', '-N', '-o', '/dev/null', '--max-time', '30', `${platform.url}/fn/sse/?hang=1`], { stdio: 'ignore' });
      curl.on('close', (c) => done(c ?? -1));
    });
    expect(code).toBe(18);
  }, 60_000);

  it('an error mid-stream cuts the URL\'s response too, also one before the first write once the prelude is out', async () => {
    const r = await timedGet(`${platform.url}/fn/sse/?fail=1`);
    expect(r.status).toBe(202);
    expect(r.body.toString()).toBe('data: one\n\n');
    expect(r.complete).toBe(false);
    // The runtime sends the prelude even when the handler failed before writing: the status is out, so the body is cut.
    const early = await timedGet(`${platform.url}/fn/sse/?early=1`);
    expect(early.status).toBe(202);
    expect(early.body.length).toBe(0);
    expect(early.complete).toBe(false);
  }, 60_000);

  it('the URL\'s invoke mode decides: an alias URL in RESPONSE_STREAM streams, the function\'s BUFFERED URL answers at once', async () => {
    const streamed = await timedGet(`${platform.url}/fn/plain:live/`);
    expect(streamed.status).toBe(200);
    expect(streamed.headers['content-type']).toBe('text/plain');
    expect(streamed.body.toString()).toBe('ab');
    expect(streamed.complete).toBe(true);
    expect(streamed.endAt - (streamed.chunks[0]?.at ?? streamed.endAt)).toBeGreaterThanOrEqual(400);
    const buffered = await timedGet(`${platform.url}/fn/plain/`);
    expect(buffered.status).toBe(200);
    expect(buffered.body.toString()).toBe('ab');
    expect(buffered.endAt - (buffered.chunks[0]?.at ?? 0)).toBeLessThan(400);
    // A function that does not stream, behind a RESPONSE_STREAM URL: answered as a BUFFERED URL answers it.
    const whole = await timedGet(`${platform.url}/fn/whole-python/`);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-type']).toBe('application/json');
    expect(JSON.parse(whole.body.toString())).toEqual({ whole: true });
    expect(whole.complete).toBe(true);
  }, 60_000);

  it('a custom runtime posting the streamed /response itself: the prelude\'s status goes out at once; a prelude that is not JSON is a bare 502', async () => {
    let headersAt = 0;
    const r = await new Promise<Timed>((done, fail) => {
      const req = get(`${platform.url}/fn/raw/`, (res) => {
        headersAt = Date.now();
        const chunks: { at: number; data: Buffer }[] = [];
        res.on('data', (data: Buffer) => chunks.push({ at: Date.now(), data }));
        res.on('close', () => done({ status: res.statusCode ?? 0, headers: res.headers, chunks, endAt: Date.now(), complete: res.complete, body: Buffer.concat(chunks.map((c) => c.data)) }));
      });
      req.on('error', fail);
    });
    // Say what came, should it ever fail.
    expect(r.status, `${r.status} ${JSON.stringify(r.headers)} ${r.body.toString().slice(0, 300)}`).toBe(418);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.body.toString()).toBe('short and stout');
    expect(r.complete).toBe(true);
    expect(r.endAt - headersAt).toBeGreaterThanOrEqual(400);
    const bad = await timedGet(`${platform.url}/fn/raw/bad`);
    expect(bad.status).toBe(502);
    expect(JSON.parse(bad.body.toString())).toEqual({ message: 'Internal Server Error' });
  }, 60_000);

  it('100 MB through /fn to a client that keeps pausing: the gateway\'s memory stays flat (RSS growth under 64 MB)', async () => {
    // Warm: the runtime started, the code paths compiled, the buffers grown once.
    expect((await timedGet(`${platform.url}/fn/big/?mb=8`, undefined, false)).received).toBe(8 * MIB);
    const baseline = process.memoryUsage();
    let peakRss = baseline.rss;
    let peakHeap = baseline.heapUsed;
    let nextPause = 8 * MIB;
    const r = await timedGet(`${platform.url}/fn/big/?mb=100`, (res, received) => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      // A slow reader every 8 MiB: without back-pressure the function would pile its output up in the gateway meanwhile.
      if (received >= nextPause) {
        nextPause += 8 * MIB;
        res.pause();
        setTimeout(() => res.resume(), 150);
      }
    }, false);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.received).toBe(100 * MIB);
    expect(peakRss - baseline.rss, `RSS ${baseline.rss} -> peak ${peakRss}; heap ${baseline.heapUsed} -> peak ${peakHeap}`).toBeLessThan(64 * MIB);
  }, 180_000);

  it('a client that leaves mid-stream frees the instance: the next call runs, long before the function\'s timeout', async () => {
    // 100 MiB is far more than every buffer on the way holds: had the gateway kept the body, the function would wait on it until its 60 s timeout.
    const left = await timedGet(`${platform.url}/fn/big/?mb=100`, (res) => res.destroy(), false);
    expect(left.complete).toBe(false);
    // reservedConcurrency 1: until the first call is done, the next is throttled (429).
    const next = await until(
      'the next call to run',
      async () => {
        const r = await timedGet(`${platform.url}/fn/big/?mb=1`);
        return r.status === 429 ? undefined : r;
      },
      30_000,
      200,
    );
    expect(next.status).toBe(200);
    expect(next.body.length).toBe(MIB);
  }, 90_000);
});

describe('InvokeWithResponseStream is authorised as lambda:InvokeFunction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-stream-auth-'));
  const callers = {
    invoker: { accessKeyId: 'AKIAHEARTHSTREAM001', secretAccessKey: 'stream-invoker-secret-0123456789' },
    urlOnly: { accessKeyId: 'AKIAHEARTHSTREAM002', secretAccessKey: 'stream-url-secret-0123456789' },
    other: { accessKeyId: 'AKIAHEARTHSTREAM003', secretAccessKey: 'stream-other-secret-0123456789' },
  };
  let platform: Platform | undefined;
  let auth: CredentialsFileAuth | undefined;

  beforeAll(async () => {
    const file = join(dir, 'credentials.yaml');
    writeFileSync(
      file,
      stringify({
        callers: [
          // No actions: the defaults, lambda:InvokeFunction and lambda:InvokeFunctionUrl.
          { name: 'invoker', ...callers.invoker, functions: ['sse'] },
          { name: 'url-only', ...callers.urlOnly, functions: ['sse'], actions: ['lambda:InvokeFunctionUrl'] },
          { name: 'other', ...callers.other, functions: ['other'] },
        ],
      }),
    );
    auth = await authFromCredentialsFile(file);
    platform = await startPlatform({ sse: FUNCTIONS.sse }, { auth: auth.options });
  }, 120_000);

  afterAll(async () => {
    await platform?.close();
    auth?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new LambdaClient({ endpoint: platform?.url ?? '', region: 'us-east-1', credentials, maxAttempts: 1 });

  it('a caller allowed lambda:InvokeFunction on the function streams; one allowed only function URLs, or only another function, is refused', async () => {
    const ok = client(callers.invoker);
    const out = await ok.send(new InvokeWithResponseStreamCommand({ FunctionName: 'sse', Payload: Buffer.from('{}') }));
    const chunks: string[] = [];
    for await (const ev of out.EventStream ?? []) if (ev.PayloadChunk) chunks.push(Buffer.from(ev.PayloadChunk.Payload ?? []).toString());
    expect(chunks).toEqual(['data: one\n\n', 'data: two\n\n']);
    ok.destroy();
    for (const who of [callers.urlOnly, callers.other]) {
      const refused = client(who);
      await expect(refused.send(new InvokeWithResponseStreamCommand({ FunctionName: 'sse', Payload: Buffer.from('{}') }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
      refused.destroy();
    }
  }, 60_000);
});
