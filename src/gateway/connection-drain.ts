// How the gateway's HTTP server leaves without breaking a call. Clients keep
// connections alive and send the next request whenever they like; a server
// that closes a kept-alive connection at the moment a request travels on it
// resets that request, and the client cannot tell whether it ran. So while
// draining every answer says `Connection: close` (the client then opens its
// next connection elsewhere, and Node closes this one after the answer), the
// listener closes only after the shutdown delay, and a connection with nothing
// in flight is closed only once it has been quiet for a moment: one just
// accepted, whose first request may be on its way, is given the chance to
// send it and be answered. Whatever is left at the drain deadline is cut.
import type { Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** How long a quiet connection is left open after the listener closed, in case its request is on the way. */
export const IDLE_GRACE_MS = 1_000;

export interface ConnectionView {
  /** Requests received on it and not yet answered. */
  inFlight: number;
  /** Since its last answer, or since it was accepted. */
  idleForMs: number;
}

/** Whether a draining server may close this connection now. Pure, for the table test. */
export function closesNow(c: ConnectionView, idleGraceMs: number): boolean {
  // It closes itself after its answer, which says Connection: close.
  if (c.inFlight > 0) return false;
  return c.idleForMs >= idleGraceMs;
}

interface Tracked {
  inFlight: number;
  idleSince: number;
}

export class ConnectionDrain {
  readonly #conns = new Map<Socket, Tracked>();
  readonly #server: Server;
  readonly #now: () => number;
  #draining = false;

  constructor(server: Server, now: () => number = Date.now) {
    this.#server = server;
    this.#now = now;
    server.on('connection', (socket: Socket) => {
      this.#conns.set(socket, { inFlight: 0, idleSince: this.#now() });
      socket.once('close', () => this.#conns.delete(socket));
    });
    server.on('request', (req, res) => {
      const c = this.#conns.get(req.socket);
      if (!c) return;
      c.inFlight++;
      res.once('close', () => {
        c.inFlight--;
        c.idleSince = this.#now();
      });
    });
  }

  /** True once the drain began: readiness fails and every answer says Connection: close. */
  get draining(): boolean {
    return this.#draining;
  }

  get connections(): number {
    return this.#conns.size;
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.#conns.values()) n += c.inFlight;
    return n;
  }

  begin(): void {
    this.#draining = true;
  }

  /**
   * Stops accepting connections and leaves the open ones to drained():
   * Node's http.Server#close would at once close every kept-alive connection
   * between two requests, also one whose client was just answered and is
   * sending its next request. (net's close callback would wait for every
   * connection to end; the listening socket itself is closed now.)
   */
  stopListening(): void {
    if (this.#server.listening) NetServer.prototype.close.call(this.#server);
  }

  /** Closes the connections closesNow allows; returns how many. */
  closeIdle(idleGraceMs: number): number {
    const now = this.#now();
    let closed = 0;
    for (const [socket, c] of this.#conns) {
      if (!closesNow({ inFlight: c.inFlight, idleForMs: now - c.idleSince }, idleGraceMs)) continue;
      socket.destroy();
      closed++;
    }
    return closed;
  }

  /**
   * Waits until every connection is gone, closing quiet ones as they become
   * closable; at the deadline the rest are cut. Returns the calls cut short.
   */
  async drained(deadline: number, idleGraceMs: number, pollMs = 50): Promise<{ cutCalls: number }> {
    for (;;) {
      this.closeIdle(idleGraceMs);
      if (this.#conns.size === 0) return { cutCalls: 0 };
      if (this.#now() >= deadline) {
        const cutCalls = this.inFlight;
        for (const socket of this.#conns.keys()) socket.destroy();
        return { cutCalls };
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(pollMs, deadline - this.#now()))));
    }
  }
}
