// What a Service does for its callers, on loopback: a TCP balancer that sends
// each new connection to one of its backends that answers /readyz with 200
// (polled, as endpoints follow readiness a moment late), round robin, and
// keeps an established connection on its backend for its whole life, as
// kube-proxy's conntrack does. A backend that fails readiness gets no new
// connections; the ones it has are its to close. Loopback only.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

export interface TcpBalancer {
  url: string;
  /** Backends currently taking new connections. */
  ready(): string[];
  /** Connections it could send nowhere (no backend ready): refused, as a Service without endpoints refuses them. */
  refused(): number;
  stop(): Promise<void>;
}

export async function startTcpBalancer(backends: readonly string[], opts: { pollMs?: number } = {}): Promise<TcpBalancer> {
  const ready = new Map<string, boolean>(backends.map((b) => [b, false]));
  const open = new Set<Socket>();
  // Probes on connections of their own, closed after each answer, like the kubelet's.
  const probes = new Agent({ pipelining: 0 });
  let refused = 0;
  let next = 0;
  let stopped = false;

  const probe = async (): Promise<void> => {
    await Promise.all(
      backends.map(async (b) => {
        try {
          const res = await request(`${b}/readyz`, { dispatcher: probes, headersTimeout: 1000, bodyTimeout: 1000 });
          await res.body.dump();
          ready.set(b, res.statusCode === 200);
        } catch {
          ready.set(b, false);
        }
      }),
    );
  };
  await probe();
  const pollMs = opts.pollMs ?? 100;
  let polling = Promise.resolve();
  const timer = setInterval(() => {
    if (!stopped) polling = probe();
  }, pollMs);

  const server: Server = createServer((client) => {
    const live = backends.filter((b) => ready.get(b));
    const target = live[next++ % Math.max(1, live.length)];
    if (target === undefined) {
      refused++;
      client.destroy();
      return;
    }
    const { hostname, port } = new URL(target);
    const upstream = createConnection({ host: hostname, port: Number(port) });
    open.add(client);
    open.add(upstream);
    // A reset on one side is a reset on the other, so a client sees what the backend did.
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    ready: () => backends.filter((b) => ready.get(b)),
    refused: () => refused,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await polling;
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await probes.close();
    },
  };
}
