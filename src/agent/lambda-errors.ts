// The error documents Lambda itself writes when the function could not answer
// (as opposed to errors the function reports). Callers compare errorType and
// often the message text too, so both follow Lambda's wording.
import type { InvokeResult } from './invocation.js';

export interface LambdaErrorBody {
  errorMessage: string;
  errorType: string;
  stackTrace?: string[];
}

export const ERROR_TYPES = {
  timeout: 'Sandbox.Timedout',
  exit: 'Runtime.ExitError',
  outOfMemory: 'Runtime.OutOfMemory',
  responseTooLarge: 'Function.ResponseSizeTooLarge',
  // Lambda reports an init that overruns its 10 s as a timeout of the sandbox
  // too; the message tells the init phase apart.
  initTimeout: 'Sandbox.Timedout',
  unknown: 'Runtime.Unknown',
} as const;

/** Names Go gives signals, which is what Lambda's `Runtime exited with error: signal: …` shows. */
const SIGNAL_NAMES: Readonly<Record<string, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGINT: 'interrupt',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGHUP: 'hangup',
  SIGPIPE: 'broken pipe',
};

export function exitReason(code: number | null, signal: string | null): string {
  if (signal !== null) return `signal: ${SIGNAL_NAMES[signal] ?? signal}`;
  // A runtime the agent did not start leaves no exit status to read.
  return code === null ? 'exit status unknown' : `exit status ${code}`;
}

export function timeoutError(requestId: string, timeoutSeconds: number): LambdaErrorBody {
  return { errorType: ERROR_TYPES.timeout, errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds` };
}

export function exitError(requestId: string, code: number | null, signal: string | null): LambdaErrorBody {
  return { errorType: ERROR_TYPES.exit, errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${exitReason(code, signal)}` };
}

/** The runtime was killed for going over its memory limit: Lambda reports that as a kill, under its own type. */
export function outOfMemoryError(requestId: string): LambdaErrorBody {
  return { errorType: ERROR_TYPES.outOfMemory, errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${exitReason(null, 'SIGKILL')}` };
}

export function initTimeoutError(requestId: string, initTimeoutSeconds: number): LambdaErrorBody {
  return { errorType: ERROR_TYPES.initTimeout, errorMessage: `RequestId: ${requestId} Error: Init timed out after ${initTimeoutSeconds.toFixed(2)} seconds` };
}

/** A streamed response that ended before its end (`why`: how it was cut), as Lambda reports a truncated stream. */
export function truncatedError(requestId: string, why: string): LambdaErrorBody {
  return { errorType: 'Runtime.TruncatedResponse', errorMessage: `RequestId: ${requestId} Error: ${why}` };
}

export function responseTooLargeError(limitBytes: number): LambdaErrorBody {
  return {
    errorType: ERROR_TYPES.responseTooLarge,
    errorMessage: `Response payload size exceeded maximum allowed payload size (${limitBytes} bytes).`,
  };
}

/**
 * The error document a runtime posted, made into the shape callers expect.
 * Runtimes may post anything; Lambda passes valid JSON through and wraps the
 * rest, taking the type from the header when the body has none.
 */
export function normalisePostedError(body: Buffer, headerType: string | undefined): { payload: Buffer; errorType: string } {
  const fallbackType = headerType !== undefined && headerType !== '' ? headerType : ERROR_TYPES.unknown;
  let parsed: unknown;
  try {
    parsed = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const t = (parsed as { errorType?: unknown }).errorType;
    return { payload: body, errorType: typeof t === 'string' && t !== '' ? t : fallbackType };
  }
  const doc: LambdaErrorBody = { errorMessage: body.toString('utf8'), errorType: fallbackType };
  return { payload: Buffer.from(JSON.stringify(doc)), errorType: fallbackType };
}

export function unhandledResult(err: LambdaErrorBody, durationMs: number, initDurationMs?: number): InvokeResult {
  const r: InvokeResult = { outcome: 'unhandled', payload: Buffer.from(JSON.stringify(err)), errorType: err.errorType, durationMs };
  if (initDurationMs !== undefined) r.initDurationMs = initDurationMs;
  return r;
}

/** Bodies of the Runtime API's own 4xx answers, as AWS's runtime interface emulator writes them. */
export const RUNTIME_API_ERRORS = {
  invalidRequestId: { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' },
  payloadTooLarge: (limit: number): LambdaErrorBody => ({ errorMessage: `Exceeded maximum allowed payload size (${limit} bytes).`, errorType: 'RequestEntityTooLarge' }),
  invalidStateTransition: (msg: string): LambdaErrorBody => ({ errorMessage: msg, errorType: 'InvalidStateTransition' }),
  notFound: { errorMessage: 'Not Found', errorType: 'NotFound' },
  methodNotAllowed: { errorMessage: 'Method Not Allowed', errorType: 'MethodNotAllowed' },
} as const;
