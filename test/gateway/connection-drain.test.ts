// Which connections a leaving gateway closes, and when: the table of the
// pure rule, then raw sockets against a real gateway (in process, a 300 ms
// shutdown delay) so each case is a byte-level fact, not a client library's
// retry hiding a reset.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closesNow, IDLE_GRACE_MS } from '../../src/gateway/connection-drain.js';
import type { EmbeddedPlatform } from '../../src/platform/embedded.js';
import { startPlatform } from '../helpers/platform.js';

describe('closesNow', () => {
  it.each([
    ['a call in flight: it closes itself after its answer', { inFlight: 1, idleForMs: 5_000 }, 1_000, false],
    ['just accepted: its first request may be on the way', { inFlight: 0, idleForMs: 10 }, 1_000, false],
    ['just answered: the next request may be on the way', { inFlight: 0, idleForMs: 999 }, 1_000, false],
    ['quiet for the grace', { inFlight: 0, idleForMs: 1_000 }, 1_000, true],
    ['no grace (no shutdown delay): any quiet one', { inFlight: 0, idleForMs: 0 }, 0, true],
    ['no grace still spares a call in flight', { inFlight: 2, idleForMs: 0 }, 0, false],
  ])('%s', (_what, conn, grace, closes) => {
    expect(closesNow(conn, grace)).toBe(closes);
  });

  it('gives a second of grace', () => {
    expect(IDLE_GRACE_MS).toBe(1_000);
  });
});

/** A raw HTTP/1.1 client: what arrives on the socket, and how it ended. */
class RawConnection {
  readonly socket: Socket;
  received = '';
  ended: 'open' | 'end' | 'reset' = 'open';

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect({ host: hostname, port: Number(port) });
    this.socket.on('data', (d: Buffer) => (this.received += d.toString()));
    this.socket.on('end', () => (this.ended = 'end'));
    this.socket.on('error', () => (this.ended = 'reset'));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  get(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`);
  }

  async answers(n: number): Promise<string[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const heads = this.received.split('HTTP/1.1 ').slice(1);
      if (heads.length >= n && this.received.endsWith('}')) return heads;
      if (Date.now() > deadline || this.ended !== 'open') throw new Error(`no answer ${n} (${this.ended}): ${this.received}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async closed(): Promise<'end' | 'reset'> {
    const deadline = Date.now() + 5_000;
    while (this.ended === 'open') {
      if (Date.now() > deadline) throw new Error('still open');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.ended;
  }
}

describe('a leaving gateway and its connections', () => {
  let platform: EmbeddedPlatform | undefined;
  afterEach(async () => {
    await platform?.close();
    platform = undefined;
  });

  it('answers a request sent on a just-accepted connection after the listener closed, closes quiet kept-alive ones, refuses new ones', async () => {
    platform = await startPlatform({}, { warmPoolSize: 0, shutdown: { delayMs: 300 } });
    const url = platform.url;
    // Kept alive: answered before the shutdown, then quiet through the delay.
    const quiet = new RawConnection(url);
    await quiet.connected();
    quiet.get('/healthz');
    const [before] = await quiet.answers(1);
    expect(before).toMatch(/^200 OK/);
    expect(before?.toLowerCase()).toContain('connection: keep-alive');

    const closing = platform.close();
    // Accepted near the end of the delay, its request sent only after the listener closed.
    await new Promise((r) => setTimeout(r, 250));
    const fresh = new RawConnection(url);
    await fresh.connected();
    await new Promise((r) => setTimeout(r, 150));
    await expect(new RawConnection(url).connected()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    fresh.get('/readyz');
    const [late] = await fresh.answers(1);
    expect(late).toMatch(/^503 /);
    expect(late?.toLowerCase()).toContain('connection: close');
    expect(await fresh.closed()).toBe('end');
    // The quiet one was closed by the gateway, without a word and without a reset.
    expect(await quiet.closed()).toBe('end');
    expect(quiet.received.split('HTTP/1.1 ')).toHaveLength(2);
    await closing;
  });

  it('with no shutdown delay, stops listening and closes quiet connections at once', async () => {
    platform = await startPlatform({}, { warmPoolSize: 0 });
    const idle = new RawConnection(platform.url);
    await idle.connected();
    idle.get('/healthz');
    await idle.answers(1);
    await platform.close();
    platform = undefined;
    expect(await idle.closed()).toBe('end');
  });
});
