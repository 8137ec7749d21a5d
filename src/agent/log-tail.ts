// Per-invocation log capture: which invocation a runtime's output line
// belongs to, and the base64 tail Lambda returns with LogType=Tail.
import { MAX_LOG_TAIL_BYTES } from './invocation.js';

/**
 * The request id carried in a runtime log line, if any. Lambda's runtimes put
 * it in one of the first tab-separated fields: Node writes
 * `<time>\t<requestId>\t<LEVEL>\t<msg>`, Python `[LEVEL]\t<time>\t<requestId>\t<msg>`.
 * Only ids the caller knows count, so a timestamp is never mistaken for one.
 */
export function findRequestId(line: string, isKnown: (id: string) => boolean): string | undefined {
  let start = 0;
  for (let field = 0; field < 3; field++) {
    const tab = line.indexOf('\t', start);
    if (tab < 0) return undefined;
    const candidate = line.slice(start, tab);
    if (candidate.length > 0 && isKnown(candidate)) return candidate;
    start = tab + 1;
  }
  return undefined;
}

/** The last `max` bytes of `buf`, not starting inside a UTF-8 sequence. */
export function utf8Tail(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let from = buf.length - max;
  // Continuation bytes look like 10xxxxxx; skip them so the tail decodes cleanly.
  while (from < buf.length && ((buf[from] ?? 0) & 0xc0) === 0x80) from++;
  return buf.subarray(from);
}

/** Lines kept for one invocation, bounded so a chatty function cannot grow memory. */
export class LineBuffer {
  private lines: string[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_LOG_TAIL_BYTES * 2) {}

  push(line: string): void {
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line) + 1;
    while (this.bytes > this.maxBytes && this.lines.length > 1) {
      const dropped = this.lines.shift() ?? '';
      this.bytes -= Buffer.byteLength(dropped) + 1;
    }
  }

  get all(): readonly string[] {
    return this.lines;
  }
}

/** START, the function's lines, END and REPORT, cut to the last 4 KB and base64 encoded. */
export function encodeLogTail(start: string, lines: readonly string[], end: string, report: string): string {
  return encodeTail([start, ...lines, end, report]);
}

/** An invocation's lines as LogType=Tail returns them (Text's START…REPORT or JSON's records around its lines): the last 4 KB, base64. */
export function encodeTail(lines: readonly string[]): string {
  // JSON at high levels can leave nothing: an empty tail, not a lone newline.
  if (lines.length === 0) return '';
  const text = lines.join('\n') + '\n';
  return utf8Tail(Buffer.from(text, 'utf8'), MAX_LOG_TAIL_BYTES).toString('base64');
}
