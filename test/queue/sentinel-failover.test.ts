// Following a Sentinel failover with a client that is, at that moment,
// asking the sentinels where the master is (status "connecting"). The
// failover watch must not end such a client: ioredis's disconnect(true)
// during that question makes the answer throw "Connection is closed" and sets
// the client to "end" for good, so one unlucky reconnect left a gateway's
// lease and shared demand (or its queue) dead after a master SIGKILL. Real
// redis-servers (a master, a replica, a sentinel); the client reaches the
// sentinel through a gate on loopback that holds new connections while
// closed, so the question is pending exactly when the failover is announced.
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisClient } from '../../src/queue/redis.js';
import { startSentinelGroup, type SentinelGroup } from '../helpers/redis-sentinel.js';
import { waitFor } from '../helpers/wait.js';

/** A TCP relay to `port` whose new connections wait (accepted, nothing relayed) while it is closed. */
interface Gate {
  port: number;
  close(): void;
  open(): void;
  stop(): Promise<void>;
}

async function startGate(port: number): Promise<Gate> {
  let closed = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const relay = (): void => {
      const upstream = createConnection({ host: '127.0.0.1', port });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    };
    if (closed) held.push(relay);
    else relay();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => void (closed = true),
    open: () => {
      closed = false;
      for (const relay of held.splice(0)) relay();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let group: SentinelGroup;
let gate: Gate;

beforeAll(async () => {
  group = await startSentinelGroup({ replicas: 1, sentinels: 1 });
  gate = await startGate(group.sentinels[0]?.port ?? 0);
}, 60_000);

afterAll(async () => {
  await gate?.stop();
  await group?.stop();
});

it('a client asking the sentinels when a failover is announced reconnects to the new master, not ends', { timeout: 90_000 }, async () => {
  const client = createRedisClient({ sentinels: [{ host: '127.0.0.1', port: gate.port }], sentinelName: group.name });
  client.on('error', () => undefined);
  const statuses: string[] = [];
  client.on('end', () => statuses.push('end'));
  // Told of the promotion directly by the sentinel, beside the watch's own subscription through the gate.
  const announcements = new Redis({ host: '127.0.0.1', port: group.sentinels[0]?.port ?? 0 });
  announcements.on('error', () => undefined);
  try {
    await waitFor('the client ready', () => client.status === 'ready', 20_000, 20);
    await client.set('before', '1');
    const switched = new Promise<string>((resolve) => announcements.on('message', (_channel: string, message: string) => resolve(message)));
    await announcements.subscribe('+switch-master');

    // The master dies; the client's reconnect asks the sentinel through the closed gate and waits there.
    gate.close();
    const before = await group.masterPort();
    await group.node(before).kill();
    await waitFor('the client asking the sentinel', () => client.status === 'connecting', 20_000, 5);
    const after = await group.newMasterThan(before, 60_000);
    const message = await switched;
    expect(message).toContain(String(after));
    // The watch's subscription (an older connection through the gate) has the same announcement by now.
    await new Promise((r) => setTimeout(r, 500));
    expect(client.status).toBe('connecting');

    gate.open();
    // Ended, it would never connect again: every later command fails with "Connection is closed".
    await waitFor('the client ready again, or ended', () => client.status === 'ready' || client.status === 'end', 30_000, 20);
    expect(client.status).toBe('ready');
    expect(statuses).toEqual([]);
    await client.set('after', '2');
    expect(await group.command(after, 'GET', 'after')).toBe('2');
  } finally {
    announcements.disconnect();
    client.disconnect();
  }
});
