// Following a Sentinel failover at once. A client connected to the old master
// learns of the failover only when that connection breaks: at once if the
// master died, but only when Sentinel reconfigures it (seconds later) if it
// is alive and demoted, and never if it hangs (SIGSTOP, a partition) since
// its socket stays open. Until then every write goes to a master that is no
// longer the master. Sentinels announce each promotion on their
// +switch-master channel; one subscription per process and set of sentinels
// (not one per client, as ioredis's failoverDetector would open) tells every
// client of that master to reconnect, which asks the sentinels for the new
// master again. A client that is between connections at that moment is left
// to finish asking (ioredis ends a client for good if it is told to
// reconnect while a sentinel's answer is pending) and is checked once ready.
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

export type SwitchAction = 'keep' | 'reconnect' | 'recheck';

/**
 * What the watch does with one client when a promotion is announced, by the
 * client's ioredis status and whether its connection is to the new master. Pure.
 * - connected (handshake or ready) elsewhere: reconnect, which asks the sentinels again;
 * - asking the sentinels or waiting to (connecting, reconnecting, close): leave it be
 *   and check once it is ready. ioredis's disconnect(true) while a sentinel's answer
 *   is pending makes that answer throw "Connection is closed" and ends the client for
 *   good (status end, no reconnect), and the answer may still name the old master if
 *   that sentinel had not switched yet;
 * - never connected (wait) or ended: nothing to do.
 */
export function switchAction(status: string, onNewMaster: boolean): SwitchAction {
  switch (status) {
    case 'connect':
    case 'ready':
    case 'monitoring':
      return onNewMaster ? 'keep' : 'reconnect';
    case 'connecting':
    case 'reconnecting':
    case 'close':
      return 'recheck';
    default:
      return 'keep';
  }
}

/** The address ("ip:port") a client's connection goes to, if it has one. */
function remoteOf(c: Redis): string | undefined {
  const s = c.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (s?.remoteAddress === undefined) return undefined;
  return `${s.remoteAddress.replace(/^::ffff:/, '')}:${s.remotePort ?? ''}`;
}

interface Watch {
  subscribers: Redis[];
  clients: Set<Redis>;
  /** The master last switched to, so the same announcement from several sentinels reconnects once. */
  master: string | undefined;
  /** Clients that were between connections at an announcement, checked when next ready. */
  rechecking: WeakSet<Redis>;
}

const watches = new Map<string, Watch>();

function watchKey(o: SentinelWatchOptions): string {
  return JSON.stringify([o.name, o.sentinels.map((s) => `${s.host}:${s.port}`).sort()]);
}

function open(key: string, o: SentinelWatchOptions): Watch {
  const w: Watch = { subscribers: [], clients: new Set(), master: undefined, rechecking: new WeakSet() };
  const onMessage = (_channel: string, message: string): void => {
    const to = switchedTo(message, o.name);
    if (to === undefined || to === w.master) return;
    w.master = to;
    o.logger?.info({ master: o.name, to, clients: w.clients.size }, 'sentinel failover: reconnecting to the new master');
    for (const c of w.clients) {
      const action = switchAction(c.status, remoteOf(c) === to);
      // disconnect(true) drops the connection and reconnects through the sentinels; unanswered commands are resent there.
      // A client already on the new master (it reconnected first) keeps its connection, and its blocked reads.
      if (action === 'reconnect') c.disconnect(true);
      else if (action === 'recheck' && !w.rechecking.has(c)) {
        w.rechecking.add(c);
        // Once: a sentinel that had not switched yet may have named the old master (still up after a SENTINEL FAILOVER
        // until Sentinel demotes it); one more question finds the new one. Not more, so a stale w.master cannot loop it.
        c.once('ready', () => {
          w.rechecking.delete(c);
          if (w.master !== undefined && remoteOf(c) !== w.master) c.disconnect(true);
        });
      }
    }
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
