// The agent reads a runtime's output with back-pressure and a line cap, the
// pod's way (StreamSink, JSON lines on a stream): while the stream does not
// take more, the agent stops reading the runtime's pipe; once the stream
// drains, every line arrives. A real runtime process (the fixture) writes.
import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { StreamSink } from '../../src/agent/output-sink.js';
import { spawnLauncher } from '../../src/agent/spawn-launcher.js';
import { waitFor } from '../helpers/wait.js';
import { FAKE_RUNTIME, request, silent } from './helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A stream that takes nothing until opened, as a stdout nobody reads. */
function gatedStream(): { out: Writable; lines: string[]; open(): void; bytes(): number } {
  const lines: string[] = [];
  const held: Array<() => void> = [];
  let opened = false;
  let bytes = 0;
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      lines.push(chunk.toString('utf8'));
      if (opened) done();
      else held.push(done);
    },
  });
  return {
    out,
    lines,
    // What it was given: the chunk it holds and those queued behind it.
    bytes: () => bytes + out.writableLength,
    open: () => {
      opened = true;
      for (const done of held.splice(0)) done();
    },
  };
}

it('stops reading the runtime while the output stream is behind, cuts overlong lines, and loses no line', { timeout: 30_000 }, async () => {
  const gate = gatedStream();
  const agent = new Agent({
    functionName: 'chatty',
    logger: silent,
    timeoutSeconds: 20,
    maxLineBytes: 2000,
    output: new StreamSink(gate.out),
    launcher: spawnLauncher({ command: process.execPath, args: [FAKE_RUNTIME], env: { PATH: process.env.PATH ?? '' } }),
  });
  closers.push(() => agent.close());
  await agent.start();
  // 20,000 lines of about 1 KB, then one of 5,000 bytes: 20 MB the stream does not take yet.
  const lines = Array.from({ length: 20_000 }, (_, i) => `${String(i).padStart(6, '0')} ${'y'.repeat(1000)}`);
  lines.push('L'.repeat(5000));
  const result = await agent.invoke(request({ action: 'log', lines }, { timeoutMs: 20_000 }));
  expect(result.outcome).toBe('success');
  // A Node runtime keeps what its pipe does not take in its own memory and
  // answers (a Python one blocks on the write, test/faults/hostile-output):
  // either way the agent has read no more than the stream took, its 64 KiB
  // and what one read brings, not the 20 MB.
  await new Promise((r) => setTimeout(r, 500));
  expect(gate.bytes()).toBeGreaterThan(64 * 1024);
  expect(gate.bytes()).toBeLessThan(1024 * 1024);

  gate.open();
  await waitFor('every line', async () => gate.lines.length >= 20_002, 20_000);
  const got = gate.lines.map((l) => JSON.parse(l) as { msg: string; cutBytes?: number; requestId?: string; fn: string });
  const written = got.filter((g) => g.msg.includes('\tINFO\t') && g.cutBytes === undefined);
  expect(written).toHaveLength(20_000);
  expect(written.every((g, i) => g.msg.endsWith(`\tINFO\t${lines[i] ?? ''}`) && g.fn === 'chatty')).toBe(true);
  // The long line carries the timestamp and id before it: cut at 2,000 bytes, the rest counted.
  const long = got.find((g) => g.cutBytes !== undefined);
  expect(long?.msg).toHaveLength(2000);
  const prefix = (long?.msg ?? '').slice(0, (long?.msg ?? '').indexOf('\tINFO\t') + 6);
  expect(prefix.length).toBeGreaterThan(6);
  expect((long?.msg.length ?? 0) + (long?.cutBytes ?? 0)).toBe(prefix.length + 5000);
});
