// A streamed response made into an ordinary result, for callers that cannot
// stream (Invoke, queued events, schedules, event sources, BUFFERED function
// URLs): Lambda buffers a streaming function invoked so, up to the usual
// response limit.
import type { InvokeResult } from '../agent/invocation.js';
import { responseTooLargeError, unhandledResult } from '../agent/lambda-errors.js';

export async function bufferResponseStream(result: InvokeResult, limitBytes: number): Promise<InvokeResult> {
  const stream = result.stream;
  if (stream === undefined) return result;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let oversized = false;
  for await (const raw of stream.body) {
    const chunk = raw as Buffer;
    bytes += chunk.length;
    if (bytes > limitBytes) {
      oversized = true;
      stream.body.destroy();
      break;
    }
    chunks.push(chunk);
  }
  // Wait for the function to finish even when the answer is already known: until then its instance is busy.
  const end = await stream.ended;
  const buffered: InvokeResult = oversized
    ? unhandledResult(responseTooLargeError(limitBytes), end.durationMs)
    : end.error !== undefined
      ? { outcome: 'unhandled', payload: end.error.payload, errorType: end.error.errorType, durationMs: end.durationMs }
      : { outcome: 'success', payload: Buffer.concat(chunks), durationMs: end.durationMs };
  if (result.initDurationMs !== undefined) buffered.initDurationMs = result.initDurationMs;
  if (end.logTail !== undefined) buffered.logTail = end.logTail;
  if (result.executedVersion !== undefined) buffered.executedVersion = result.executedVersion;
  return buffered;
}
