// Writes a streamed body into an HTTP response chunk by chunk, waiting while
// the response's socket is full, so a slow client holds the producer back
// instead of piling the stream up in memory. The response is left open: the
// caller ends it (with trailers, a last event) or cuts it.
import type { Readable, Writable } from 'node:stream';

/** Resolves on 'drain', or at once when the sink is gone (then no drain comes). */
function drained(sink: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.once('drain', done);
    sink.once('close', done);
  });
}

/**
 * Copies `source` into `sink`, each chunk through `frame` (identity by
 * default). True when the source ended with the sink still open; false when
 * the sink went away first, in which case the source is destroyed (which
 * releases what produces it).
 */
export async function writeThrough(source: Readable, sink: Writable, frame: (chunk: Buffer) => Buffer = (c) => c): Promise<boolean> {
  const onClose = (): void => {
    if (!sink.writableFinished) source.destroy();
  };
  sink.once('close', onClose);
  try {
    for await (const chunk of source) {
      if (sink.destroyed) break;
      if (!sink.write(frame(chunk as Buffer))) await drained(sink);
    }
  } catch {
    // The source was destroyed because the sink went away.
  } finally {
    sink.off('close', onClose);
  }
  if (sink.destroyed || sink.writableEnded) {
    source.destroy();
    return false;
  }
  return true;
}
