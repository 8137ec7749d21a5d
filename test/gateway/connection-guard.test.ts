// Connection hygiene (README: Connection limits): the decisions as tables,
// then each limit against buildGateway on real loopback sockets with small
// settings, each case one that would pass without the limit only if the
// limit did nothing.
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConnectionFlags } from '../../src/cli/serve-flags.js';
import type { Invoker } from '../../src/dispatch/invoker.js';
import { REQUEST_TIMEOUT_MS } from '../../src/gateway/app.js';
import { CallerTable } from '../../src/gateway/auth/callers.js';
import { admit, bodyStalled, clientAddress, defaultMaxConnections, evictable, processFdLimit, type ConnectionLimits } from '../../src/gateway/connection-guard.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { standInGateway } from '../hardening/stand-in.js';

describe('connection decisions', () => {
  it.each([
    { open: 0, fromAddress: 0, want: 'accept' },
    { open: 9, fromAddress: 3, want: 'accept' },
    { open: 5, fromAddress: 4, want: 'refuse-address' },
    { open: 10, fromAddress: 4, want: 'refuse-address' },
    { open: 10, fromAddress: 0, want: 'make-room' },
    { open: 12, fromAddress: 2, want: 'make-room' },
  ])('admit(open $open, from this address $fromAddress) with caps 10 and 4: $want', ({ open, fromAddress, want }) => {
    expect(admit({ open, fromAddress }, { maxConnections: 10, maxConnectionsPerAddress: 4 })).toBe(want);
  });

  it.each([
    ['idle', true],
    ['receiving', true],
    ['serving', false],
  ] as const)('a connection %s may be closed to make room: %s', (phase, want) => {
    expect(evictable(phase)).toBe(want);
  });

  it.each([
    { phase: 'receiving', quietForMs: 10_000, want: true },
    { phase: 'receiving', quietForMs: 9_999, want: false },
    { phase: 'serving', quietForMs: 60_000, want: false },
    { phase: 'idle', quietForMs: 60_000, want: false },
  ] as const)('a $phase connection quiet for $quietForMs ms is stalled: $want', ({ phase, quietForMs, want }) => {
    expect(bodyStalled({ phase, quietForMs }, 10_000)).toBe(want);
  });

  it.each([
    [20_000, 16_000],
    [1_024, 819],
    [50, 64],
    [1_048_576, 65_536],
    [undefined, 10_000],
  ])('with an fd limit of %s the gateway keeps at most %s connections', (limit, want) => {
    expect(defaultMaxConnections(limit)).toBe(want);
  });

  it('reads the soft open-files limit from /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \n';
    expect(processFdLimit(text)).toBe(20_000);
    expect(processFdLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
  });

  it.each([
    ['::ffff:127.0.0.9', '127.0.0.9'],
    ['127.0.0.9', '127.0.0.9'],
    ['::1', '::1'],
    [undefined, 'unknown'],
  ])('counts %s as %s', (remote, want) => {
    expect(clientAddress(remote)).toBe(want);
  });
});

describe('connection flags', () => {
  it.each([
    [{}, {}],
    [{ 'max-connections': '5000' }, { maxConnections: 5000 }],
    [{ 'max-connections-per-address': '32' }, { maxConnectionsPerAddress: 32 }],
    [{ 'headers-timeout-seconds': '2.5', 'body-timeout-seconds': '30' }, { headersTimeoutMs: 2500, bodyTimeoutMs: 30_000 }],
  ])('%j gives %j', (flags, want) => {
    expect(parseConnectionFlags(flags)).toEqual(want);
  });

  it.each([
    [{ 'max-connections': '0' }, '--max-connections must be a positive integer'],
    [{ 'max-connections-per-address': '1.5' }, '--max-connections-per-address must be a positive integer'],
    [{ 'headers-timeout-seconds': '0' }, '--headers-timeout-seconds must be a number of seconds above 0 and at most 300'],
    [{ 'body-timeout-seconds': '301' }, '--body-timeout-seconds must be a number of seconds above 0 and at most 300'],
    [{ 'body-timeout-seconds': '' }, '--body-timeout-seconds must be'],
  ])('%j is refused', (flags, message) => {
    expect(parseConnectionFlags(flags)).toContain(message);
  });
});

// Against a real server.
let app: FastifyInstance | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
});

const callers = new CallerTable({ callers: [{ name: 'suite', apiKey: 'suite-key-0123456789abcdef', functions: ['*'] }] });

async function gateway(connections: Partial<ConnectionLimits>, extra: { invoker?: Invoker; auth?: boolean } = {}): Promise<{ port: number; registry: Registry }> {
  const registry = createRegistry({ defaultMetrics: false });
  app = await standInGateway({
    registry,
    connections,
    ...(extra.invoker ? { invoker: extra.invoker } : {}),
    ...(extra.auth ? { auth: { callers: () => callers } } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, registry };
}

interface Conn {
  socket: Socket;
  /** Everything received so far. */
  data: () => string;
  closed: Promise<number>;
}

/** A raw connection from `from`; `closed` resolves with ms from connect to close. */
function open(port: number, from = '127.0.0.1', send?: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    sockets.push(socket);
    let data = '';
    let started = 0;
    socket.on('data', (d: Buffer) => void (data += d.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - started)));
    socket.once('connect', () => {
      started = performance.now();
      if (send !== undefined) socket.write(send);
      resolve({ socket, data: () => data, closed });
    });
    socket.once('error', reject);
  });
}

/** Resolves true if the promise settles within ms. */
async function within<T>(p: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([p.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)))]);
  clearTimeout(timer);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GET_HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
const INVOKE = '/2015-03-31/functions/echo/invocations';

async function metric(registry: Registry, name: string, reason: string): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.reason === reason);
  return m?.value ?? 0;
}

describe('connection limits on a real server', () => {
  it('closes a connection over the per-address cap at once and counts it; other addresses still get in', async () => {
    const { port, registry } = await gateway({ maxConnectionsPerAddress: 3 });
    const held = await Promise.all([1, 2, 3].map(() => open(port, '127.0.0.5')));
    const over = await open(port, '127.0.0.5', GET_HEALTHZ);
    expect(await within(over.closed, 2_000)).toBe(true);
    expect(over.data()).toBe('');
    const other = await open(port, '127.0.0.6', GET_HEALTHZ);
    await sleep(200);
    expect(other.data()).toMatch(/^HTTP\/1\.1 200 /);
    for (const h of held) expect(h.socket.destroyed).toBe(false);
    expect(await metric(registry, 'hearth_gateway_connections_refused_total', 'address_cap')).toBe(1);
    // Three held from .5 and the kept-alive one from .6.
    expect((await registry.getSingleMetric('hearth_gateway_connections_open')?.get())?.values[0]?.value).toBe(4);
  });

  it('at the gateway cap closes the oldest connection not serving a request, so a probe still gets in', async () => {
    const { port, registry } = await gateway({ maxConnections: 4 });
    const held: Conn[] = [];
    for (const n of [10, 11, 12, 13]) {
      held.push(await open(port, `127.0.0.${n}`));
      await sleep(20);
    }
    const probe = await open(port, '127.0.0.1', GET_HEALTHZ);
    await sleep(300);
    expect(probe.data()).toMatch(/^HTTP\/1\.1 200 /);
    expect(await within(held[0]!.closed, 1_000)).toBe(true);
    for (const h of held.slice(1)) expect(h.socket.destroyed).toBe(false);
    expect(await metric(registry, 'hearth_gateway_connections_closed_total', 'evicted')).toBe(1);
  });

  it('never closes a connection whose request is being served: at the cap with every one busy, the newcomer is refused', async () => {
    const slow: Invoker = {
      async invoke(inv) {
        await sleep(1_500);
        return { outcome: 'success', payload: inv.payload, durationMs: 1_500 };
      },
    };
    const { port, registry } = await gateway({ maxConnections: 2 }, { invoker: slow });
    const call = `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`;
    // One with a body, one without (complete on its headers, never read).
    const noBody = `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`;
    const busy = await Promise.all([open(port, '127.0.0.20', call), open(port, '127.0.0.21', noBody)]);
    await sleep(300);
    const late = await open(port, '127.0.0.22', GET_HEALTHZ);
    expect(await within(late.closed, 1_000)).toBe(true);
    await sleep(1_600);
    for (const b of busy) expect(b.data()).toMatch(/^HTTP\/1\.1 200 /);
    expect(await metric(registry, 'hearth_gateway_connections_refused_total', 'gateway_cap')).toBe(1);
  });

  it('bounds receiving a whole request by requestTimeout (300 s), and gives the headers the configured timeout', async () => {
    await gateway({ headersTimeoutMs: 4_000 });
    expect(app?.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).toBe(300_000);
    expect(app?.server.headersTimeout).toBe(4_000);
  });

  it('answers 408 and closes a connection whose headers do not arrive within the headers timeout', async () => {
    const { port } = await gateway({ headersTimeoutMs: 1_000 });
    const partial = await open(port, '127.0.0.1', `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\n`);
    // Node checks once a second: at most about two seconds.
    expect(await within(partial.closed, 4_000)).toBe(true);
    expect(partial.data()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a request whose body stops arriving for the body timeout, and keeps one that trickles', async () => {
    const { port, registry } = await gateway({ bodyTimeoutMs: 1_000 });
    const head = `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const stalled = await open(port, '127.0.0.1', `${head}1\r\n{\r\n`);
    const trickling = await open(port, '127.0.0.1', head);
    for (const ch of ['{', '"', 'a', '"', ':', '1']) {
      trickling.socket.write(`1\r\n${ch}\r\n`);
      await sleep(400);
    }
    expect(await within(stalled.closed, 2_000)).toBe(true);
    trickling.socket.write('1\r\n}\r\n0\r\n\r\n');
    await sleep(300);
    expect(trickling.data()).toMatch(/^HTTP\/1\.1 200 /);
    expect(trickling.data()).toContain('{"a":1}');
    expect(await metric(registry, 'hearth_gateway_connections_closed_total', 'body_timeout')).toBe(1);
  });

  it('does not count the function run time against the timeouts: a call longer than all of them is answered', async () => {
    const slow: Invoker = {
      async invoke(inv) {
        await sleep(3_000);
        return { outcome: 'success', payload: inv.payload, durationMs: 3_000 };
      },
    };
    const { port } = await gateway({ headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 }, { invoker: slow });
    const call = await open(port, '127.0.0.1', `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"a":1}`);
    // No body at all: nothing reads it, yet it is complete.
    const empty = await open(port, '127.0.0.1', `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
    await sleep(3_500);
    for (const c of [call, empty]) {
      expect(c.data()).toMatch(/^HTTP\/1\.1 200 /);
      expect(c.socket.destroyed).toBe(false);
    }
  });

  it('answers a caller without credentials 401 on its headers, says Connection: close and closes, without waiting for the body', async () => {
    const { port } = await gateway({}, { auth: true });
    const stalled = await open(port, '127.0.0.1', `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`);
    expect(await within(stalled.closed, 3_000)).toBe(true);
    expect(stalled.data()).toMatch(/^HTTP\/1\.1 401 /);
    expect(stalled.data().toLowerCase()).toContain('connection: close');
    // A complete request too: no kept-alive connection after a 401.
    const complete = await open(port, '127.0.0.1', `POST ${INVOKE} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}`);
    expect(await within(complete.closed, 3_000)).toBe(true);
    expect(complete.data()).toMatch(/^HTTP\/1\.1 401 /);
  });
});
