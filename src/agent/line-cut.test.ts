import { describe, expect, it } from 'vitest';
import { LineCutter, utf8CutPoint } from './line-cut.js';

function cut(max: number, chunks: Array<string | Buffer>, flush = true): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const c = new LineCutter(max, (line, n) => out.push([line, n]));
  for (const ch of chunks) c.write(typeof ch === 'string' ? Buffer.from(ch) : ch);
  if (flush) c.flush();
  return out;
}

describe('LineCutter: lines of a runtime output, each cut to the line cap', () => {
  it.each([
    { name: 'short lines pass whole', max: 8, chunks: ['ab\ncd\n'], want: [['ab', 0], ['cd', 0]] },
    { name: 'a line split across chunks is joined', max: 8, chunks: ['ab', 'cd\n'], want: [['abcd', 0]] },
    { name: 'CRLF loses its CR', max: 8, chunks: ['ab\r\n'], want: [['ab', 0]] },
    { name: 'empty lines are lines', max: 8, chunks: ['\n\n'], want: [['', 0], ['', 0]] },
    { name: 'exactly the cap is kept', max: 4, chunks: ['abcd\n'], want: [['abcd', 0]] },
    { name: 'exactly the cap plus CR is kept', max: 4, chunks: ['abcd\r\n'], want: [['abcd', 0]] },
    { name: 'one byte over is cut', max: 4, chunks: ['abcde\n'], want: [['abcd', 1]] },
    { name: 'an overlong line over many chunks counts every cut byte', max: 4, chunks: ['abcdef', 'ghij', 'kl\nok\n'], want: [['abcd', 8], ['ok', 0]] },
    { name: 'no newline at the end: flushed on end', max: 8, chunks: ['ab\ncd'], want: [['ab', 0], ['cd', 0]] },
    { name: 'a cut never splits a UTF-8 character', max: 4, chunks: ['abc\u00e9z\n'], want: [['abc', 3]] },
  ])('$name', ({ max, chunks, want }) => {
    expect(cut(max, chunks)).toEqual(want);
  });

  it('a gigabyte without a newline keeps one line cap in memory and counts the rest', () => {
    const out: Array<[string, number]> = [];
    const c = new LineCutter(1024, (line, n) => out.push([line.slice(0, 3), n]));
    const mib = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i < 1024; i++) c.write(mib);
    c.flush();
    expect(out).toEqual([['xxx', 1024 * 1024 * 1024 - 1024]]);
  });

  it('keeps a partial last line until more comes', () => {
    expect(cut(8, ['ab'], false)).toEqual([]);
  });
});

describe('utf8CutPoint', () => {
  it.each([
    { text: 'abcd', max: 2, want: 2 },
    { text: 'ab', max: 4, want: 2 },
    { text: 'a\u00e9', max: 2, want: 1 }, // é is 2 bytes: cutting at 2 would split it
    { text: 'a\u20ac', max: 3, want: 1 }, // € is 3 bytes
    { text: 'a\u20ac', max: 4, want: 4 },
  ])('$text at $max → $want', ({ text, max, want }) => {
    expect(utf8CutPoint(Buffer.from(text), max)).toBe(want);
  });
});
