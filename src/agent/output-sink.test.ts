import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamSink } from './output-sink.js';

describe('StreamSink: a pod function output on the container stdout', () => {
  it('writes one JSON line per output line, with the function, stream, request id and what was cut', () => {
    const got: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _e, done) {
        got.push(chunk.toString());
        done();
      },
    });
    const sink = new StreamSink(out);
    sink.write({ functionName: 'f', line: 'hello', stream: 'stdout', requestId: 'r1', cutBytes: 0 });
    sink.write({ functionName: 'f', line: 'long', stream: 'stderr', cutBytes: 9 });
    const [a, b] = got.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 30, fn: 'f', stream: 'stdout', requestId: 'r1', msg: 'hello' });
    expect(a).not.toHaveProperty('cutBytes');
    expect(b).toMatchObject({ fn: 'f', stream: 'stderr', cutBytes: 9, msg: 'long' });
    expect(b).not.toHaveProperty('requestId');
    expect(got.every((l) => l.endsWith('}\n'))).toBe(true);
  });

  it('says when the stream is behind and resolves drained() once it has caught up', async () => {
    const pending: Array<() => void> = [];
    const out = new Writable({
      highWaterMark: 64,
      write(_chunk, _e, done) {
        pending.push(done);
      },
    });
    const sink = new StreamSink(out);
    expect(sink.write({ functionName: 'f', line: 'x'.repeat(100), stream: 'stdout', cutBytes: 0 })).toBe(false);
    let drained = false;
    const wait = sink.drained().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    for (const done of pending.splice(0)) done();
    await wait;
    expect(drained).toBe(true);
    await expect(sink.drained()).resolves.toBeUndefined();
  });
});
