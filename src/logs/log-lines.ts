// What `hearth logs` shows, whatever the logs come from: a function's lines
// with the time each was written. The embedded platform's log files carry
// that time in front of each line (`2026-12-07T05:00:00.123Z line`, as the
// kubelet's pod log API answers with timestamps=true), so both sources are
// read the same way. Pure.
import { LATEST, VERSION_NUMBER, type HearthFunction } from '../api/function.js';

export interface LogLine {
  /** When the line was written (ms since the epoch); undefined for a line written before lines carried times. */
  timeMs: number | undefined;
  /** Where it came from when a function has several writers at once: a pod's name in a cluster; undefined on the embedded platform (one file). */
  stream?: string;
  text: string;
}

/** A line as the embedded log writer stores it: its time, a space, the line. */
export function stampLine(text: string, timeMs: number): string {
  return `${new Date(timeMs).toISOString()} ${text}`;
}

/** The length of the prefix stampLine puts in front of a line (ISO time and a space). */
export const STAMP_BYTES = stampLine('', 0).length;

// RFC 3339 in UTC as toISOString and the kubelet write it: seconds, then up to 9 fraction digits.
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z /;

/** A stored or API line split into its time and its text; a line without a time is kept whole, with no time. */
export function parseStampedLine(raw: string): LogLine {
  const m = STAMP.exec(raw);
  if (m === null) return { timeMs: undefined, text: raw };
  const ms = Date.parse(`${m[1] ?? ''}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}Z`);
  return Number.isNaN(ms) ? { timeMs: undefined, text: raw } : { timeMs: ms, text: raw.slice(m[0].length) };
}

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * --since as `aws logs tail` takes it: a duration back from now (10m, 1h30m,
 * 45s, 2d) or a moment (an ISO 8601 date or date-time). The epoch ms lines
 * must be at or after; undefined when it is neither.
 */
export function parseSince(value: string, nowMs: number): number | undefined {
  const d = DURATION.exec(value);
  if (d !== null && value !== '') {
    const [days, hours, minutes, seconds] = [d[1], d[2], d[3], d[4]].map((v) => Number(v ?? 0));
    return nowMs - ((((days ?? 0) * 24 + (hours ?? 0)) * 60 + (minutes ?? 0)) * 60 + (seconds ?? 0)) * 1000;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** A line as `hearth logs` prints it: time, the stream if any, the text (a line without a time shows `-`). */
export function showLine(l: LogLine): string {
  const time = l.timeMs === undefined ? '-' : new Date(l.timeMs).toISOString();
  return l.stream === undefined ? `${time} ${l.text}` : `${time} ${l.stream} ${l.text}`;
}

/**
 * The version a line of the embedded log belongs to: a published version's
 * lines carry `[N] ` in front (function-log.ts: versionedLine), $LATEST's
 * nothing.
 */
export function lineVersion(text: string): string {
  const m = /^\[(\d+)\] /.exec(text);
  return m?.[1] ?? LATEST;
}

/** Whether a line passes the query's filters: its version among `versions` (undefined: any) and its time at or after `sinceMs`. */
export function wanted(l: LogLine, version: string, q: { versions?: ReadonlySet<string> | undefined; sinceMs?: number | undefined }): boolean {
  if (q.versions !== undefined && !q.versions.has(version)) return false;
  // A line with no time cannot be shown to be recent enough.
  if (q.sinceMs !== undefined && (l.timeMs === undefined || l.timeMs < q.sinceMs)) return false;
  return true;
}

/** The last `n` of lines already in order (0: all of them). */
export function lastOf<T>(lines: readonly T[], n: number): T[] {
  return n > 0 ? lines.slice(-n) : [...lines];
}

/** Lines of several writers, each in time order, as one list in time order (stable: equal times keep the writers' order). */
export function mergeByTime(streams: readonly (readonly LogLine[])[]): LogLine[] {
  const all = streams.flatMap((s, i) => s.map((l, j) => ({ l, i, j })));
  all.sort((a, b) => (a.l.timeMs ?? 0) - (b.l.timeMs ?? 0) || a.i - b.i || a.j - b.j);
  return all.map((x) => x.l);
}

export type QualifierVersions = { ok: true; versions: ReadonlySet<string> | undefined } | { ok: false; message: string };

/**
 * The versions whose lines a qualifier asks for: none given, every version;
 * $LATEST or N, that one; an alias, the version it points to and the
 * additional version it sends a share of calls to. Pure.
 */
export function qualifierVersions(fn: HearthFunction, published: ReadonlySet<string>, qualifier: string | undefined): QualifierVersions {
  if (qualifier === undefined || qualifier === '') return { ok: true, versions: undefined };
  if (qualifier === LATEST) return { ok: true, versions: new Set([LATEST]) };
  if (VERSION_NUMBER.test(qualifier)) {
    return published.has(qualifier) ? { ok: true, versions: new Set([qualifier]) } : { ok: false, message: `version ${qualifier} of ${fn.metadata.name} does not exist` };
  }
  const alias = fn.spec.aliases?.find((a) => a.name === qualifier);
  if (alias === undefined) return { ok: false, message: `${fn.metadata.name} has no alias ${qualifier}` };
  return { ok: true, versions: new Set([alias.version, ...Object.keys(alias.additionalVersionWeights ?? {})]) };
}
