// The embedded platform's function logs as a LogSource: NAME.log and its
// rotated files NAME.log.1 … (backends/local/function-log.ts), each line
// stamped with its time. Following polls the current file every 100 ms
// through a descriptor kept open, so a rotation (the file renamed away, a
// new NAME.log in its place) loses nothing: the old file is read to its end,
// then the new one from its start.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { lastOf, lineVersion, parseStampedLine, wanted, type LogLine } from './log-lines.js';
import { pause, type LogQuery, type LogSource } from './log-source.js';

/** How often a follower looks for new lines: well inside the second a new line should take to show. */
export const FOLLOW_POLL_MS = 100;
/** A rotated file is done with once this many polls in a row found nothing more in it (the writer's old stream flushes after the rename). */
const ROTATION_QUIET_POLLS = 5;

/** The lines of a file's text that pass the query, in order; a last line without its newline is left out (`rest`). Pure. */
export function fileLines(text: string, q: Pick<LogQuery, 'versions' | 'sinceMs'>): { lines: LogLine[]; rest: string } {
  const parts = text.split('\n');
  const rest = parts.pop() ?? '';
  const lines: LogLine[] = [];
  for (const raw of parts) {
    const l = parseStampedLine(raw);
    if (wanted(l, lineVersion(l.text), q)) lines.push(l);
  }
  return { lines, rest };
}

export class FileLogSource implements LogSource {
  constructor(readonly dir: string) {}

  path(functionName: string): string {
    return join(this.dir, `${functionName}.log`);
  }

  /** Whether the function has written anything on this machine. */
  exists(functionName: string): boolean {
    return existsSync(this.path(functionName));
  }

  open(q: LogQuery): Promise<AsyncIterable<LogLine>> {
    return Promise.resolve(this.read(q));
  }

  async *read(q: LogQuery): AsyncIterable<LogLine> {
    const path = this.path(q.functionName);
    // The current file is read through the descriptor following goes on with, from where that read ended:
    // a line written between the two is neither skipped nor shown twice.
    const current = openCurrent(path);
    try {
      const head = current === undefined ? { lines: [], rest: '' } : fileLines(current.bytes.toString('utf8'), q);
      // Older files only as far back as the lines asked for need.
      const older: LogLine[][] = [];
      let have = head.lines.length;
      for (let k = 1; current !== undefined && !(q.lines > 0 && have >= q.lines); k++) {
        const file = `${path}.${k}`;
        if (!existsSync(file)) break;
        const lines = fileLines(ensureNewline(readFileSync(file, 'utf8')), q).lines;
        older.unshift(lines);
        have += lines.length;
      }
      // A last line still being written waits for its newline when following; otherwise it is shown as it is.
      const tail = q.follow || head.rest === '' ? [] : fileLines(`${head.rest}\n`, q).lines;
      for (const l of lastOf([...older.flat(), ...head.lines, ...tail], q.lines)) yield l;
      if (!q.follow) return;
      yield* follow(path, current, q.follow ? head.rest : '', q);
    } finally {
      if (current !== undefined) closeSync(current.fd);
    }
  }
}

function ensureNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

interface OpenLog {
  fd: number;
  ino: number;
  /** What the file held when read; following goes on from its end. */
  bytes: Buffer;
}

function openCurrent(path: string): OpenLog | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  return { fd, ino: fstatSync(fd).ino, bytes: readFileSync(fd) };
}

/** The lines appended to the log after `from`, reopening it when it rotates, until the signal aborts. */
async function* follow(path: string, from: OpenLog | undefined, partial: string, q: LogQuery): AsyncIterable<LogLine> {
  let fd = from === undefined ? undefined : openSync(path, 'r');
  let ino = from?.ino;
  let offset = from?.bytes.length ?? 0;
  // The descriptor `from` holds is the caller's; this one follows the same file.
  if (from !== undefined && fd !== undefined && fstatSync(fd).ino !== from.ino) {
    closeSync(fd);
    fd = undefined;
    offset = 0;
  }
  let rest = partial;
  /** Polls in a row that found nothing more in a rotated file. */
  let quiet = 0;
  // A character split between two reads is joined, not mangled.
  let decoder = new StringDecoder('utf8');
  const buf = Buffer.alloc(64 * 1024);
  const drain = (): LogLine[] => {
    if (fd === undefined) return [];
    let text = '';
    // Bounded by what the file holds; a writer faster than this reader is read in the next rounds.
    for (let i = 0; i < 1024; i++) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      text += decoder.write(buf.subarray(0, n));
      offset += n;
    }
    const got = fileLines(rest + text, q);
    rest = got.rest;
    return got.lines;
  };
  try {
    while (!q.signal.aborted) {
      yield* drain();
      let now: number | undefined;
      try {
        now = statSync(path).ino;
      } catch {
        now = undefined;
      }
      if (now !== undefined && now !== ino) {
        // Rotated (or created): finish the old file, then start the new one. The writer's old stream may still be
        // flushing into the renamed file: it is finished once a read finds nothing more in it.
        const at = offset;
        yield* drain();
        quiet = offset === at ? quiet + 1 : 0;
        if (quiet < ROTATION_QUIET_POLLS) {
          await pause(FOLLOW_POLL_MS, q.signal);
          continue;
        }
        quiet = 0;
        if (fd !== undefined) closeSync(fd);
        offset = 0;
        rest = '';
        decoder = new StringDecoder('utf8');
        try {
          fd = openSync(path, 'r');
          ino = fstatSync(fd).ino;
        } catch {
          fd = undefined;
          ino = undefined;
        }
        continue;
      }
      await pause(FOLLOW_POLL_MS, q.signal);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
