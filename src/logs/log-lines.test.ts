import { describe, expect, it } from 'vitest';
import type { HearthFunction } from '../api/function.js';
import { logsQuery } from '../gateway/plugins/logs-api.js';
import { fileLines } from './file-source.js';
import { lastOf, lineVersion, mergeByTime, parseSince, parseStampedLine, qualifierVersions, showLine, stampLine, STAMP_BYTES, type LogLine } from './log-lines.js';
import { containerLine, functionPodSelector, podVersion } from './pod-source.js';

const T = Date.UTC(2026, 11, 7, 5, 0, 0, 123);
const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

describe('stampLine / parseStampedLine: a line and the time it was written', () => {
  it('round-trips, and the stamp is STAMP_BYTES long', () => {
    expect(stampLine('hello', T)).toBe('2026-12-07T05:00:00.123Z hello');
    expect(parseStampedLine(stampLine('hello world', T))).toEqual({ timeMs: T, text: 'hello world' });
    expect(stampLine('', T).length).toBe(STAMP_BYTES);
  });
  it.each([
    { name: "the kubelet's nanoseconds", raw: '2026-12-07T05:00:00.123456789Z line', want: { timeMs: T, text: 'line' } },
    { name: 'trimmed fraction', raw: '2026-12-07T05:00:00.1Z line', want: { timeMs: T - 23, text: 'line' } },
    { name: 'no fraction', raw: '2026-12-07T05:00:00Z line', want: { timeMs: T - 123, text: 'line' } },
    { name: 'no stamp (a file written before lines had times)', raw: 'plain line', want: { timeMs: undefined, text: 'plain line' } },
    { name: 'a time with no space after it is text', raw: '2026-12-07T05:00:00.123Zx', want: { timeMs: undefined, text: '2026-12-07T05:00:00.123Zx' } },
    { name: 'an empty line after the stamp', raw: '2026-12-07T05:00:00.123Z ', want: { timeMs: T, text: '' } },
  ])('$name', ({ raw, want }) => {
    expect(parseStampedLine(raw)).toEqual(want);
  });
});

describe('parseSince: --since as aws logs tail takes it', () => {
  it.each([
    { value: '10m', want: NOW - 600_000 },
    { value: '45s', want: NOW - 45_000 },
    { value: '1h30m', want: NOW - 5_400_000 },
    { value: '2d', want: NOW - 172_800_000 },
    { value: '0s', want: NOW },
    { value: '2026-12-07T05:00:00.123Z', want: T },
    { value: '2026-12-07', want: Date.UTC(2026, 11, 7) },
    { value: '', want: undefined },
    { value: '10', want: undefined },
    { value: '10x', want: undefined },
    { value: 'm', want: undefined },
    { value: '2026-13-45', want: undefined },
  ])('$value', ({ value, want }) => {
    expect(parseSince(value, NOW)).toBe(want);
  });
});

describe('showLine: what hearth logs prints', () => {
  it.each([
    { l: { timeMs: T, text: 'hi' }, want: '2026-12-07T05:00:00.123Z hi' },
    { l: { timeMs: T, stream: 'fn-abc-123', text: 'hi' }, want: '2026-12-07T05:00:00.123Z fn-abc-123 hi' },
    { l: { timeMs: undefined, text: 'old' }, want: '- old' },
  ])('$want', ({ l, want }) => {
    expect(showLine(l)).toBe(want);
  });
});

describe("lineVersion: the version an embedded log line belongs to", () => {
  it.each([
    { text: 'from latest', want: '$LATEST' },
    { text: '[3] from three', want: '3' },
    { text: '[x] not a version', want: '$LATEST' },
    { text: '[3]no space', want: '$LATEST' },
  ])('$text', ({ text, want }) => {
    expect(lineVersion(text)).toBe(want);
  });
});

describe('fileLines: a log file\'s text, filtered by version and time', () => {
  const text = [stampLine('a', T), stampLine('[1] b', T + 1000), stampLine('c', T + 2000), 'unstamped', stampLine('partial', T + 3000)].join('\n');
  it.each([
    { name: 'everything, the last line without its newline held back', q: {}, want: ['a', '[1] b', 'c', 'unstamped'], rest: stampLine('partial', T + 3000) },
    { name: "$LATEST's lines", q: { versions: new Set(['$LATEST']) }, want: ['a', 'c', 'unstamped'] },
    { name: "version 1's lines", q: { versions: new Set(['1']) }, want: ['[1] b'] },
    { name: 'since a time: lines at or after it, none without a time', q: { sinceMs: T + 1000 }, want: ['[1] b', 'c'] },
  ])('$name', ({ q, want, rest }) => {
    const got = fileLines(text, q);
    expect(got.lines.map((l) => l.text)).toEqual(want);
    if (rest !== undefined) expect(got.rest).toBe(rest);
  });
});

describe('lastOf and mergeByTime', () => {
  const l = (t: number, stream: string): LogLine => ({ timeMs: t, stream, text: `${stream}@${t}` });
  it.each([
    { name: 'two pods interleaved', streams: [[l(1, 'a'), l(3, 'a')], [l(2, 'b'), l(4, 'b')]], n: 0, want: ['a@1', 'b@2', 'a@3', 'b@4'] },
    { name: 'equal times keep the pods in order', streams: [[l(1, 'a')], [l(1, 'b')]], n: 0, want: ['a@1', 'b@1'] },
    { name: 'the last N of the merge', streams: [[l(1, 'a'), l(3, 'a')], [l(2, 'b'), l(4, 'b')]], n: 2, want: ['a@3', 'b@4'] },
    { name: 'more asked than kept', streams: [[l(1, 'a')]], n: 5, want: ['a@1'] },
    { name: 'no pods', streams: [], n: 5, want: [] },
  ])('$name', ({ streams, n, want }) => {
    expect(lastOf(mergeByTime(streams), n).map((x) => x.text)).toEqual(want);
  });
});

describe('qualifierVersions: whose lines a qualifier asks for', () => {
  const fn = {
    metadata: { name: 'f' },
    spec: { aliases: [{ name: 'live', version: '2', additionalVersionWeights: { '3': 0.1 } }, { name: 'dev', version: '$LATEST' }] },
  } as unknown as HearthFunction;
  const published = new Set(['1', '2', '3']);
  it.each([
    { q: undefined, want: undefined },
    { q: '$LATEST', want: ['$LATEST'] },
    { q: '1', want: ['1'] },
    { q: 'live', want: ['2', '3'] },
    { q: 'dev', want: ['$LATEST'] },
  ])('$q', ({ q, want }) => {
    const r = qualifierVersions(fn, published, q);
    expect(r.ok && (r.versions === undefined ? undefined : [...r.versions])).toEqual(want);
  });
  it.each([
    { q: '9', message: 'version 9 of f does not exist' },
    { q: 'nope', message: 'f has no alias nope' },
  ])('$q is not found', ({ q, message }) => {
    expect(qualifierVersions(fn, published, q)).toEqual({ ok: false, message });
  });
});

describe("containerLine and the pods: a function pod's lines as the API gives them", () => {
  it.each([
    { name: "the kubelet's stamp", raw: '2026-12-07T05:00:00.123456789Z hello', want: { timeMs: T, stream: 'p', text: 'hello' } },
    { name: 'a JSON line (logging format JSON) is a line like any other', raw: '2026-12-07T05:00:00.123Z {"level":"INFO"}', want: { timeMs: T, stream: 'p', text: '{"level":"INFO"}' } },
    { name: 'no stamp', raw: 'plain', want: { timeMs: undefined, stream: 'p', text: 'plain' } },
  ])('runtime container: $name', ({ raw, want }) => {
    expect(containerLine(raw, 'p', 'runtime')).toEqual(want);
  });
  it.each([
    { name: 'a platform.report the agent wrote for the function', raw: `2026-12-07T05:00:00.123Z ${JSON.stringify({ level: 30, time: 1, fn: 'f', stream: 'stdout', requestId: 'r', msg: '{"type":"platform.report","record":{"requestId":"r"}}' })}`, want: { timeMs: T, stream: 'p', text: '{"type":"platform.report","record":{"requestId":"r"}}' } },
    { name: 'a platform record (JSON format)', raw: `2026-12-07T05:00:00.123Z ${JSON.stringify({ fn: 'f', msg: '{"type":"platform.start"}' })}`, want: { timeMs: T, stream: 'p', text: '{"type":"platform.start"}' } },
    { name: "the agent's own log", raw: '2026-12-07T05:00:00.123Z {"level":30,"time":1,"msg":"invoke endpoint listening"}', want: undefined },
    { name: 'not JSON', raw: '2026-12-07T05:00:00.123Z started', want: undefined },
    { name: 'JSON but no object', raw: '2026-12-07T05:00:00.123Z [1]', want: undefined },
    { name: 'broken JSON', raw: '2026-12-07T05:00:00.123Z {"fn":', want: undefined },
  ])('agent container: $name', ({ raw, want }) => {
    expect(containerLine(raw, 'p', 'agent')).toEqual(want);
  });
  it('selects every pod of a function and reads their version from their labels', () => {
    expect(functionPodSelector('f')).toBe('app.kubernetes.io/name=f,app.kubernetes.io/managed-by=hearth');
    expect(podVersion({ 'hearth.dev/function': 'f' })).toBe('$LATEST');
    expect(podVersion({ 'hearth.dev/version-of': 'f', 'hearth.dev/version': '4' })).toBe('4');
    expect(podVersion({ 'hearth.dev/pool': 'python' })).toBeUndefined();
  });
});

describe('logsQuery: the logs route query', () => {
  it.each([
    { q: {}, want: { lines: 100, sinceMs: undefined, follow: false } },
    { q: { lines: '0', follow: 'true', since: '10m' }, want: { lines: 0, sinceMs: NOW - 600_000, follow: true } },
    { q: { lines: '5', follow: 'false' }, want: { lines: 5, sinceMs: undefined, follow: false } },
  ])('$q', ({ q, want }) => {
    expect(logsQuery(q, NOW)).toEqual(want);
  });
  it.each([{ lines: '-1' }, { lines: '1.5' }, { lines: '10001' }, { since: 'yesterday' }, { follow: 'yes' }])('refuses %o', (q) => {
    expect(() => logsQuery(q, NOW)).toThrow(/lines|since|follow/);
  });
});
