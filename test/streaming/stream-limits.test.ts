// Lambda's streaming limits as the gateway keeps them. (A caller that cannot
// stream gets the runtime's streamed post read whole by the agent:
// agent-stream.test.ts.)
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { limitStream, paceDelayMs } from '../../src/streaming/stream-limits.js';
import type { ResponseStream, StreamEnd } from '../../src/streaming/response-stream.js';

const MiB = 1024 * 1024;

function streamOf(chunks: Buffer[], end: Omit<StreamEnd, 'bytes'> = { durationMs: 5 }): ResponseStream & { destroyed: () => boolean } {
  const body = Readable.from(chunks, { objectMode: false });
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  return { contentType: 'text/plain', body, ended: Promise.resolve({ ...end, bytes }), destroyed: () => body.destroyed };
}

async function read(s: ResponseStream): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s.body) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('paceDelayMs', () => {
  it.each([
    // sent, elapsed, burst, rate, expected wait
    [5 * MiB, 0, 6 * MiB, 2 * MiB, 0],
    [6 * MiB, 0, 6 * MiB, 2 * MiB, 0],
    [8 * MiB, 0, 6 * MiB, 2 * MiB, 1000],
    [8 * MiB, 400, 6 * MiB, 2 * MiB, 600],
    [8 * MiB, 2000, 6 * MiB, 2 * MiB, 0],
    [100 * MiB, 0, 6 * MiB, 0, 0],
  ])('%d bytes sent %d ms in (burst %d, %d B/s): wait %d ms', (sent, elapsed, burstBytes, bytesPerSecond, wait) => {
    expect(paceDelayMs(sent, elapsed, { burstBytes, bytesPerSecond })).toBeCloseTo(wait, 6);
  });
});

describe('limitStream', () => {
  it('passes a stream within the limits unchanged, with its own end', async () => {
    const s = limitStream(streamOf([Buffer.from('ab'), Buffer.from('cd')]), { maxBytes: 10, burstBytes: 10, bytesPerSecond: 0 });
    expect((await read(s)).toString()).toBe('abcd');
    expect((await s.ended).error).toBeUndefined();
  });

  it('cuts a stream at maxBytes and ends it with Function.ResponseSizeTooLarge at once', async () => {
    const source = streamOf([Buffer.from('abcdef'), Buffer.from('ghij')]);
    const s = limitStream(source, { maxBytes: 8, burstBytes: 100, bytesPerSecond: 0 });
    expect((await read(s)).toString()).toBe('abcdefgh');
    const end = await s.ended;
    expect(end.error?.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(end.bytes).toBe(8);
    expect(source.destroyed()).toBe(true);
  });

  it('holds chunks past the burst back to the pace', async () => {
    const s = limitStream(streamOf([Buffer.alloc(1000), Buffer.alloc(1000), Buffer.alloc(1000)]), { maxBytes: 10_000, burstBytes: 1000, bytesPerSecond: 10_000 });
    const t0 = performance.now();
    expect((await read(s)).length).toBe(3000);
    // 2000 bytes past the burst at 10,000 B/s: 200 ms at least.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });
});
