// Lambda's streaming limits, configurable: the stream flags of `hearth up` and
// `hearth gateway` read over Lambda's defaults, and the limits a gateway is
// given kept on a real stream: a Node.js function that streams
// (awslambda.streamifyResponse) called with InvokeWithResponseStream through
// the embedded platform (and through a RESPONSE_STREAM function URL, cut
// short; Invoke left whole), and through `hearth up` started with the flags
// as a child process. The pace holds the function itself back.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { checkServeFlags, parseStreamLimitFlags } from '../../src/cli/serve-flags.js';
import { decodeMessages } from '../../src/streaming/event-stream.js';
import { startChildPlatform, type ChildPlatform } from '../faults/child-platform.js';
import { node, startPlatform, writeFunctions } from '../helpers/platform.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// Writes event.bytes bytes (through a function URL: ?bytes=N) in 64 KiB pieces as fast as the caller takes them.
const STREAMER = `import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const piece = Buffer.alloc(${64 * KiB}, 'x');
  async function* pieces() {
    for (let left = Number(event.bytes ?? event.queryStringParameters?.bytes ?? 0); left > 0; left -= piece.length) yield left >= piece.length ? piece : piece.subarray(0, left);
  }
  await pipeline(Readable.from(pieces()), responseStream);
});
`;
const FUNCTIONS = {
  streamer: { ...node(STREAMER), timeoutSeconds: 30 },
  'streamer-url': { ...node(STREAMER), timeoutSeconds: 30, url: { invokeMode: 'RESPONSE_STREAM' as const } },
};

interface Streamed {
  bytes: number;
  /** From sending the request to the response's end. */
  ms: number;
  complete: Record<string, unknown>;
}

/** InvokeWithResponseStream, its event stream read to the end: the PayloadChunk bytes and the InvokeComplete. */
async function invokeStreaming(url: string, bytes: number): Promise<Streamed> {
  const t0 = performance.now();
  const res = await fetch(`${url}/2021-11-15/functions/streamer/response-streaming-invocations`, { method: 'POST', body: JSON.stringify({ bytes }) });
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  const { messages, rest } = decodeMessages(body);
  expect(rest.length).toBe(0);
  const chunks = messages.filter((m) => m.headers[':event-type'] === 'PayloadChunk');
  const last = messages.at(-1);
  expect(last?.headers[':event-type']).toBe('InvokeComplete');
  return { bytes: chunks.reduce((n, m) => n + m.payload.length, 0), ms, complete: JSON.parse(last?.payload.toString() ?? '{}') as Record<string, unknown> };
}

/** A RESPONSE_STREAM function URL read with node:http: the body bytes, and whether the response came to its clean end. */
function getUrlStream(url: string, bytes: number): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/fn/streamer-url/?bytes=${bytes}`, (res) => {
      let received = 0;
      res.on('data', (d: Buffer) => (received += d.length));
      // 'close' comes either way: after 'end', or when the connection was cut mid-body.
      res.once('close', () => resolve({ status: res.statusCode ?? 0, bytes: received, complete: res.complete }));
      res.on('error', () => undefined);
    });
    req.once('error', reject);
    req.end();
  });
}

const base = { host: '127.0.0.1', port: '0', 'no-auth': false };

describe('the stream flags', () => {
  it("default to Lambda's limits: 200 MiB, the first 6 MiB at full speed, then 2 MiB/s", () => {
    expect(checkServeFlags(base)).toMatchObject({ streamLimits: { maxBytes: 200 * MiB, burstBytes: 6 * MiB, bytesPerSecond: 2 * MiB } });
    expect(checkServeFlags(parseGatewayArgs(['--no-auth']))).toMatchObject({ streamLimits: { maxBytes: 200 * MiB, burstBytes: 6 * MiB, bytesPerSecond: 2 * MiB } });
  });

  it('are read by hearth up and hearth gateway; what is not given stays Lambda\'s', () => {
    const up = checkServeFlags({ ...base, 'stream-max-bytes': '1048576', 'stream-burst-bytes': '64K', 'stream-bytes-per-second': '0' });
    expect(up).toMatchObject({ streamLimits: { maxBytes: MiB, burstBytes: 64 * KiB, bytesPerSecond: 0 } });
    const gw = checkServeFlags(parseGatewayArgs(['--no-auth', '--stream-max-bytes=1G', '--stream-bytes-per-second', '10Mi']));
    expect(gw).toMatchObject({ streamLimits: { maxBytes: 1024 * MiB, burstBytes: 6 * MiB, bytesPerSecond: 10 * MiB } });
  });

  it.each([
    [{ 'stream-max-bytes': '0' }, '--stream-max-bytes must be a number of bytes of at least 1 (K, M, G accepted, e.g. 200M), not 0'],
    [{ 'stream-max-bytes': 'lots' }, '--stream-max-bytes must be a number of bytes of at least 1 (K, M, G accepted, e.g. 200M), not lots'],
    [{ 'stream-max-bytes': '' }, '--stream-max-bytes must be a number of bytes of at least 1 (K, M, G accepted, e.g. 200M), not '],
    [{ 'stream-burst-bytes': '-1' }, '--stream-burst-bytes must be a number of bytes of at least 0 (K, M, G accepted, e.g. 200M), not -1'],
    [{ 'stream-burst-bytes': '1.5M' }, '--stream-burst-bytes must be a number of bytes of at least 0 (K, M, G accepted, e.g. 200M), not 1.5M'],
    [{ 'stream-bytes-per-second': '2MB/s' }, '--stream-bytes-per-second must be a number of bytes of at least 0 (K, M, G accepted, e.g. 200M), not 2MB/s'],
  ])('refuse %o', (flags, problem) => {
    expect(parseStreamLimitFlags(flags)).toBe(problem);
    expect(checkServeFlags({ ...base, ...flags })).toBe(problem);
  });

  it('take 0 for no burst and for no pace', () => {
    expect(parseStreamLimitFlags({ 'stream-burst-bytes': '0', 'stream-bytes-per-second': '0' })).toEqual({ maxBytes: 200 * MiB, burstBytes: 0, bytesPerSecond: 0 });
  });
});

describe('the embedded platform keeps the stream limits it is given', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  beforeAll(async () => {
    platform = await startPlatform(FUNCTIONS, { streamLimits: { maxBytes: 1536 * KiB, burstBytes: 64 * KiB, bytesPerSecond: MiB } });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
  });

  it('cuts a stream at maxBytes, InvokeComplete saying Function.ResponseSizeTooLarge, and the function is free again', async () => {
    const url = platform?.url ?? '';
    const cut = await invokeStreaming(url, 2 * MiB);
    expect(cut.bytes).toBe(1536 * KiB);
    expect(cut.complete.ErrorCode).toBe('Function.ResponseSizeTooLarge');
    // The instance the cut function ran on is not lost: a stream within the limit follows in full.
    const next = await invokeStreaming(url, 100 * KiB);
    expect(next).toMatchObject({ bytes: 100 * KiB, complete: {} });
  }, 60_000);

  it('cuts a RESPONSE_STREAM function URL at maxBytes: the response stops there without its clean end', async () => {
    const r = await getUrlStream(platform?.url ?? '', 2 * MiB);
    expect(r).toEqual({ status: 200, bytes: 1536 * KiB, complete: false });
  }, 60_000);

  it('leaves callers that do not stream alone: Invoke gets the whole 2 MiB, unpaced', async () => {
    const res = await fetch(`${platform?.url ?? ''}/2015-03-31/functions/streamer/invocations`, { method: 'POST', body: JSON.stringify({ bytes: 2 * MiB }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect((await res.arrayBuffer()).byteLength).toBe(2 * MiB);
  }, 60_000);

  it('paces a stream past its burst: 1 MiB with a 64 KiB burst at 1 MiB/s takes at least 0.9 s', async () => {
    const paced = await invokeStreaming(platform?.url ?? '', MiB);
    expect(paced).toMatchObject({ bytes: MiB, complete: {} });
    // (1 MiB - 64 KiB) at 1 MiB/s is 0.94 s.
    expect(paced.ms).toBeGreaterThanOrEqual(900);
  }, 60_000);
});

describe("the embedded platform without stream limits keeps Lambda's", () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  beforeAll(async () => {
    platform = await startPlatform(FUNCTIONS);
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
  });

  it('passes 6 MiB at full speed and paces the rest to 2 MiB/s: 8 MiB take at least 1 s, all of them arriving', async () => {
    const s = await invokeStreaming(platform?.url ?? '', 8 * MiB);
    expect(s).toMatchObject({ bytes: 8 * MiB, complete: {} });
    expect(s.ms).toBeGreaterThanOrEqual(950);
  }, 60_000);
});

describe('a paced stream holds the function back, not buffered in the gateway', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  beforeAll(async () => {
    platform = await startPlatform(FUNCTIONS, { streamLimits: { maxBytes: 200 * MiB, burstBytes: 0, bytesPerSecond: 8 * MiB } });
  }, 60_000);
  afterAll(async () => {
    await platform?.close();
  });

  it('32 MiB at 8 MiB/s, read as fast as they come: the function, writing as fast as it can, runs at least 2 s of the 4', async () => {
    const result = await platform?.dispatcher.invoke({ functionName: 'streamer', requestId: randomUUID(), payload: Buffer.from(JSON.stringify({ bytes: 32 * MiB })), type: 'sync', acceptStream: true });
    let bytes = 0;
    for await (const c of result?.stream?.body ?? []) bytes += (c as Buffer).length;
    const end = await result?.stream?.ended;
    expect(bytes).toBe(32 * MiB);
    expect(end?.error).toBeUndefined();
    // Unpaced it writes 32 MiB in a fraction of a second; what runs ahead of the pace is only what the sockets between hold (a few MB).
    expect(end?.durationMs).toBeGreaterThanOrEqual(2000);
  }, 60_000);
});

describe('hearth up with the stream flags', () => {
  let up: ChildPlatform | undefined;
  afterEach(async () => {
    await up?.crash();
    up?.killAll();
  });

  it('keeps them on the streams it serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-stream-flags-'));
    writeFunctions(dir, FUNCTIONS);
    up = await startChildPlatform(['--dir', dir, '--port', '0', '--stream-max-bytes', '100K', '--stream-burst-bytes', '0', '--stream-bytes-per-second', '0'], 60_000);
    const cut = await invokeStreaming(up.url, MiB);
    expect(cut.bytes).toBe(100 * KiB);
    expect(cut.complete.ErrorCode).toBe('Function.ResponseSizeTooLarge');
  }, 120_000);
});
