// Streamed responses (InvokeWithResponseStream, RESPONSE_STREAM function
// URLs) meeting faults on either side: callers that leave mid-stream, a
// caller that stops reading, a runtime that dies mid-stream and one that
// overruns its timeout. Each asserts what the caller sees, that nothing is
// held afterwards (the one-slot function serves the next call, no
// invocation left in flight) and, for the stalled reader, that the
// gateway's memory does not follow the function's output. Real Node.js
// runtimes behind the embedded gateway, in this process (its RSS is the
// gateway's).
import { get, request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessages } from '../../src/streaming/event-stream.js';
import { node, startPlatform } from '../helpers/platform.js';
import { FaultLog, type CaseRecorder } from './collector.js';
import { waitFor } from './support.js';

const log = FaultLog.forFile(import.meta.url);
let platform: Awaited<ReturnType<typeof startPlatform>>;
const MIB = 1024 * 1024;

/** Writes `mb` MiB in 64 KiB chunks as a Writable's writer should (waiting for 'drain'), after `delay` ms; `crash`: SIGKILLs its own runtime after the first chunk; `hang`: sleeps past the timeout after it. */
const STREAMER = `export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const ask = event.requestContext ? (event.queryStringParameters ?? {}) : event;
  const chunk = Buffer.alloc(64 * 1024, 97);
  const mb = Number(ask.mb) || 1;
  if (ask.delay) await new Promise((r) => setTimeout(r, Number(ask.delay)));
  for (let i = 0; i < mb * 16; i++) {
    if (!responseStream.write(chunk)) await new Promise((r) => responseStream.once('drain', r));
    if (i === 0 && ask.crash) {
      await new Promise((r) => setTimeout(r, 200));
      process.kill(process.pid, 'SIGKILL');
    }
    if (i === 0 && ask.hang) await new Promise((r) => setTimeout(r, 10_000));
  }
  responseStream.end();
});
`;

beforeAll(async () => {
  platform = await startPlatform(
    { streamer: { ...node(STREAMER), timeoutSeconds: 2, reservedConcurrency: 1, url: { invokeMode: 'RESPONSE_STREAM' } }, patient: { ...node(STREAMER), timeoutSeconds: 60, reservedConcurrency: 1, url: { invokeMode: 'RESPONSE_STREAM' } } },
    { streamLimits: { maxBytes: 200 * MIB, burstBytes: 6 * MIB, bytesPerSecond: 0 } },
  );
}, 120_000);

afterAll(async () => {
  await platform?.close();
  log.flush();
});

interface Read {
  status: number;
  bytes: number;
  /** The response's chunked end arrived. */
  complete: boolean;
  body: Buffer;
}

/** A call whose answer is read by `onData` (which may pause or destroy it); keeps at most `keep` bytes. */
function call(method: 'GET' | 'POST', path: string, body: string, onData?: (res: IncomingMessage, bytes: number) => void, keep = 1 * MIB): Promise<Read> {
  return new Promise((done, fail) => {
    const handle = (res: IncomingMessage) => {
      let bytes = 0;
      const kept: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        if (bytes < keep) kept.push(d);
        bytes += d.length;
        onData?.(res, bytes);
      });
      res.on('error', () => undefined);
      res.on('close', () => done({ status: res.statusCode ?? 0, bytes, complete: res.complete, body: Buffer.concat(kept) }));
    };
    const req = method === 'GET' ? get(`${platform.url}${path}`, handle) : request(`${platform.url}${path}`, { method }, handle);
    req.on('error', fail);
    if (method === 'POST') req.end(body);
  });
}

const streamPath = (fn: string) => `/2021-11-15/functions/${fn}/response-streaming-invocations`;

/** InvokeWithResponseStream's events, decoded: PayloadChunk bytes and the InvokeComplete JSON. */
function events(body: Buffer): { payloadBytes: number; complete?: Record<string, string> } {
  const { messages } = decodeMessages(body);
  let payloadBytes = 0;
  let complete: Record<string, string> | undefined;
  for (const m of messages) {
    if (m.headers[':event-type'] === 'PayloadChunk') payloadBytes += m.payload.length;
    if (m.headers[':event-type'] === 'InvokeComplete') complete = JSON.parse(m.payload.toString()) as Record<string, string>;
  }
  return { payloadBytes, ...(complete ? { complete } : {}) };
}

async function inFlight(): Promise<number> {
  const r = await call('GET', '/metrics', '', undefined, 16 * MIB);
  let sum = 0;
  for (const line of r.body.toString().split('\n')) if (line.startsWith('hearth_inflight_invocations{')) sum += Number(line.split(' ').at(-1));
  return sum;
}

/** The one-slot function takes a call again (a 429 while it is still held), answered whole. */
async function servesAgain(fn: string): Promise<Read> {
  return waitFor(
    `${fn} to take a call`,
    async () => {
      const r = await call('GET', `/fn/${fn}/?mb=1`, '', undefined, 2 * MIB);
      return r.status === 429 ? undefined : r;
    },
    30_000,
    200,
  );
}

/** After a caller left at `started`: the one-slot function serves the next call whole; says how long that took. */
async function servedAfterLeaving(rec: CaseRecorder, via: 'api' | 'url', started: number): Promise<string> {
  const next = await servesAgain('patient');
  expect(next.status).toBe(200);
  expect(next.bytes).toBe(MIB);
  rec.tried();
  return `${via}: next call after ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/** Resolves 0 once no invocation is in flight (bounded). */
function noneInFlight(): Promise<number> {
  return waitFor('nothing in flight', async () => ((await inFlight()) === 0 ? 0 : undefined), 10_000);
}

describe('callers of a streamed response that leave, stall or outlive the function', () => {
  it('callers that leave mid-stream release it: the next call runs long before the 60 s timeout', { timeout: 120_000 }, async () => {
    await log.run(
      'fault',
      'callers leave a 100 MiB stream after its first chunk (InvokeWithResponseStream and a RESPONSE_STREAM function URL, 3 each; function with reservedConcurrency 1, timeout 60 s)',
      'the stream is released at once; the function runs to its end, writing into nothing; the next call runs within 30 s; no invocation left in flight',
      async (rec) => {
        const seen: string[] = [];
        for (let i = 0; i < 3; i++) {
          for (const via of ['api', 'url'] as const) {
            const started = Date.now();
            const left = via === 'api' ? await call('POST', `${streamPath('patient')}`, '{"mb":100}', (res) => res.destroy()) : await call('GET', '/fn/patient/?mb=100', '', (res) => res.destroy());
            expect(left.complete).toBe(false);
            seen.push(await servedAfterLeaving(rec, via, started));
          }
        }
        rec.observe(`${seen.join(', ')}; in flight afterwards: ${await noneInFlight()}`);
      },
    );
  });

  it('callers that leave before the stream begins release it too', { timeout: 120_000 }, async () => {
    await log.run(
      'fault',
      'callers leave 100 ms into a call whose function starts its 100 MiB stream after 1 s (InvokeWithResponseStream and a RESPONSE_STREAM function URL; reservedConcurrency 1, timeout 60 s)',
      'the stream that comes after the caller left is released at once; the next call runs within 30 s; no invocation left in flight',
      async (rec) => {
        const seen: string[] = [];
        for (const via of ['api', 'url'] as const) {
          const started = Date.now();
          await new Promise<void>((done) => {
            const onRes = (res: IncomingMessage) => res.destroy();
            const req = via === 'api' ? request(`${platform.url}${streamPath('patient')}`, { method: 'POST' }, onRes) : get(`${platform.url}/fn/patient/?mb=100&delay=1000`, onRes);
            req.on('error', () => done());
            req.on('close', () => done());
            if (via === 'api') req.end('{"mb":100,"delay":1000}');
            setTimeout(() => req.destroy(), 100);
          });
          seen.push(await servedAfterLeaving(rec, via, started));
        }
        rec.observe(`${seen.join(', ')}; in flight afterwards: ${await noneInFlight()}`);
      },
    );
  });

  it('a caller that stops reading holds the function back, not the gateway\'s memory', { timeout: 120_000 }, async () => {
    await log.run(
      'fault',
      'a RESPONSE_STREAM function URL caller stops reading a 100 MiB stream for 3 s after 8 MiB, then reads on',
      'the function waits on its writes; the gateway\'s RSS stays within 64 MB of where it started; all 100 MiB arrive',
      async (rec) => {
        await call('GET', '/fn/patient/?mb=8', '', undefined, 0);
        const before = process.memoryUsage.rss();
        let peak = before;
        let stalled = false;
        const r = await call(
          'GET',
          '/fn/patient/?mb=100',
          '',
          (res, bytes) => {
            peak = Math.max(peak, process.memoryUsage.rss());
            if (!stalled && bytes >= 8 * MIB) {
              stalled = true;
              res.pause();
              const ticker = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
              setTimeout(() => {
                clearInterval(ticker);
                res.resume();
              }, 3000);
            }
          },
          0,
        );
        rec.tried();
        expect(r.status).toBe(200);
        expect(r.complete).toBe(true);
        expect(r.bytes).toBe(100 * MIB);
        const mb = (n: number) => `${(n / MIB).toFixed(0)} MB`;
        rec.observe(`all ${mb(r.bytes)} arrived; gateway RSS ${mb(before)} before, peak ${mb(peak)} (+${mb(peak - before)})`);
        expect(peak - before).toBeLessThan(64 * MIB);
      },
    );
  });

  it('a runtime that dies mid-stream: Runtime.ExitError after what was written, the URL\'s response cut; the function serves again', { timeout: 120_000 }, async () => {
    await log.run(
      'fault',
      'runtime SIGKILLed mid-stream (InvokeWithResponseStream and a RESPONSE_STREAM function URL)',
      'InvokeWithResponseStream: the first chunk, then InvokeComplete ErrorCode Runtime.ExitError; function URL: 200 with the first chunk, then the connection cut (no chunked end); the next call runs on a new runtime',
      async (rec) => {
        const api = await call('POST', streamPath('streamer'), '{"mb":4,"crash":true}', undefined, 16 * MIB);
        const ev = events(api.body);
        expect(api.status).toBe(200);
        expect(api.complete).toBe(true);
        expect(ev.payloadBytes).toBe(64 * 1024);
        expect(ev.complete?.ErrorCode).toBe('Runtime.ExitError');
        rec.tried();
        const url = await call('GET', '/fn/streamer/?mb=4&crash=1', '');
        expect(url.status).toBe(200);
        expect(url.bytes).toBe(64 * 1024);
        expect(url.complete).toBe(false);
        rec.tried();
        const next = await servesAgain('streamer');
        expect(next.status).toBe(200);
        rec.observe(`API: ${ev.payloadBytes} bytes then InvokeComplete ${JSON.stringify(ev.complete)}; URL: ${url.status}, ${url.bytes} bytes, cut; next call ${next.status} with ${next.bytes} bytes`);
      },
    );
  });

  it('a function that overruns its timeout mid-stream: Sandbox.Timedout, the URL\'s response cut; the function serves again', { timeout: 120_000 }, async () => {
    await log.run(
      'fault',
      'function hangs past timeoutSeconds (2 s) mid-stream (InvokeWithResponseStream and a RESPONSE_STREAM function URL)',
      'InvokeWithResponseStream: the first chunk, then InvokeComplete ErrorCode Sandbox.Timedout; function URL: 200 with the first chunk, then the connection cut; the next call runs',
      async (rec) => {
        const api = await call('POST', streamPath('streamer'), '{"mb":4,"hang":true}', undefined, 16 * MIB);
        const ev = events(api.body);
        expect(ev.payloadBytes).toBe(64 * 1024);
        expect(ev.complete?.ErrorCode).toBe('Sandbox.Timedout');
        rec.tried();
        const url = await call('GET', '/fn/streamer/?mb=4&hang=1', '');
        expect(url.status).toBe(200);
        expect(url.bytes).toBe(64 * 1024);
        expect(url.complete).toBe(false);
        rec.tried();
        const next = await servesAgain('streamer');
        expect(next.status).toBe(200);
        rec.observe(`API: ${ev.payloadBytes} bytes then InvokeComplete ${JSON.stringify(ev.complete)}; URL: ${url.status}, ${url.bytes} bytes, cut; next call ${next.status}`);
      },
    );
  });
});
