// Lingering close, as nginx's lingering_close and Apache's lingering close do.
// When the gateway answers before it has read a request body in full (a 413
// while a large body still streams in), Node's HTTP server closes the socket
// as soon as the answer is flushed. Closing with unread bytes in the receive
// buffer makes the kernel send a reset instead of a FIN, and a reset that
// reaches the client before it read the answer discards the answer: the
// caller sees "connection reset" instead of RequestTooLargeException.
// Half-closing first and discarding what still arrives, for a bounded time,
// lets the answer be read.
import type { Socket } from 'node:net';

/** How long a half-closed connection keeps discarding the rest of a body it will never use. */
export const LINGER_MS = 2_000;

/** Ends our side now, reads and discards until the client ends its side or `lingerMs` pass, then destroys. */
export function closeLingering(socket: Socket, lingerMs = LINGER_MS): void {
  socket.end();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  // The HTTP parser may have stopped consuming; the bytes must still be read for the close to be a FIN.
  socket.resume();
}

/** Makes the server's close of this socket (after the current answer) a lingering one. */
export function lingerOnClose(socket: Socket, lingerMs = LINGER_MS): void {
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    closeLingering(this, lingerMs);
  };
}
