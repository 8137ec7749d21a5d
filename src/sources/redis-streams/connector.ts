// The Redis Streams connector of an event-source mapping. Each stream is a
// partition, read by one gateway at a time: the one holding its lease key
// (SET NX PX, renewed while it reads). The holder reads through the mapping's
// consumer group: first the entries still pending in the group (its own, and
// those of a holder that went away, taken over with XAUTOCLAIM), in id order,
// then new ones (`>`). A commit XACKs every entry through the position. A
// holder that loses its lease (it stalled past the lease, or Redis lost the
// key) aborts its in-flight batch and lets the stream go; whoever holds the
// lease next goes on from the last acknowledged entry (at-least-once).
// A graceful stop (stop({ drainMs })) first drains: no lease is taken and no
// entry read any more, each stream's batch in flight finishes and is
// acknowledged while its lease is still renewed, and only then (or at the
// drain's end, aborting what still runs) are the leases given back.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { defaultConsumerGroup, type EventSourceMapping } from '../../api/event-source-mapping.js';
import type { Connector, ConnectorHandlers, PartitionLag, PartitionSink } from '../connector.js';
import type { RedisStreamRecord } from '../records.js';
import { sleep } from '../abortable-wait.js';

export interface RedisStreamsConnectorOptions {
  /** The Redis to read when the mapping names none (the platform's); without either the connector reports a problem. */
  defaultUrl?: string;
  /** The password from the mapping's Secret, resolved by the caller. */
  password?: string;
  /** This reader's consumer name in the groups; unique per connector (default host-pid-random). */
  consumerName?: string;
  /** How long a lease lasts without renewal; renewed every third of it (default 10 s). */
  leaseMs?: number;
  /** How long to wait before reading an idle stream again (default 100 ms). */
  idlePollMs?: number;
  /** Prefix of the lease keys (default hearth:esm:lease:). */
  leasePrefix?: string;
  logger?: Logger;
}

export interface RedisStreamsConnector extends Connector {
  /** The connection (redis-stream:// onFailure destinations of this mapping write through it). */
  client(): Redis | undefined;
  /** Goes away as a crashed gateway would: reading stops, in-flight batches are aborted, nothing is acknowledged or released; the leases expire. */
  kill(): void;
}

const MAX_SEQ = '18446744073709551615';

/** The id a new consumer group starts after, for the mapping's startingPosition. */
export function groupStartId(m: Pick<EventSourceMapping['spec'], 'startingPosition' | 'startingPositionTimestamp'>): string {
  switch (m.startingPosition) {
    case 'TRIM_HORIZON':
      return '0';
    case 'LATEST':
      return '$';
    case 'AT_TIMESTAMP': {
      const ms = Date.parse(m.startingPositionTimestamp ?? '');
      // Entries from that millisecond on: the group's last-delivered id is the last one before it.
      return ms > 0 ? `${ms - 1}-${MAX_SEQ}` : '0';
    }
  }
}

/** Orders stream ids (MS-SEQ). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const s = BigInt(as) - BigInt(bs);
  return s === 0n ? 0 : s < 0n ? -1 : 1;
}

// Renews the lease; one that expired (this process stalled past it) and that nobody took since is taken again: no one else can have read the stream meanwhile.
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

type Entry = [string, string[] | null];

function toRecords(stream: string, entries: readonly Entry[]): { records: RedisStreamRecord[]; deleted: string[] } {
  const records: RedisStreamRecord[] = [];
  const deleted: string[] = [];
  for (const [id, flat] of entries) {
    // A pending entry trimmed from the stream comes back without fields: nothing to process, only to acknowledge.
    if (!flat) {
      deleted.push(id);
      continue;
    }
    const fields: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) fields.push([flat[i] as string, flat[i + 1] as string]);
    records.push({ source: 'redis-streams', stream, id, fields });
  }
  return { records, deleted };
}

/** Parses XINFO GROUPS' flat arrays into objects. */
function infoGroups(reply: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(reply)) return [];
  return reply.map((g) => {
    const o: Record<string, unknown> = {};
    if (Array.isArray(g)) for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
    return o;
  });
}

export function redisStreamsConnector(mapping: EventSourceMapping, opts: RedisStreamsConnectorOptions = {}): RedisStreamsConnector {
  const source = mapping.spec.redisStreams;
  if (!source) throw new Error('redisStreamsConnector: the mapping has no redisStreams source');
  const url = source.url ?? opts.defaultUrl;
  const group = source.consumerGroup ?? defaultConsumerGroup(mapping);
  const me = opts.consumerName ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const leaseMs = opts.leaseMs ?? 10_000;
  const idlePollMs = opts.idlePollMs ?? 100;
  const leasePrefix = opts.leasePrefix ?? 'hearth:esm:lease:';
  const batchSize = mapping.spec.batchSize;
  const windowMs = mapping.spec.maximumBatchingWindowInSeconds * 1000;
  const logger = opts.logger;
  const leaseKey = (stream: string): string => `${leasePrefix}${group}:${stream}`;

  let redis: Redis | undefined;
  let handlers: ConnectorHandlers | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  let ticking = false;
  /** Aborted when a graceful stop begins: readers read nothing more (an idle wait ends at once), leases are renewed but none taken. */
  const draining = new AbortController();
  const held = new Map<string, { abort: AbortController; done: Promise<void>; sink?: PartitionSink }>();

  let lastProblem: string | undefined;
  const problem = (message: string): void => {
    // Logged when it changes, not on every lease tick while Redis stays away.
    if (message !== lastProblem) logger?.warn({ group }, message);
    lastProblem = message;
    handlers?.problem(message);
  };

  const release = (stream: string, reason: string): void => {
    const h = held.get(stream);
    if (!h) return;
    held.delete(stream);
    h.abort.abort(new Error(reason));
    handlers?.released(stream);
  };

  async function ensureGroup(r: Redis, stream: string): Promise<void> {
    try {
      await r.xgroup('CREATE', stream, group, groupStartId(mapping.spec), 'MKSTREAM');
      logger?.info({ stream, group }, 'consumer group created');
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
    }
  }

  /** Takes over what a holder before this one left pending, and forgets consumers that have nothing pending. */
  async function takeOver(r: Redis, stream: string): Promise<void> {
    let cursor = '0-0';
    for (let i = 0; i < 10_000; i++) {
      const reply = (await r.xautoclaim(stream, group, me, 0, cursor, 'COUNT', 1000, 'JUSTID')) as [string, string[]];
      cursor = reply[0];
      if (cursor === '0-0') break;
    }
    const consumers = (await r.xinfo('CONSUMERS', stream, group)) as unknown;
    for (const c of infoGroups(consumers)) {
      const name = String(c.name);
      if (name !== me && Number(c.pending) === 0) await r.xgroup('DELCONSUMER', stream, group, name);
    }
  }

  async function read(r: Redis, stream: string, from: string, signal: AbortSignal): Promise<Entry[]> {
    signal.throwIfAborted();
    const reply = (await r.xreadgroup('GROUP', group, me, 'COUNT', batchSize, 'STREAMS', stream, from)) as Array<[string, Entry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  async function feed(r: Redis, stream: string, entries: Entry[], sink: PartitionSink, signal: AbortSignal): Promise<void> {
    const { records, deleted } = toRecords(stream, entries);
    if (deleted.length > 0) await r.xack(stream, group, ...deleted);
    if (records.length > 0) await sink.process(records, signal);
  }

  /** Waits `ms`; a drain ends it early (the caller then reads nothing more), an abort rejects. */
  async function pause(ms: number, signal: AbortSignal): Promise<void> {
    if (draining.signal.aborted) return;
    await sleep(ms, AbortSignal.any([signal, draining.signal])).catch((err: unknown) => {
      if (signal.aborted || !draining.signal.aborted) throw err;
    });
  }

  async function readPartition(stream: string, signal: AbortSignal, h: { sink?: PartitionSink }): Promise<void> {
    const r = redis;
    if (!r || !handlers) return;
    await ensureGroup(r, stream);
    await takeOver(r, stream);
    // The ids handed to the sink and not yet acknowledged, in order: a commit acknowledges those through its position.
    let unacked: string[] = [];
    const commit = async (position: string): Promise<void> => {
      const n = unacked.findIndex((id) => compareIds(id, position) > 0);
      const through = n === -1 ? unacked : unacked.slice(0, n);
      if (through.length === 0) return;
      await r.xack(stream, group, ...through);
      unacked = unacked.slice(through.length);
    };
    const sink = handlers.sinkFor(stream, commit);
    h.sink = sink;
    const isDraining = (): boolean => draining.signal.aborted;
    // Pending first (in id order), then new entries.
    let last = '0';
    for (;;) {
      if (isDraining()) return;
      const entries = await read(r, stream, last, signal);
      if (entries.length === 0) break;
      last = (entries.at(-1) as Entry)[0];
      unacked = entries.filter(([, f]) => f !== null).map(([id]) => id);
      await feed(r, stream, entries, sink, signal);
    }
    while (!signal.aborted && !isDraining()) {
      let entries = await read(r, stream, '>', signal);
      if (entries.length === 0) {
        await pause(idlePollMs, signal);
        continue;
      }
      // maximumBatchingWindowInSeconds: gather up to batchSize records for at most the window.
      const until = Date.now() + windowMs;
      while (entries.length < batchSize && Date.now() < until && !isDraining()) {
        await pause(Math.min(idlePollMs, until - Date.now()), signal);
        if (isDraining()) break;
        entries = entries.concat(await read(r, stream, '>', signal));
      }
      // Draining before the batch started: its entries stay pending, and the stream's next holder takes them over (takeOver).
      if (isDraining()) return;
      unacked = entries.filter(([, f]) => f !== null).map(([id]) => id);
      await feed(r, stream, entries, sink, signal);
    }
  }

  function startPartition(stream: string): void {
    const abort = new AbortController();
    const h: { abort: AbortController; done: Promise<void>; sink?: PartitionSink } = { abort, done: Promise.resolve() };
    h.done = readPartition(stream, abort.signal, h).then(
      () => undefined,
      (err: unknown) => {
        if (abort.signal.aborted) return;
        problem(`reading stream ${stream}: ${err instanceof Error ? err.message : String(err)}`);
        // Let the stream go; the next tick takes the lease again (here or elsewhere) and starts over from the last acknowledgement.
        if (held.get(stream)?.abort === abort) {
          held.delete(stream);
          handlers?.released(stream);
          void redis?.eval(RELEASE, 1, leaseKey(stream), me).catch(() => undefined);
        }
      },
    );
    held.set(stream, h);
  }

  async function tick(): Promise<void> {
    const r = redis;
    if (ticking || stopped || !r) return;
    ticking = true;
    try {
      if (r.status === 'ready') lastProblem = undefined;
      else {
        problem(`cannot reach Redis at ${redactUrl(url ?? '')} (${r.status})`);
        for (const s of [...held.keys()]) release(s, 'Redis unreachable: the lease cannot be renewed');
        return;
      }
      for (const stream of source?.streams ?? []) {
        if (stopped) return;
        if (held.has(stream)) {
          // Renewed while draining too: the batch finishing here keeps its stream until it is acknowledged.
          const renewed = Number(await r.eval(RENEW, 1, leaseKey(stream), me, leaseMs));
          if (renewed !== 1) {
            logger?.warn({ stream, group }, 'lease lost: the in-flight batch is aborted and the stream let go');
            release(stream, 'lease lost');
          }
          continue;
        }
        if (draining.signal.aborted) continue;
        const got = await r.set(leaseKey(stream), me, 'PX', leaseMs, 'NX');
        if (got === 'OK') {
          logger?.info({ stream, group, consumer: me }, 'lease taken: reading the stream');
          startPartition(stream);
        }
      }
    } catch (err) {
      problem(`Redis at ${redactUrl(url ?? '')}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      ticking = false;
    }
  }

  /** Drains for up to drainMs (0: not at all), then aborts what still runs, gives the leases back and disconnects. */
  async function stopNow(drainMs: number): Promise<void> {
    if (stopped) return;
    if (drainMs > 0 && held.size > 0) {
      draining.abort();
      const streams = [...held.values()];
      for (const h of streams) h.sink?.drain?.();
      let deadline: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all(streams.map((h) => h.done)).then(() => true),
        new Promise<false>((r) => (deadline = setTimeout(() => r(false), drainMs))),
      ]);
      clearTimeout(deadline);
      if (!drained) logger?.warn({ group, drainMs }, 'drain deadline reached: the batches still in flight are aborted; their entries run again on the streams\' next holders');
    }
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    const streams = [...held.entries()];
    for (const [s] of streams) release(s, 'the connector stopped');
    await Promise.all(streams.map(([, h]) => h.done));
    const r = redis;
    redis = undefined;
    if (r) {
      // Let the streams go at once rather than after the lease: another gateway takes them over now.
      await Promise.all(streams.map(([s]) => r.eval(RELEASE, 1, leaseKey(s), me).catch(() => undefined)));
      r.disconnect();
    }
  }

  return {
    async start(h: ConnectorHandlers): Promise<void> {
      handlers = h;
      if (!url) {
        h.problem('a Redis Streams mapping needs redisStreams.url here (this platform has no Redis of its own)');
        return;
      }
      redis = new Redis(url, {
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        // Commands fail at once while Redis is away, so the lease ticks notice and report it rather than queue.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
      });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
      } catch (err) {
        h.problem(`cannot reach Redis at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
      }
      timer = setInterval(() => void tick(), Math.max(50, Math.floor(leaseMs / 3)));
      timer.unref();
      await tick();
    },

    stop(o: { drainMs?: number } = {}): Promise<void> {
      stopping ??= stopNow(o.drainMs ?? 0);
      return stopping;
    },

    kill(): void {
      stopped = true;
      clearInterval(timer);
      for (const s of [...held.keys()]) release(s, 'killed');
      redis?.disconnect();
      redis = undefined;
    },

    client: () => redis,

    async lag(): Promise<PartitionLag> {
      const r = redis;
      if (!r || r.status !== 'ready') return [];
      const out: PartitionLag = [];
      for (const stream of source.streams) {
        let lag = 0;
        try {
          const g = infoGroups(await r.xinfo('GROUPS', stream)).find((x) => x.name === group);
          if (g) {
            const pending = Number(g.pending ?? 0);
            // Redis 7 counts undelivered entries (null when it cannot tell, after deletions): then count them.
            const undelivered = g.lag === null || g.lag === undefined ? await countAfter(r, stream, String(g['last-delivered-id'])) : Number(g.lag);
            lag = pending + undelivered;
          }
        } catch {
          // No such stream yet: nothing behind.
        }
        out.push({ partition: stream, lag });
      }
      return out;
    },
  };
}

async function countAfter(r: Redis, stream: string, id: string): Promise<number> {
  const entries = await r.xrange(stream, `(${id}`, '+', 'COUNT', 100_000);
  return entries.length;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
