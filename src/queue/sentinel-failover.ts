// Following a Sentinel failover at once. A client connected to the old master
// learns of the failover only when that connection breaks: at once if the
// master died, but only when Sentinel reconfigures it (seconds later) if it
// is alive and demoted, and never if it hangs (SIGSTOP, a partition) since
// its socket stays open. Until then every write goes to a master that is no
// longer the master. Sentinels announce each promotion on their
// +switch-master channel; one subscription per process and set of sentinels
// (not one per client, as ioredis's failoverDetector would open) tells every
// client of that master to reconnect, which asks the sentinels for the new
// master again.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface SentinelWatchOptions {
  sentinels: Array<{ host: string; port: number }>;
  /** The master's name, as the sentinels know it. */
  name: string;
  sentinelPassword?: string;
  logger?: Logger;
}

/**
 * The new master's address when a +switch-master message is about this master,
 * else undefined. The message is "<name> <old-ip> <old-port> <new-ip> <new-port>". Pure.
 */
export function switchedTo(message: string, name: string): string | undefined {
  const parts = message.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] !== name) return undefined;
  return `${parts[3]}:${parts[4]}`;
}

function connectedTo(c: Redis, address: string): boolean {
  const s = c.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (c.status !== 'ready' || s?.remoteAddress === undefined) return false;
  return `${s.remoteAddress.replace(/^::ffff:/, '')}:${s.remotePort ?? ''}` === address;
}

interface Watch {
  subscribers: Redis[];
  clients: Set<Redis>;
  /** The master last switched to, so the same announcement from several sentinels reconnects once. */
  master: string | undefined;
}

const watches = new Map<string, Watch>();

function watchKey(o: SentinelWatchOptions): string {
  return JSON.stringify([o.name, o.sentinels.map((s) => `${s.host}:${s.port}`).sort()]);
}

function open(key: string, o: SentinelWatchOptions): Watch {
  const w: Watch = { subscribers: [], clients: new Set(), master: undefined };
  const onMessage = (_channel: string, message: string): void => {
    const to = switchedTo(message, o.name);
    if (to === undefined || to === w.master) return;
    w.master = to;
    o.logger?.info({ master: o.name, to, clients: w.clients.size }, 'sentinel failover: reconnecting to the new master');
    // disconnect(true) drops the connection and reconnects through the sentinels; unanswered commands are resent there.
    // A client already on the new master (it reconnected first) keeps its connection, and its blocked reads.
    for (const c of w.clients) if (c.status !== 'end' && !connectedTo(c, to)) c.disconnect(true);
  };
  for (const s of o.sentinels) {
    const sub = new Redis({
      host: s.host,
      port: s.port,
      ...(o.sentinelPassword !== undefined ? { password: o.sentinelPassword } : {}),
      // A sentinel that is away is retried for as long as the watch lasts; it resubscribes on reconnect.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      maxRetriesPerRequest: null,
    });
    sub.on('error', (err: unknown) => o.logger?.debug({ err, sentinel: `${s.host}:${s.port}` }, 'sentinel watch connection error'));
    sub.on('message', onMessage);
    sub.subscribe('+switch-master').catch((err: unknown) => o.logger?.debug({ err }, 'sentinel watch could not subscribe'));
    w.subscribers.push(sub);
  }
  watches.set(key, w);
  return w;
}

/** Makes `client` reconnect whenever the sentinels promote a new master; the watch ends with the last client it serves. */
export function followFailovers(client: Redis, o: SentinelWatchOptions): void {
  const key = watchKey(o);
  const w = watches.get(key) ?? open(key, o);
  w.clients.add(client);
  client.once('end', () => {
    w.clients.delete(client);
    if (w.clients.size > 0 || watches.get(key) !== w) return;
    watches.delete(key);
    for (const s of w.subscribers) s.disconnect();
  });
}

/** How many clients a watch serves (for tests). */
export function followers(o: Pick<SentinelWatchOptions, 'sentinels' | 'name'>): number {
  return watches.get(watchKey({ ...o }))?.clients.size ?? 0;
}
