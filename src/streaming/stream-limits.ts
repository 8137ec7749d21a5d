// Lambda's limits on a streamed response, kept by the gateway for every
// stream it passes on: at most `maxBytes` (200 MiB), the first `burstBytes`
// (6 MiB) as fast as they come, the rest at `bytesPerSecond` (2 MiB/s).
// Holding a chunk back holds the runtime back too (the stream has
// back-pressure all the way), so the pace costs no memory.
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResponseStream, StreamEnd } from './response-stream.js';
import { responseTooLargeError } from '../agent/lambda-errors.js';

export interface StreamLimits {
  /** Longest stream passed on; the rest is cut and the stream ends with Function.ResponseSizeTooLarge. */
  maxBytes: number;
  /** Bytes passed on at full speed before the pace applies. */
  burstBytes: number;
  /** The pace after the burst; 0 for none. */
  bytesPerSecond: number;
}

export const LAMBDA_STREAM_LIMITS: StreamLimits = { maxBytes: 200 * 1024 * 1024, burstBytes: 6 * 1024 * 1024, bytesPerSecond: 2 * 1024 * 1024 };

/**
 * How long to hold back before `sentBytes` (counting the chunk about to go)
 * have gone out, `elapsedMs` into the stream: the stream may have sent
 * burstBytes + bytesPerSecond × elapsed by now. Pure.
 */
export function paceDelayMs(sentBytes: number, elapsedMs: number, limits: Pick<StreamLimits, 'burstBytes' | 'bytesPerSecond'>): number {
  if (limits.bytesPerSecond <= 0 || sentBytes <= limits.burstBytes) return 0;
  const dueAtMs = ((sentBytes - limits.burstBytes) / limits.bytesPerSecond) * 1000;
  return Math.max(0, dueAtMs - elapsedMs);
}

/**
 * The stream as the client gets it, within the limits. Its `ended` comes at
 * once when the stream is cut for size (the function may still be running;
 * the source's own `ended` says when it stops).
 */
export function limitStream(source: ResponseStream, limits: StreamLimits): ResponseStream {
  const started = performance.now();
  let sent = 0;
  let oversized = false;
  let cutEnd: StreamEnd | undefined;
  async function* paced(): AsyncGenerator<Buffer> {
    try {
      for await (const raw of source.body) {
        let chunk = raw as Buffer;
        if (sent + chunk.length > limits.maxBytes) {
          chunk = chunk.subarray(0, limits.maxBytes - sent);
          oversized = true;
        }
        const wait = paceDelayMs(sent + chunk.length, performance.now() - started, limits);
        if (wait > 0) await sleep(wait);
        sent += chunk.length;
        if (chunk.length > 0) yield chunk;
        if (oversized) {
          const err = responseTooLargeError(limits.maxBytes);
          cutEnd = { bytes: sent, durationMs: performance.now() - started, error: { errorType: err.errorType, payload: Buffer.from(JSON.stringify(err)) } };
          return;
        }
      }
    } finally {
      // Cut for size, or the client went away: the source drops what the function still writes.
      if (oversized || !source.body.readableEnded) source.body.destroy();
    }
  }
  const body = Readable.from(paced(), { objectMode: false });
  // Decided once the client's body is over (read to its end, or given up): cut for size, else however the source ended.
  const ended = new Promise<StreamEnd>((resolve) =>
    body.once('close', () => {
      // Given up before it was ever read (the client left while the call was on its way): the generator never ran, so its finally cannot release the source.
      if (!source.body.readableEnded) source.body.destroy();
      resolve(cutEnd ?? source.ended);
    }),
  );
  return { contentType: source.contentType, body, ended };
}
