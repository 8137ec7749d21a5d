// Splits a runtime's output into lines, keeping at most `maxLineBytes` of
// each: the rest of an overlong line is cut and counted, so a function that
// writes a gigabyte without a newline costs the agent one line's worth of
// memory, not the gigabyte. Pure (no I/O); the caller decides where lines go.

/** Lambda's own cap on a log event is 256 KB; a line is cut well below it. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;
const CR = 0x0d;

/** Where a cut after `max` bytes may fall without splitting a UTF-8 sequence: the largest n <= max at a character boundary. */
export function utf8CutPoint(buf: Uint8Array, max: number): number {
  if (buf.length <= max) return buf.length;
  let n = max;
  // Continuation bytes look like 10xxxxxx: back off to the byte that starts the character.
  while (n > 0 && ((buf[n] ?? 0) & 0xc0) === 0x80) n--;
  return n;
}

export class LineCutter {
  private parts: Buffer[] = [];
  private kept = 0;
  private cut = 0;

  constructor(
    private readonly maxLineBytes: number,
    /** One complete line (without its newline) and how many of its bytes were cut. */
    private readonly onLine: (line: string, cutBytes: number) => void,
  ) {}

  write(chunk: Buffer): void {
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      this.take(chunk.subarray(start, nl < 0 ? chunk.length : nl));
      if (nl < 0) return;
      this.emit();
      start = nl + 1;
    }
  }

  /** The last line, when the output ended without a newline. */
  flush(): void {
    if (this.kept > 0 || this.cut > 0) this.emit();
  }

  private take(b: Buffer): void {
    if (b.length === 0) return;
    // One byte more than the cap is kept for now, so a trailing CR can still be told apart from a cut.
    const room = this.maxLineBytes + 1 - this.kept;
    if (b.length <= room) {
      this.parts.push(b);
      this.kept += b.length;
      return;
    }
    if (room > 0) {
      this.parts.push(b.subarray(0, room));
      this.kept += room;
    }
    this.cut += b.length - Math.max(0, room);
  }

  private emit(): void {
    let line = this.parts.length === 1 ? (this.parts[0] ?? Buffer.alloc(0)) : Buffer.concat(this.parts, this.kept);
    let cut = this.cut;
    if (cut === 0 && line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxLineBytes) {
      const n = utf8CutPoint(line, this.maxLineBytes);
      cut += line.length - n;
      line = line.subarray(0, n);
    }
    this.parts = [];
    this.kept = 0;
    this.cut = 0;
    this.onLine(line.toString('utf8'), cut);
  }
}
