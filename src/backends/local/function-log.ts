// The embedded platform's function output: one size-capped log per function
// (NAME.log, then NAME.log.1 … as it rotates) under the backend's cache
// directory. Lines are written through a WriteStream whose buffer is the only
// memory they take: when it is full the sink says so and the agent stops
// reading the runtime's pipe. What rotation throws away and what the agent cut
// from overlong lines is counted, for hearth_function_log_dropped_bytes_total.
// A function's versions share its log (as Lambda's share a log group); a
// published version's lines carry [N] in front, as its log stream names do.
// Every line starts with the time it was written (ISO 8601, then a space), so
// `hearth logs --since` can tell how old it is (logs/log-lines.ts).
import { createWriteStream, existsSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OutputLine, OutputSink } from '../../agent/output-sink.js';
import { LATEST } from '../../api/function.js';
import { stampLine } from '../../logs/log-lines.js';

export interface FunctionLogLimits {
  /** Bytes one file may hold before the log rotates. */
  maxFileBytes: number;
  /** Files kept per function, NAME.log included (2: NAME.log and NAME.log.1). */
  files: number;
}

export const DEFAULT_FUNCTION_LOG_LIMITS: FunctionLogLimits = { maxFileBytes: 10 * 1024 * 1024, files: 2 };
/** Below this a file could not hold one full line (64 KiB) and its marker many times over. */
export const MIN_FUNCTION_LOG_FILE_BYTES = 1024 * 1024;
export const MAX_FUNCTION_LOG_FILES = 100;

export type DropReason = 'rotated' | 'cut';

/** Whether a write of `bytes` starts a fresh file: the current one has something and would pass its cap. Pure. */
export function needsRotation(currentBytes: number, bytes: number, maxFileBytes: number): boolean {
  return currentBytes > 0 && currentBytes + bytes > maxFileBytes;
}

export interface Rotation {
  /** Bytes of NAME.log (index 0) and NAME.log.k (index k) after the rotation. */
  sizes: number[];
  /** Bytes the rotation throws away: the oldest file's. */
  lostBytes: number;
  /** File indexes to rename, in order (k → k+1); with one file, none: NAME.log is removed and starts over. */
  renames: Array<readonly [from: number, to: number]>;
}

/** What one rotation does to the files of a log keeping `files` of them. Pure. */
export function rotation(sizes: readonly number[], files: number): Rotation {
  const at = (k: number): number => sizes[k] ?? 0;
  const renames: Array<readonly [number, number]> = [];
  for (let k = files - 2; k >= 0; k--) renames.push([k, k + 1]);
  const next = [0];
  for (let k = 0; k < files - 1; k++) next.push(at(k));
  return { sizes: next, lostBytes: at(files - 1), renames };
}

/** A published version's line as its function's log shows it: `[N] line`; $LATEST's as it is. Pure. */
export function versionedLine(line: string, version: string): string {
  return version === LATEST ? line : `[${version}] ${line}`;
}

/** The line as written: a cut one says how much it lost. Pure. */
export function logText(line: string, cutBytes: number): string {
  return cutBytes > 0 ? `${line} [hearth: ${cutBytes} bytes cut]\n` : `${line}\n`;
}

export class FunctionLogFiles {
  readonly #logs = new Map<string, FunctionLog>();

  constructor(
    readonly dir: string,
    readonly limits: FunctionLogLimits = DEFAULT_FUNCTION_LOG_LIMITS,
    private readonly logger?: Logger,
    /** The clock lines are stamped with (tests fix it). */
    private readonly now: () => number = Date.now,
  ) {}

  /** The one log of a function, shared by the instances of all its versions, so its files have one writer. */
  sink(functionName: string, version: string = LATEST): OutputSink {
    let log = this.#logs.get(functionName);
    if (log === undefined) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      log = new FunctionLog(join(this.dir, `${functionName}.log`), this.limits, this.logger?.child({ fn: functionName }), this.now);
      this.#logs.set(functionName, log);
    }
    if (version === LATEST) return log;
    const shared = log;
    return { write: (l) => shared.write({ ...l, line: versionedLine(l.line, version) }), drained: () => shared.drained() };
  }

  path(functionName: string): string {
    return join(this.dir, `${functionName}.log`);
  }

  /** Bytes dropped so far, per function and reason. */
  *dropped(): Iterable<{ functionName: string; reason: DropReason; bytes: number }> {
    for (const [functionName, log] of this.#logs) {
      for (const reason of ['rotated', 'cut'] as const) yield { functionName, reason, bytes: log.dropped[reason] };
    }
  }

  async close(): Promise<void> {
    // The logs stay known: their dropped counts outlive their files' streams.
    await Promise.all([...this.#logs.values()].map((l) => l.close()));
  }
}

class FunctionLog implements OutputSink {
  readonly dropped: Record<DropReason, number> = { rotated: 0, cut: 0 };
  #stream: WriteStream;
  #sizes: number[];
  /** Streams of rotated files still flushing what they were given. */
  readonly #closing = new Set<Promise<void>>();
  #failed = false;

  constructor(
    private readonly path: string,
    private readonly limits: FunctionLogLimits,
    private readonly logger: Logger | undefined,
    private readonly now: () => number,
  ) {
    this.#sizes = Array.from({ length: limits.files }, (_, k) => sizeOf(this.file(k)));
    this.#stream = this.open();
  }

  write(l: OutputLine): boolean {
    this.dropped.cut += l.cutBytes;
    const text = stampLine(logText(l.line, l.cutBytes), this.now());
    const bytes = Buffer.byteLength(text);
    if (this.#failed) {
      this.dropped.rotated += bytes;
      return true;
    }
    if (needsRotation(this.#sizes[0] ?? 0, bytes, this.limits.maxFileBytes)) this.rotate();
    this.#sizes[0] = (this.#sizes[0] ?? 0) + bytes;
    return this.#stream.write(text);
  }

  async drained(): Promise<void> {
    while (this.#stream.writableNeedDrain || this.#closing.size > 0) {
      const stream = this.#stream;
      await Promise.all([...this.#closing, stream.writableNeedDrain ? drainOrClose(stream) : undefined]);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#closing, endStream(this.#stream)]);
  }

  private file(k: number): string {
    return k === 0 ? this.path : `${this.path}.${k}`;
  }

  private open(): WriteStream {
    // Opened here, not later by the stream: a rotation renames the file this descriptor already holds.
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch (err) {
      if (!this.#failed) this.logger?.warn({ err, path: this.path }, 'function log unwritable; its output is dropped');
      this.#failed = true;
      fd = openSync('/dev/null', 'a');
    }
    const stream = createWriteStream(this.path, { fd, highWaterMark: 64 * 1024 });
    stream.on('error', (err) => {
      // A full disk or a removed directory: the function keeps running, its output is counted as dropped.
      if (!this.#failed) this.logger?.warn({ err, path: this.path }, 'function log unwritable; its output is dropped');
      this.#failed = true;
    });
    return stream;
  }

  private rotate(): void {
    const r = rotation(this.#sizes, this.limits.files);
    const old = this.#stream;
    // Renaming keeps the open descriptor: what the old stream still holds lands in the renamed file.
    // With one file it is unlinked instead: the old descriptor appends to the gone file, not to the new one.
    try {
      if (r.renames.length === 0) unlinkSync(this.path);
      for (const [from, to] of r.renames) if (existsSync(this.file(from))) renameSync(this.file(from), this.file(to));
    } catch (err) {
      this.logger?.warn({ err, path: this.path }, 'function log rotation failed');
    }
    const closing = endStream(old).finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
    this.dropped.rotated += r.lostBytes;
    this.#sizes = r.sizes;
    this.#stream = this.open();
  }
}

function drainOrClose(s: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

function endStream(s: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (s.closed || s.destroyed) return resolve();
    s.once('close', () => resolve());
    s.end();
  });
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
