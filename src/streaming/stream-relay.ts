// Carries one streamed /response post from the runtime's request to whoever
// reads the response: each chunk is handed on as it arrives, and the
// runtime's socket is paused while the reader is behind, so a slow client
// slows the function's writes instead of filling the agent's memory.
import { Readable } from 'node:stream';
import type { ResponseStream, StreamEnd } from './response-stream.js';

/** Bytes the relay holds for a reader that is behind before it pauses the runtime. */
const HIGH_WATER_MARK = 64 * 1024;

export class StreamRelay {
  readonly body: Readable;
  readonly ended: Promise<StreamEnd>;
  #resolve: (e: StreamEnd) => void = () => undefined;
  #bytes = 0;
  /** The reader went away: the rest of what the runtime writes is read and dropped, so the function can finish. */
  #readerGone = false;
  #finished = false;

  constructor(
    private readonly source: Readable,
    readonly contentType: string,
  ) {
    this.ended = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.body = new Readable({
      highWaterMark: HIGH_WATER_MARK,
      read: () => {
        source.resume();
      },
      destroy: (_err, cb) => {
        this.#readerGone = true;
        source.resume();
        // A reader that gives up is no error of the stream's: nothing must throw for want of a listener.
        cb(null);
      },
    });
    source.on('data', (chunk: Buffer) => {
      this.#bytes += chunk.length;
      if (this.#readerGone || this.#finished) return;
      if (!this.body.push(chunk)) source.pause();
    });
  }

  get stream(): ResponseStream {
    return { contentType: this.contentType, body: this.body, ended: this.ended };
  }

  /** Bytes the runtime has written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Ends the body and says how the stream ended; what the runtime still sends goes nowhere. */
  finish(end: Omit<StreamEnd, 'bytes'>): void {
    if (this.#finished) return;
    this.#finished = true;
    if (!this.#readerGone) this.body.push(null);
    this.source.resume();
    this.#resolve({ ...end, bytes: this.#bytes });
  }
}
