import { describe, expect, it } from 'vitest';
import { lastLines } from './logs.js';

describe('lastLines: the tail of a log kept in rotated files', () => {
  it.each([
    { name: 'from the newest file alone', files: ['c\nd\n', 'a\nb\n'], n: 2, want: ['c', 'd'] },
    { name: 'reaching into the older file', files: ['c\nd\n', 'a\nb\n'], n: 3, want: ['b', 'c', 'd'] },
    { name: 'everything, oldest first', files: ['c\nd\n', 'a\nb\n'], n: 0, want: ['a', 'b', 'c', 'd'] },
    { name: 'more than is kept', files: ['c\n', 'a\n'], n: 10, want: ['a', 'c'] },
    { name: 'a last line without its newline', files: ['c\nd'], n: 1, want: ['d'] },
    { name: 'an empty newest file', files: ['', 'a\nb\n'], n: 1, want: ['b'] },
    { name: 'no files', files: [], n: 5, want: [] },
  ])('$name', ({ files, n, want }) => {
    expect(lastLines(files, n)).toEqual(want);
  });
});
