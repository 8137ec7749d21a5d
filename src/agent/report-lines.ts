// The START/END/REPORT lines Lambda writes around each invocation's logs.
// Tools parse them (billed duration, memory, cold starts), so the layout —
// tab separators and the trailing tab included — follows Lambda exactly.

export function startLine(requestId: string, version = '$LATEST'): string {
  return `START RequestId: ${requestId} Version: ${version}`;
}

export function endLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

export interface ReportFields {
  requestId: string;
  durationMs: number;
  memorySizeMB: number;
  maxMemoryUsedMB: number;
  initDurationMs?: number;
  /** Lambda adds `Status: timeout` / `Status: error` when the sandbox ended the invocation. */
  status?: 'timeout' | 'error';
}

/** Lambda bills in whole milliseconds, rounding up, and never less than 1 ms. */
export function billedDurationMs(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs));
}

export function reportLine(f: ReportFields): string {
  let line =
    `REPORT RequestId: ${f.requestId}\tDuration: ${f.durationMs.toFixed(2)} ms\tBilled Duration: ${billedDurationMs(f.durationMs)} ms\t` +
    `Memory Size: ${f.memorySizeMB} MB\tMax Memory Used: ${f.maxMemoryUsedMB} MB\t`;
  if (f.initDurationMs !== undefined) line += `Init Duration: ${f.initDurationMs.toFixed(2)} ms\t`;
  if (f.status !== undefined) line += `Status: ${f.status}`;
  return line;
}

/** Peak resident memory (VmHWM) from the text of /proc/<pid>/status, in kB; 0 when absent. */
export function peakMemoryKB(procStatus: string): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(procStatus);
  return m?.[1] !== undefined ? Number(m[1]) : 0;
}

/** Peak resident memory (VmHWM) from the text of /proc/<pid>/status, in MB rounded up; 0 when absent. */
export function peakMemoryMB(procStatus: string): number {
  return Math.ceil(peakMemoryKB(procStatus) / 1024);
}
