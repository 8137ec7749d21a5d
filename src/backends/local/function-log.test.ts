import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FunctionLogFiles, logText, needsRotation, rotation, versionedLine } from './function-log.js';
import { STAMP_BYTES } from '../../logs/log-lines.js';

describe('needsRotation: does a write start a fresh file', () => {
  it.each([
    { current: 0, bytes: 10, max: 100, want: false },
    { current: 90, bytes: 10, max: 100, want: false },
    { current: 91, bytes: 10, max: 100, want: true },
    // an empty file takes even a write over the cap: rotating would not help
    { current: 0, bytes: 150, max: 100, want: false },
  ])('$current + $bytes of $max → $want', ({ current, bytes, max, want }) => {
    expect(needsRotation(current, bytes, max)).toBe(want);
  });
});

describe('rotation: how the files shift and what is lost', () => {
  it.each([
    { name: 'two files: NAME.log becomes NAME.log.1, the old .1 is lost', sizes: [100, 70], files: 2, want: { sizes: [0, 100], lostBytes: 70, renames: [[0, 1]] } },
    { name: 'first rotation loses nothing', sizes: [100, 0], files: 2, want: { sizes: [0, 100], lostBytes: 0, renames: [[0, 1]] } },
    { name: 'three files shift oldest first', sizes: [100, 80, 60], files: 3, want: { sizes: [0, 100, 80], lostBytes: 60, renames: [[1, 2], [0, 1]] } },
    { name: 'one file starts over', sizes: [100], files: 1, want: { sizes: [0], lostBytes: 100, renames: [] } },
  ])('$name', ({ sizes, files, want }) => {
    expect(rotation(sizes, files)).toEqual(want);
  });
});

describe('logText', () => {
  it.each([
    { line: 'hello', cut: 0, want: 'hello\n' },
    { line: 'hel', cut: 7, want: 'hel [hearth: 7 bytes cut]\n' },
  ])('$line, $cut cut', ({ line, cut, want }) => {
    expect(logText(line, cut)).toBe(want);
  });
});

describe('versionedLine', () => {
  it.each([
    { line: 'hello', version: '$LATEST', want: 'hello' },
    { line: 'hello', version: '3', want: '[3] hello' },
    { line: '', version: '12', want: '[12] ' },
  ])('$line of $version', ({ line, version, want }) => {
    expect(versionedLine(line, version)).toBe(want);
  });
});

describe('FunctionLogFiles', () => {
  it('keeps each file within its cap, rotates, and counts what rotation and cutting dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fnlog-'));
    const logs = new FunctionLogFiles(dir, { maxFileBytes: 1000, files: 3 });
    const sink = logs.sink('f');
    const line = 'x'.repeat(99 - STAMP_BYTES); // 100 bytes with its time stamp and newline
    for (let i = 0; i < 55; i++) {
      if (!sink.write({ functionName: 'f', line, stream: 'stdout', cutBytes: 0 })) await sink.drained();
    }
    sink.write({ functionName: 'f', line: 'cut', stream: 'stderr', cutBytes: 5 });
    await logs.close();
    expect(readdirSync(dir).sort()).toEqual(['f.log', 'f.log.1', 'f.log.2']);
    const sizes = ['f.log', 'f.log.1', 'f.log.2'].map((f) => statSync(join(dir, f)).size);
    for (const s of sizes) expect(s).toBeLessThanOrEqual(1000);
    const dropped = Object.fromEntries([...logs.dropped()].map((d) => [d.reason, d.bytes]));
    // 5,500 bytes of lines: 1,000 + 1,000 + the newest 500 kept, then the cut marker line.
    expect(sizes).toEqual([500 + STAMP_BYTES + 'cut [hearth: 5 bytes cut]\n'.length, 1000, 1000]);
    expect(dropped).toEqual({ rotated: 3000, cut: 5 });
    expect(readFileSync(join(dir, 'f.log'), 'utf8').endsWith('cut [hearth: 5 bytes cut]\n')).toBe(true);
  });

  it('appends to the log a previous run left and counts its size toward the cap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fnlog-'));
    let logs = new FunctionLogFiles(dir, { maxFileBytes: 1000, files: 2 });
    for (let i = 0; i < 6; i++) logs.sink('g').write({ functionName: 'g', line: 'y'.repeat(99 - STAMP_BYTES), stream: 'stdout', cutBytes: 0 });
    await logs.close();
    logs = new FunctionLogFiles(dir, { maxFileBytes: 1000, files: 2 });
    for (let i = 0; i < 6; i++) logs.sink('g').write({ functionName: 'g', line: 'z'.repeat(99 - STAMP_BYTES), stream: 'stdout', cutBytes: 0 });
    await logs.close();
    expect(statSync(join(dir, 'g.log.1')).size).toBe(1000);
    expect(statSync(join(dir, 'g.log')).size).toBe(200);
  });

  it('writes every version of a function into its one log, a version\'s lines marked [N]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fnlog-'));
    const logs = new FunctionLogFiles(dir, { maxFileBytes: 1000, files: 2 }, undefined, () => Date.UTC(2026, 11, 7, 5, 0, 0, 123));
    logs.sink('h').write({ functionName: 'h', line: 'from latest', stream: 'stdout', cutBytes: 0 });
    logs.sink('h', '2').write({ functionName: 'h:2', line: 'from two', stream: 'stdout', cutBytes: 0 });
    logs.sink('h', '$LATEST').write({ functionName: 'h', line: 'latest again', stream: 'stderr', cutBytes: 0 });
    await logs.close();
    expect(readdirSync(dir)).toEqual(['h.log']);
    expect(readFileSync(join(dir, 'h.log'), 'utf8')).toBe(['from latest', '[2] from two', 'latest again'].map((l) => `2026-12-07T05:00:00.123Z ${l}\n`).join(''));
  });
});
