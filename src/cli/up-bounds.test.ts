import { describe, expect, it } from 'vitest';
import { parseSize, parseUpBounds } from './up-bounds.js';

describe('parseSize', () => {
  it.each([
    { raw: '1048576', want: 1048576 },
    { raw: '10M', want: 10 * 1024 ** 2 },
    { raw: '64MiB', want: 64 * 1024 ** 2 },
    { raw: '1g', want: 1024 ** 3 },
    { raw: '512k', want: 512 * 1024 },
    { raw: '1.5M', want: undefined },
    { raw: '-1', want: undefined },
    { raw: '10T', want: undefined },
    { raw: '', want: undefined },
  ])('$raw → $want', ({ raw, want }) => {
    expect(parseSize(raw)).toBe(want);
  });
});

describe('parseUpBounds: hearth up --function-log-* and --queue-max-*', () => {
  it('defaults: 10 MiB × 2 log files, 128 MiB and 10,000 records in the queue', () => {
    expect(parseUpBounds({})).toEqual({ functionLogs: { maxFileBytes: 10 * 1024 ** 2, files: 2 }, memoryQueue: { maxBytes: 128 * 1024 ** 2, maxRecords: 10_000 } });
  });

  it.each([
    { flags: { 'function-log-max-bytes': '4M', 'function-log-files': '3' }, want: { functionLogs: { maxFileBytes: 4 * 1024 ** 2, files: 3 } } },
    { flags: { 'queue-max-bytes': '64M', 'queue-max-records': '500' }, want: { memoryQueue: { maxBytes: 64 * 1024 ** 2, maxRecords: 500 } } },
  ])('$flags', ({ flags, want }) => {
    expect(parseUpBounds(flags)).toMatchObject(want);
  });

  it.each([
    { flags: { 'function-log-max-bytes': '1000' }, says: '--function-log-max-bytes must be a size of at least 1048576' },
    { flags: { 'function-log-files': '0' }, says: '--function-log-files must be a whole number from 1 to 100' },
    { flags: { 'function-log-files': 'two' }, says: '--function-log-files' },
    { flags: { 'queue-max-bytes': '1M' }, says: '--queue-max-bytes must be a size of at least 16777216' },
    { flags: { 'queue-max-records': '0' }, says: '--queue-max-records' },
  ])('refuses $flags', ({ flags, says }) => {
    expect(parseUpBounds(flags)).toContain(says);
  });
});
