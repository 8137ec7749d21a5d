// A response the runtime streams (Lambda's response streaming) as it travels
// from the agent to whoever asked for it. The runtime announces a stream with
// `Lambda-Runtime-Function-Response-Mode: streaming` on its /response post;
// the agent then answers the invocation at once with a ResponseStream whose
// body carries the bytes as the runtime writes them (with back-pressure, so
// a slow reader slows the runtime), and whose `ended` says how it ended: a
// failure once bytes are out cannot change a status any more, so it travels
// beside the body, as Lambda's error trailers and InvokeComplete do.
//
// Callers that cannot stream (Invoke, queued events, schedules, event
// sources, BUFFERED function URLs) get an ordinary result: the agent reads
// the runtime's streamed post whole for them (Agent.readWholePost), as
// Lambda buffers a streaming function invoked with Invoke.
import type { Readable } from 'node:stream';

/** The runtime's /response header that announces a stream. */
export const RESPONSE_MODE_HEADER = 'lambda-runtime-function-response-mode';
/** Trailers a streaming runtime sends when it fails mid-stream (the body is base64 of the error JSON). */
export const ERROR_TYPE_TRAILER = 'lambda-runtime-function-error-type';
export const ERROR_BODY_TRAILER = 'lambda-runtime-function-error-body';
/** The content type of awslambda.HttpResponseStream: a JSON prelude, 8 NUL bytes, then the body. */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const DEFAULT_STREAM_CONTENT_TYPE = 'application/octet-stream';

/** How a streamed response ended. */
export interface StreamEnd {
  /**
   * Set when the stream did not end cleanly: the function's own error from
   * its trailers, or the platform's (Sandbox.Timedout, Runtime.ExitError,
   * Function.ResponseSizeTooLarge, a connection to the instance cut).
   */
  error?: { errorType: string; /** The error JSON ({errorMessage, errorType}). */ payload: Buffer };
  /** Bytes the function wrote (what the body carried). */
  bytes: number;
  /** From hand-over to the runtime until the stream ended, in milliseconds. */
  durationMs: number;
  /** When the caller asked for the log tail: base64 of the invocation's last 4 KB of logs. */
  logTail?: string;
}

export interface ResponseStream {
  /** The content type the runtime posted (application/octet-stream unless it said otherwise). */
  contentType: string;
  /**
   * The bytes as the runtime writes them. The consumer reads it to its end
   * or destroys it (a client that went away): either releases the stream.
   * It ends normally also when the function fails mid-stream; `ended` says so.
   */
  body: Readable;
  /** Resolves (never rejects) once the stream is over, however it ended. */
  ended: Promise<StreamEnd>;
}
