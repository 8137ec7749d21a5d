// What crosses the boundary between the dispatcher and one instance's agent.
// The same shapes travel in process (embedded platform) and over HTTP (pods).
import type { ResponseStream } from '../streaming/response-stream.js';

export interface InvokeRequest {
  requestId: string;
  /** The event, as the caller sent it. */
  payload: Buffer;
  /**
   * The function's timeout in milliseconds. The agent starts it when it hands
   * the event to the runtime (Lambda-Runtime-Deadline-Ms = hand-over time +
   * timeoutMs), so time spent waiting for a free runtime loop is not counted.
   */
  timeoutMs: number;
  invokedFunctionArn: string;
  traceId?: string;
  /** The span to parent the agent's spans under, as a W3C traceparent (src/tracing); over HTTP the traceparent header. */
  traceparent?: string;
  /** JSON text of the client context (Lambda-Runtime-Client-Context). */
  clientContext?: string;
  /** JSON text of the Cognito identity (Lambda-Runtime-Cognito-Identity). */
  cognitoIdentity?: string;
  /** Return the last 4 KB of the invocation's logs. */
  tailLogs?: boolean;
  /**
   * The caller passes a streamed response on as it comes: the result then
   * carries `stream` when the runtime streams. Without it the agent buffers
   * a stream into the payload (up to the response limit), as Lambda's Invoke.
   */
  acceptStream?: boolean;
}

/**
 * - `success`: the runtime posted a response.
 * - `handled` / `unhandled`: a function error, reported as Lambda does
 *   (`X-Amz-Function-Error`); the payload is the error JSON. Timeouts
 *   (`Sandbox.Timedout`), crashes (`Runtime.ExitError`), init failures and
 *   oversized responses (`Function.ResponseSizeTooLarge`) are `unhandled`.
 */
export type InvokeOutcome = 'success' | 'handled' | 'unhandled';

export interface InvokeResult {
  outcome: InvokeOutcome;
  /** The response payload, or the error JSON ({errorMessage, errorType, stackTrace?}). */
  payload: Buffer;
  /** For errors: the errorType, e.g. ValueError, Runtime.ExitError, Sandbox.Timedout. */
  errorType?: string;
  /** From hand-over to the runtime until its answer, in milliseconds (fractional). */
  durationMs: number;
  /** Set on the first invocation an instance serves after its init (a cold start). */
  initDurationMs?: number;
  /** When tailLogs was asked: base64 of the invocation's last 4 KB of logs, as X-Amz-Log-Result carries it. */
  logTail?: string;
  /** The version that ran ($LATEST or a number), set by the dispatcher: X-Amz-Executed-Version. */
  executedVersion?: string;
  /**
   * Set when the runtime streams its response (outcome `success`, payload
   * empty, durationMs the time to the stream's start): the body as it is
   * written, and how it ended. The instance stays busy until it ends.
   */
  stream?: ResponseStream;
}

export const MAX_LOG_TAIL_BYTES = 4096;

export type { ResponseStream, StreamEnd } from '../streaming/response-stream.js';
