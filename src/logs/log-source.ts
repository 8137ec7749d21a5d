// Where a function's logs are read from: the embedded platform's log files
// (file-source.ts) or, in a cluster, its pods through the Kubernetes API
// (pod-source.ts). The gateway's logs route serves either the same way.
import type { LogLine } from './log-lines.js';

export interface LogQuery {
  functionName: string;
  /** The versions whose lines are wanted ($LATEST, N), as the qualifier resolves; undefined: every version. */
  versions?: ReadonlySet<string> | undefined;
  /** Only lines written at or after this (epoch ms). */
  sinceMs?: number | undefined;
  /** The last this many of the lines kept (0: all of them). */
  lines: number;
  /** Then go on with the lines written after, until `signal` aborts. */
  follow: boolean;
  signal: AbortSignal;
}

export interface LogSource {
  /**
   * The lines kept, oldest first, then with follow what comes, as it comes;
   * the iterable ends when done or when the signal aborts. What can fail
   * before any line (the API server refusing the pod list) fails here, while
   * the caller can still answer with an error.
   */
  open(q: LogQuery): Promise<AsyncIterable<LogLine>>;
}

/** Waits `ms`, or less when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
