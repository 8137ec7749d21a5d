// How an InvokeRequest / InvokeResult travels over the agent's HTTP invoke
// endpoint. The server and the client both use these functions, so the two
// ends cannot disagree about a header name.
import { randomUUID } from 'node:crypto';
import type { InvokeOutcome, InvokeRequest, InvokeResult, StreamEnd } from './invocation.js';

/** The path of AWS's runtime interface emulator, so benchmarks can swap the two. */
export const INVOKE_PATH = '/2015-03-31/functions/function/invocations';

/** The pod's preStop hook: begins the agent's drain, answers once the agent is empty. */
export const DRAIN_PATH = '/drain';

export const REQUEST_HEADERS = {
  requestId: 'lambda-runtime-aws-request-id',
  /** The function's timeout, counted by the agent from hand-over to the runtime. */
  timeoutMs: 'x-hearth-timeout-ms',
  functionArn: 'lambda-runtime-invoked-function-arn',
  traceId: 'lambda-runtime-trace-id',
  /** W3C Trace Context: the span the agent's spans continue (src/tracing). */
  traceparent: 'traceparent',
  clientContext: 'lambda-runtime-client-context',
  cognitoIdentity: 'lambda-runtime-cognito-identity',
  /** `Tail` asks for the log tail, as the Invoke API's X-Amz-Log-Type does. */
  logType: 'x-amz-log-type',
  /** `1`: the caller takes a streamed response as it comes. */
  acceptStream: 'x-hearth-accept-stream',
} as const;

export const RESPONSE_HEADERS = {
  functionError: 'x-amz-function-error',
  errorType: 'x-hearth-error-type',
  durationMs: 'x-hearth-duration-ms',
  initDurationMs: 'x-hearth-init-duration-ms',
  logResult: 'x-amz-log-result',
  requestId: 'x-amzn-requestid',
} as const;

export type HeaderBag = Record<string, string | string[] | undefined>;

function one(h: HeaderBag, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function requestToHeaders(req: InvokeRequest): Record<string, string> {
  const h: Record<string, string> = {
    [REQUEST_HEADERS.requestId]: req.requestId,
    [REQUEST_HEADERS.timeoutMs]: String(req.timeoutMs),
    [REQUEST_HEADERS.functionArn]: req.invokedFunctionArn,
  };
  if (req.traceId !== undefined) h[REQUEST_HEADERS.traceId] = req.traceId;
  if (req.traceparent !== undefined) h[REQUEST_HEADERS.traceparent] = req.traceparent;
  if (req.clientContext !== undefined) h[REQUEST_HEADERS.clientContext] = req.clientContext;
  if (req.cognitoIdentity !== undefined) h[REQUEST_HEADERS.cognitoIdentity] = req.cognitoIdentity;
  if (req.tailLogs === true) h[REQUEST_HEADERS.logType] = 'Tail';
  if (req.acceptStream === true) h[REQUEST_HEADERS.acceptStream] = '1';
  return h;
}

export interface RequestDefaults {
  /** Used when the caller sent no timeout (as the emulator's callers do). */
  timeoutSeconds: number;
  functionArn: string;
}

/** Missing headers get defaults, so plain emulator-style `curl -d '{}'` calls work. */
export function requestFromHeaders(h: HeaderBag, payload: Buffer, d: RequestDefaults): InvokeRequest {
  const timeout = Number(one(h, REQUEST_HEADERS.timeoutMs));
  const req: InvokeRequest = {
    requestId: one(h, REQUEST_HEADERS.requestId) ?? randomUUID(),
    payload,
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : d.timeoutSeconds * 1000,
    invokedFunctionArn: one(h, REQUEST_HEADERS.functionArn) ?? d.functionArn,
  };
  const trace = one(h, REQUEST_HEADERS.traceId);
  if (trace !== undefined) req.traceId = trace;
  const traceparent = one(h, REQUEST_HEADERS.traceparent);
  if (traceparent !== undefined) req.traceparent = traceparent;
  const cc = one(h, REQUEST_HEADERS.clientContext);
  if (cc !== undefined) req.clientContext = cc;
  const ci = one(h, REQUEST_HEADERS.cognitoIdentity);
  if (ci !== undefined) req.cognitoIdentity = ci;
  if (one(h, REQUEST_HEADERS.logType)?.toLowerCase() === 'tail') req.tailLogs = true;
  if (one(h, REQUEST_HEADERS.acceptStream) === '1') req.acceptStream = true;
  return req;
}

const FUNCTION_ERROR: Record<InvokeOutcome, string | undefined> = { success: undefined, handled: 'Handled', unhandled: 'Unhandled' };

export function resultToHeaders(r: InvokeResult, requestId: string): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json',
    [RESPONSE_HEADERS.requestId]: requestId,
    [RESPONSE_HEADERS.durationMs]: r.durationMs.toFixed(3),
  };
  const fe = FUNCTION_ERROR[r.outcome];
  if (fe !== undefined) h[RESPONSE_HEADERS.functionError] = fe;
  if (r.errorType !== undefined) h[RESPONSE_HEADERS.errorType] = r.errorType;
  if (r.initDurationMs !== undefined) h[RESPONSE_HEADERS.initDurationMs] = r.initDurationMs.toFixed(3);
  if (r.logTail !== undefined) h[RESPONSE_HEADERS.logResult] = r.logTail;
  return h;
}

export function resultFromHeaders(h: HeaderBag, payload: Buffer): InvokeResult {
  const fe = one(h, RESPONSE_HEADERS.functionError)?.toLowerCase();
  const r: InvokeResult = {
    outcome: fe === 'handled' ? 'handled' : fe === 'unhandled' ? 'unhandled' : 'success',
    payload,
    durationMs: Number(one(h, RESPONSE_HEADERS.durationMs) ?? 0),
  };
  const et = one(h, RESPONSE_HEADERS.errorType);
  if (et !== undefined) r.errorType = et;
  const init = one(h, RESPONSE_HEADERS.initDurationMs);
  if (init !== undefined) r.initDurationMs = Number(init);
  const tail = one(h, RESPONSE_HEADERS.logResult);
  if (tail !== undefined) r.logTail = tail;
  return r;
}

/** Says the answer is a streamed response: the body comes as the runtime writes it, STREAM_END_TRAILER says how it ended. */
export const STREAM_MODE_HEADER = 'x-hearth-response-mode';
export const STREAM_END_TRAILER = 'x-hearth-stream-end';

/** StreamEnd as one trailer value (base64 of its JSON, the error payload base64 within). Pure. */
export function encodeStreamEnd(end: StreamEnd): string {
  const doc = {
    bytes: end.bytes,
    durationMs: end.durationMs,
    ...(end.error !== undefined ? { errorType: end.error.errorType, error: end.error.payload.toString('base64') } : {}),
    ...(end.logTail !== undefined ? { logTail: end.logTail } : {}),
  };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

/** The StreamEnd a trailer carries; undefined when it is missing or not one (the stream was cut on the way). Pure. */
export function decodeStreamEnd(value: string | undefined): StreamEnd | undefined {
  if (value === undefined || value === '') return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as { bytes?: unknown; durationMs?: unknown; errorType?: unknown; error?: unknown; logTail?: unknown };
  if (typeof d.bytes !== 'number' || typeof d.durationMs !== 'number') return undefined;
  const end: StreamEnd = { bytes: d.bytes, durationMs: d.durationMs };
  if (typeof d.errorType === 'string') end.error = { errorType: d.errorType, payload: Buffer.from(typeof d.error === 'string' ? d.error : '', 'base64') };
  if (typeof d.logTail === 'string') end.logTail = d.logTail;
  return end;
}
