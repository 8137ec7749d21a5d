// Connection hygiene: what keeps a flood of connections that never finish a
// request (headers that never end, a body that never ends) from taking every
// file descriptor of the gateway, so that probes and real callers still get
// in. Three parts, beside Node's own headersTimeout/requestTimeout:
// - a cap per client address: one source cannot hold more than its share;
//   an over-cap connection is closed as soon as it is accepted (cheap);
// - a cap per gateway, below the process's file descriptor limit (room for
//   Redis, instances and logs). At the cap the gateway does not refuse the
//   newcomer, which could be a probe, but closes the oldest connection that
//   is not being served (no request yet, a request whose body is still
//   arriving, or a kept-alive one between requests): a request already
//   received is never cut, and a newcomer sends its request within
//   milliseconds, long before a flood has opened enough connections after it
//   to make it the oldest. Only when every connection is being served is the
//   newcomer refused;
// - a body-progress timeout: a request whose body has received no byte for
//   the body timeout is closed, whatever its route. It counts only while the
//   request arrives, never while the function runs (as requestTimeout).
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import type { ConnectionMetrics } from '../metrics/connections.js';

export interface ConnectionLimits {
  /** Open connections this gateway keeps (default: four fifths of the fd limit, at most 65,536). */
  maxConnections: number;
  /** Open connections from one client address. */
  maxConnectionsPerAddress: number;
  /** A request's headers must arrive within this (Node's headersTimeout). */
  headersTimeoutMs: number;
  /** A request body that receives nothing for this long is closed. */
  bodyTimeoutMs: number;
}

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/** Used where the fd limit cannot be read (not Linux). */
export const FALLBACK_MAX_CONNECTIONS = 10_000;
const MAX_DEFAULT_CONNECTIONS = 65_536;

/** Four fifths of the fd limit: the rest stays for Redis, instances' pipes, logs and the probes' own work. */
export function defaultMaxConnections(fdLimit: number | undefined): number {
  if (fdLimit === undefined || !Number.isFinite(fdLimit)) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(64, Math.min(MAX_DEFAULT_CONNECTIONS, Math.floor(fdLimit * 0.8)));
}

/** The soft limit on open files of this process (Node raises it to the hard limit at start), from /proc. */
export function processFdLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m?.[1] || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

export function defaultConnectionLimits(fdLimit = processFdLimit()): ConnectionLimits {
  return {
    maxConnections: defaultMaxConnections(fdLimit),
    maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
  };
}

/** What a newly accepted connection meets. Pure, for the table test. */
export type Admission = 'accept' | 'refuse-address' | 'make-room';

export function admit(c: { open: number; fromAddress: number }, limits: Pick<ConnectionLimits, 'maxConnections' | 'maxConnectionsPerAddress'>): Admission {
  // Counts exclude the newcomer.
  if (c.fromAddress >= limits.maxConnectionsPerAddress) return 'refuse-address';
  if (c.open >= limits.maxConnections) return 'make-room';
  return 'accept';
}

export type ConnectionPhase = 'idle' | 'receiving' | 'serving';

/** Whether a connection may be closed to make room: anything but a request received and not yet answered. */
export function evictable(phase: ConnectionPhase): boolean {
  return phase !== 'serving';
}

/** Whether a request still arriving has made no progress for too long. Pure. */
export function bodyStalled(c: { phase: ConnectionPhase; quietForMs: number }, bodyTimeoutMs: number): boolean {
  return c.phase === 'receiving' && bodyTimeoutMs > 0 && c.quietForMs >= bodyTimeoutMs;
}

/** An IPv4 address reached over a dual-stack socket counts as itself. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

interface Tracked {
  address: string;
  /** The request being received or served on it; none between requests. */
  req: IncomingMessage | undefined;
  /** socket.bytesRead when last seen moving, and when. */
  bytesRead: number;
  movedAt: number;
}

/**
 * Node's parser marks a request complete once its last byte arrived, whether
 * or not anything reads the body (a request without one is complete on its
 * headers), so this is what the connection is doing now.
 */
function phaseOf(c: Tracked): ConnectionPhase {
  if (c.req === undefined) return 'idle';
  return c.req.complete ? 'serving' : 'receiving';
}

/**
 * Applies the caps and the body timeout to a server's connections. Listens
 * to the server's 'connection' and 'request' events only; stop() ends its
 * sweep timer.
 */
export class ConnectionGuard {
  // Insertion order is accept order: the first evictable entry is the oldest.
  readonly #conns = new Map<Socket, Tracked>();
  readonly #perAddress = new Map<string, number>();
  readonly #limits: ConnectionLimits;
  readonly #metrics: ConnectionMetrics | undefined;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  constructor(server: Server, limits: ConnectionLimits, metrics?: ConnectionMetrics, now: () => number = Date.now, sweepEveryMs = 1_000) {
    this.#limits = limits;
    this.#metrics = metrics;
    this.#now = now;
    server.on('connection', (socket: Socket) => this.#accept(socket));
    server.on('request', (req: IncomingMessage, res) => {
      const c = this.#conns.get(req.socket);
      if (!c) return;
      c.req = req;
      c.bytesRead = req.socket.bytesRead;
      c.movedAt = this.#now();
      res.once('close', () => {
        if (c.req === req) c.req = undefined;
      });
    });
    this.#sweep = setInterval(() => this.sweep(), sweepEveryMs);
    this.#sweep.unref();
  }

  get open(): number {
    return this.#conns.size;
  }

  #accept(socket: Socket): void {
    const address = clientAddress(socket.remoteAddress);
    const fromAddress = this.#perAddress.get(address) ?? 0;
    const decision = admit({ open: this.#conns.size, fromAddress }, this.#limits);
    if (decision === 'refuse-address') {
      this.#metrics?.refused.inc({ reason: 'address_cap' });
      socket.destroy();
      return;
    }
    if (decision === 'make-room' && !this.#evictOldest()) {
      this.#metrics?.refused.inc({ reason: 'gateway_cap' });
      socket.destroy();
      return;
    }
    this.#conns.set(socket, { address, req: undefined, bytesRead: 0, movedAt: this.#now() });
    this.#perAddress.set(address, fromAddress + 1);
    this.#metrics?.open.set(this.#conns.size);
    socket.once('close', () => this.#forget(socket));
  }

  #forget(socket: Socket): void {
    const c = this.#conns.get(socket);
    if (!c) return;
    this.#conns.delete(socket);
    const n = (this.#perAddress.get(c.address) ?? 1) - 1;
    if (n <= 0) this.#perAddress.delete(c.address);
    else this.#perAddress.set(c.address, n);
    this.#metrics?.open.set(this.#conns.size);
  }

  #evictOldest(): boolean {
    for (const [socket, c] of this.#conns) {
      if (!evictable(phaseOf(c))) continue;
      // Forgotten now, not on 'close', so the newcomer's count sees the room.
      this.#forget(socket);
      socket.destroy();
      this.#metrics?.closed.inc({ reason: 'evicted' });
      return true;
    }
    return false;
  }

  /** Closes requests whose body stopped arriving. Runs on a timer; public for tests. */
  sweep(): void {
    const now = this.#now();
    for (const [socket, c] of this.#conns) {
      const phase = phaseOf(c);
      if (phase !== 'receiving') continue;
      if (socket.bytesRead !== c.bytesRead) {
        c.bytesRead = socket.bytesRead;
        c.movedAt = now;
        continue;
      }
      if (!bodyStalled({ phase, quietForMs: now - c.movedAt }, this.#limits.bodyTimeoutMs)) continue;
      this.#forget(socket);
      socket.destroy();
      this.#metrics?.closed.inc({ reason: 'body_timeout' });
    }
  }

  stop(): void {
    clearInterval(this.#sweep);
  }
}
