// `hearth up`'s bounds on what functions can make the gateway hold: the size
// and number of each function's log files, and how much the in-memory queue
// keeps. Pure: a string is the problem to print.
import { DEFAULT_FUNCTION_LOG_LIMITS, MAX_FUNCTION_LOG_FILES, MIN_FUNCTION_LOG_FILE_BYTES, type FunctionLogLimits } from '../backends/local/function-log.js';
import { DEFAULT_MEMORY_QUEUE_BOUNDS, MIN_MEMORY_QUEUE_BYTES, type MemoryQueueBounds } from '../queue/memory-bounds.js';

export const UP_BOUND_OPTIONS = {
  'function-log-max-bytes': { type: 'string' },
  'function-log-files': { type: 'string' },
  'queue-max-bytes': { type: 'string' },
  'queue-max-records': { type: 'string' },
} as const;

export interface UpBoundFlags {
  'function-log-max-bytes'?: string | undefined;
  'function-log-files'?: string | undefined;
  'queue-max-bytes'?: string | undefined;
  'queue-max-records'?: string | undefined;
}

export interface UpBounds {
  functionLogs: FunctionLogLimits;
  memoryQueue: MemoryQueueBounds;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, ki: 1024, kib: 1024, m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3 };

/** A size in bytes: a whole number, optionally with K/M/G (binary units, as KiB/MiB/GiB). */
export function parseSize(raw: string): number | undefined {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m?.[1] || unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

function size(flag: string, raw: string | undefined, dflt: number, min: number): number | string {
  if (raw === undefined) return dflt;
  const n = parseSize(raw);
  if (n === undefined || n < min) return `--${flag} must be a size of at least ${min} bytes (e.g. 10M, 1G), not ${raw}`;
  return n;
}

function count(flag: string, raw: string | undefined, dflt: number, min: number, max: number): number | string {
  if (raw === undefined) return dflt;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) return `--${flag} must be a whole number from ${min} to ${max}, not ${raw}`;
  return n;
}

export function parseUpBounds(v: UpBoundFlags): UpBounds | string {
  const maxFileBytes = size('function-log-max-bytes', v['function-log-max-bytes'], DEFAULT_FUNCTION_LOG_LIMITS.maxFileBytes, MIN_FUNCTION_LOG_FILE_BYTES);
  const files = count('function-log-files', v['function-log-files'], DEFAULT_FUNCTION_LOG_LIMITS.files, 1, MAX_FUNCTION_LOG_FILES);
  const maxBytes = size('queue-max-bytes', v['queue-max-bytes'], DEFAULT_MEMORY_QUEUE_BOUNDS.maxBytes, MIN_MEMORY_QUEUE_BYTES);
  const maxRecords = count('queue-max-records', v['queue-max-records'], DEFAULT_MEMORY_QUEUE_BOUNDS.maxRecords, 1, 10_000_000);
  for (const x of [maxFileBytes, files, maxBytes, maxRecords]) if (typeof x === 'string') return x;
  return {
    functionLogs: { maxFileBytes: maxFileBytes as number, files: files as number },
    memoryQueue: { maxBytes: maxBytes as number, maxRecords: maxRecords as number },
  };
}
