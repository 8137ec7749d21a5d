// Where a runtime's stdout and stderr lines go. The agent reads the runtime's
// pipes with back-pressure: when the sink says it is behind, the agent stops
// reading, the pipe fills and the function blocks on its own writes, so the
// agent's memory never follows a function's output. Two sinks: the embedded
// platform's size-capped files per function (backends/local/function-log.ts)
// and, in a pod, the container's stdout (kubelet rotates it).
import type { Writable } from 'node:stream';

export interface OutputLine {
  functionName: string;
  /** The line without its newline, at most the agent's line cap. */
  line: string;
  stream: 'stdout' | 'stderr';
  /** The invocation it belongs to, when the agent can tell. */
  requestId?: string | undefined;
  /** Bytes of an overlong line cut off before it reached the sink. */
  cutBytes: number;
}

export interface OutputSink {
  /** Takes one line; false when the sink is behind: hold further output until drained() resolves. */
  write(line: OutputLine): boolean;
  /** Resolves once the sink can take more. */
  drained(): Promise<void>;
}

/**
 * A pod's function output: one JSON line per output line on the container's
 * stdout, in the shape pino gives the agent's own logs, so one log pipeline
 * reads both. A cut line says how much was cut.
 */
export class StreamSink implements OutputSink {
  constructor(private readonly out: Pick<Writable, 'write' | 'once' | 'writableNeedDrain'> = process.stdout) {}

  write(l: OutputLine): boolean {
    const entry: Record<string, unknown> = { level: 30, time: Date.now(), fn: l.functionName, stream: l.stream };
    if (l.requestId !== undefined) entry.requestId = l.requestId;
    if (l.cutBytes > 0) entry.cutBytes = l.cutBytes;
    entry.msg = l.line;
    return this.out.write(JSON.stringify(entry) + '\n');
  }

  drained(): Promise<void> {
    if (!this.out.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.out.once('drain', () => resolve()));
  }
}
