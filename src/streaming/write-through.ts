// Writes a streamed body into an HTTP response as it comes, with the
// response's back-pressure (a slow client holds the producer back instead of
// piling the stream up in memory), without ending the response: the caller
// ends it (with trailers) or cuts it, once it knows how the stream ended.
// The agent's invoke endpoint and streaming function URLs both answer so.
import type { ServerResponse } from 'node:http';
import { finished, type Readable } from 'node:stream';

/**
 * 'ended': all of the body went; 'lost': the body failed; 'gone': the client
 * left first, and the body is destroyed (which releases what produces it).
 */
export function writeThrough(body: Readable, res: ServerResponse): Promise<'ended' | 'lost' | 'gone'> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (how: 'ended' | 'lost' | 'gone'): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      resolve(how);
    };
    const onClose = (): void => {
      body.unpipe(res);
      body.destroy();
      settle('gone');
    };
    res.once('close', onClose);
    // The client may have left while the stream was awaited: its 'close' is past, and a pipe into it would wait for a drain that never comes.
    if (res.destroyed) return onClose();
    finished(body, (err) => settle(err ? 'lost' : 'ended'));
    body.pipe(res, { end: false });
  });
}
