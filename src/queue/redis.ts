// The Redis Streams store. One stream per function read through one consumer
// group by every gateway replica; delayed retries in a sorted set per
// function; dead letters in a second stream. All of a function's keys share
// a hash tag (keys.ts), so MULTI and the Lua scripts below stay in one slot
// under Redis Cluster.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { attemptsKey, CONSUMER_GROUP, DEFAULT_KEY_PREFIX, functionKeys, recordKey, type FunctionKeys } from './keys.js';
import { FINISHED_STATUSES, QueueUnavailableError, type Backlog, type InvocationRecord, type RecordWrite } from './queue.js';
import { ReplicaAcks, type WriteMark } from './replica-acks.js';
import { followFailovers } from './sentinel-failover.js';
import type { DestinationRecord } from './records.js';
import { decodeEvent, encodeEvent, pushEventFields, type DeadLetterEntry, type Delivery, type FirstRecord, type QueueStore, type StoredDeadLetter, type StoredEvent } from './store.js';

export interface RedisConnectionOptions {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url?: string;
  username?: string;
  password?: string;
  /** true for TLS with the system's CAs, or Node's TLS options (ca, cert, key, servername...). */
  tls?: boolean | ConnectionOptions;
  /** Sentinel: the sentinels and the name of the master they watch. */
  sentinels?: Array<{ host: string; port: number }>;
  sentinelName?: string;
  sentinelPassword?: string;
  /** Cluster: some of its nodes; the rest is discovered. */
  cluster?: Array<{ host: string; port: number }>;
  /** Prefix of every key (default "hearth"). */
  keyPrefix?: string;
  /** How long one command may take before the queue reports itself unavailable (default 5 s). */
  commandTimeoutMs?: number;
}

export type RedisClient = Redis | Cluster;

/** The commands sent with callBuffer, for their binary replies that ioredis types no Buffer variant for. */
const RAW_COMMANDS = ['XREADGROUP', 'XAUTOCLAIM', 'XCLAIM'];

/**
 * Commands auto-pipelining leaves alone. Besides those above, EVALSHA, the
 * enqueue batch's alone (#flush): a batch is already one command for a
 * whole turn's enqueues, and auto-pipelining would only wrap it in a
 * pipeline of one and hold it until the end of the tick, while the callers
 * it answered are already making the next batch.
 */
const NOT_AUTO_PIPELINED = [...RAW_COMMANDS, 'evalsha'];

/**
 * After a connection to Redis closed, for this long, a reclaim also takes
 * back a consumer's own entries idle for ORPHAN_IDLE_MS: a reply lost with
 * the connection (an XREADGROUP's) or an acknowledgement the old master took
 * but never replicated (a failover) leaves an entry pending under a consumer
 * that does not run it, which would otherwise wait for the visibility timeout
 * (a function's timeout plus a minute). The consumer skips those it still runs.
 */
const ORPHAN_SWEEP_MS = 30_000;
const ORPHAN_IDLE_MS = 2_000;

function baseOptions(o: RedisConnectionOptions): RedisOptions {
  const opts: RedisOptions = {
    // Fail fast while Redis is away instead of queueing in memory: an enqueue
    // then answers 503 and nothing is accepted that only this process holds.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Many events are settled at once; batching their commands per tick multiplies throughput.
    enableAutoPipelining: true,
    // ioredis drops the command name when it auto-pipelines call()/callBuffer(); those few go out on their own.
    autoPipeliningIgnoredCommands: NOT_AUTO_PIPELINED,
    commandTimeout: o.commandTimeoutMs ?? 5000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  };
  if (o.tls) opts.tls = o.tls === true ? {} : o.tls;
  return opts;
}

export function createRedisClient(o: RedisConnectionOptions): RedisClient {
  const base = baseOptions(o);
  if (o.cluster && o.cluster.length > 0) {
    const nodes: ClusterNode[] = o.cluster.map((n) => ({ host: n.host, port: n.port }));
    return new Cluster(nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoPipeliningIgnoredCommands: NOT_AUTO_PIPELINED,
      clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      redisOptions: {
        commandTimeout: base.commandTimeout ?? 5000,
        maxRetriesPerRequest: 1,
        ...(base.username !== undefined ? { username: base.username } : {}),
        ...(base.password !== undefined ? { password: base.password } : {}),
        ...(base.tls ? { tls: base.tls } : {}),
      },
      ...(o.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    });
  }
  if (o.sentinels && o.sentinels.length > 0) {
    const name = o.sentinelName ?? 'mymaster';
    const client = new Redis({
      ...base,
      sentinels: o.sentinels,
      name,
      ...(o.sentinelPassword !== undefined ? { sentinelPassword: o.sentinelPassword } : {}),
      ...(o.tls ? { enableTLSForSentinelMode: true } : {}),
      // A demoted master answers writes with READONLY: reconnect, which asks the sentinels for the master again.
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    });
    followFailovers(client, { sentinels: o.sentinels, name, ...(o.sentinelPassword !== undefined ? { sentinelPassword: o.sentinelPassword } : {}) });
    return client;
  }
  if (o.url !== undefined) {
    const u = new URL(o.url);
    const tls = u.protocol === 'rediss:' && !o.tls ? { tls: {} } : {};
    return new Redis(o.url, { ...base, ...tls });
  }
  return new Redis(base);
}

type Fields = Array<string | Buffer>;

/** Moves due retries back into the stream. KEYS: delayed zset, events stream. ARGV: now, limit, retry hash prefix. */
const PROMOTE_SCRIPT = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local hk = ARGV[3] .. m
  local f = redis.call('HGETALL', hk)
  if #f > 0 then redis.call('XADD', KEYS[2], '*', unpack(f)) end
  redis.call('DEL', hk)
  redis.call('ZREM', KEYS[1], m)
end
return #due`;

/** Appends unless the idempotency key was taken. KEYS: idempotency key, events. ARGV: request id, window ms, fields... */
const ENQUEUE_ONCE_SCRIPT = `
local prior = redis.call('GET', KEYS[1])
if prior then
  -- Touched, so this call writes too: a WAIT after it covers the first enqueue as well (replication is one ordered stream).
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  return {1, prior}
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {0, ARGV[1]}`;

/**
 * Enqueues a batch of events, each with its first invocation record, in one
 * call: the 202's one round trip (an event and its record are written
 * together, so no consumer can write the record first and be overwritten).
 * Outside Cluster only: a record's key is slotted by its request id, not by
 * the function.
 * KEYS per event: its stream, its record, then its idempotency key when it has one.
 * ARGV[1]: JSON, per event an array: request id, idempotency window ms ('0':
 * none), record JSON ('': none), record ttl ms, then the stream entry's
 * fields, where a payload that is not UTF-8 is the index of the ARGV holding
 * its bytes (ARGV[2...]; the payload is the entry's 8th value, PAYLOAD_AT). One JSON argument rather than ~20 per event: the
 * client's cost is per argument (a batch of 50 took twice the CPU as plain
 * arguments), and cjson decodes it in Redis for about what parsing them cost.
 * Returns per event 0 when appended, or the request id an idempotency key
 * matched. redis.call, not pcall: Redis refuses a script's first write on a
 * replica (READONLY, which makes the client reconnect) or over maxmemory
 * (OOM) before anything is written, so those fail the batch whole.
 */
const ENQUEUE_BATCH_SCRIPT = `
local batch = cjson.decode(ARGV[1])
local out = {}
local k = 1
for i, e in ipairs(batch) do
  local prior = false
  local idem = nil
  if e[2] ~= '0' then
    idem = KEYS[k + 2]
    prior = redis.call('GET', idem)
    if prior then
      -- Touched, so this call writes too: a WAIT after it covers the first enqueue as well (replication is one ordered stream).
      local ttl = redis.call('PTTL', idem)
      if ttl > 0 then redis.call('PEXPIRE', idem, ttl) end
    end
  end
  if prior then
    out[i] = prior
  else
    if type(e[8]) == 'number' then e[8] = ARGV[e[8]] end
    redis.call('XADD', KEYS[k], '*', unpack(e, 5))
    if idem then redis.call('SET', idem, e[1], 'PX', e[2]) end
    if e[3] ~= '' then redis.call('SET', KEYS[k + 1], e[3], 'PX', e[4], 'NX') end
    out[i] = 0
  end
  if idem then k = k + 3 else k = k + 2 end
end
return out`;
const ENQUEUE_BATCH_SHA = createHash('sha1').update(ENQUEUE_BATCH_SCRIPT).digest('hex');

/**
 * Bounds of one batch; events beyond them go in the next batch of the same
 * turn. 32 events: few enough that under load two or more batches are in
 * flight, so Redis runs one while this process gathers the next (with one
 * batch for all, each side waits for the other); many enough that one write
 * to the socket, the costliest single step of a batch in the profile, is
 * shared by many events. The bytes bound: a script holds Redis for its whole
 * run, and a batch is one command buffered whole on both sides.
 */
export const MAX_BATCH_EVENTS = 32;
const MAX_BATCH_BYTES = 1 << 20;

/** Where an entry (ENQUEUE_BATCH_SCRIPT's per-event array) holds the payload: after 4 values and the fields 'r', id, 'p' (pushEventFields). */
const PAYLOAD_AT = 7;

interface PendingAppend {
  requestId: string;
  /** The event's keys: its stream, its record, and its idempotency key when it has one. */
  keys: string[];
  /** The script's array for the event. */
  entry: Array<string | number>;
  /** A payload that is not UTF-8, sent as an argument of its own. */
  bytes: Buffer | undefined;
  resolve: (r: { requestId: string; duplicate: boolean }) => void;
  reject: (err: unknown) => void;
}

/** Moves one dead letter back, once even under concurrent redrives. KEYS: dlq, events. ARGV: entry id, fields... */
const REDRIVE_SCRIPT = `
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
return 1`;

/**
 * Streams have no un-claim: a handed-back entry is re-claimed by its holder
 * with an idle time past any visibility timeout (a function's timeout, at most
 * 15 minutes, plus a minute), so the next XAUTOCLAIM of any consumer takes it.
 * Redis resets an idle time reaching before the epoch, so it stays well short of that.
 */
export const HAND_BACK_IDLE_MS = 30 * 24 * 3600_000;

/**
 * Hands back the entries still held by the given consumer. KEYS: events.
 * ARGV: group, consumer, idle ms, ids... JUSTID leaves the delivery count alone.
 */
const HAND_BACK_SCRIPT = `
local n = 0
for i = 4, #ARGV do
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #held > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n`;

/** Counts a run (or takes one back). KEYS: attempts counter. ARGV: the event's stored attempts, ttl ms, delta. */
/** SET unless the record there is finished (its status one of ARGV[3..]); decoded in Redis, so no write can slip between the check and the set. */
const PUT_UNFINISHED_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' then
    for i = 3, #ARGV do
      if r.status == ARGV[i] then return 0 end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const COUNT_ATTEMPT_SCRIPT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local stored = tonumber(ARGV[1])
if n < stored then n = stored end
n = n + tonumber(ARGV[3])
redis.call('SET', KEYS[1], n, 'PX', ARGV[2])
return n`;

function isArray(x: unknown): x is unknown[] {
  return Array.isArray(x);
}

function str(x: unknown): string {
  if (Buffer.isBuffer(x)) return x.toString();
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return String(x);
  return '';
}

function buffers(x: unknown): Buffer[] {
  if (!isArray(x)) return [];
  return x.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(str(v))));
}

/** [[id, [field, value, ...] | null], ...] as XRANGE, XREADGROUP and XAUTOCLAIM return entries. */
function entries(x: unknown): Array<{ id: string; fields: Buffer[] | undefined }> {
  if (!isArray(x)) return [];
  const out: Array<{ id: string; fields: Buffer[] | undefined }> = [];
  for (const e of x) {
    if (!isArray(e)) continue;
    out.push({ id: str(e[0]), fields: isArray(e[1]) ? buffers(e[1]) : undefined });
  }
  return out;
}

function fieldMap(fields: Buffer[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (k !== undefined && v !== undefined) m.set(k.toString(), v);
  }
  return m;
}

function checkExec(res: Array<[Error | null, unknown]> | null): void {
  if (res === null) throw new Error('transaction aborted');
  for (const [err] of res) if (err) throw err;
}

export interface RedisStoreOptions extends RedisConnectionOptions {
  logger?: Logger;
  /** How long an enqueue waits for a (re)connection before answering unavailable (default 500 ms). */
  connectWaitMs?: number;
  /** How long an enqueue waits for the master's replicas to hold it, when it has some (default 1000 ms; replica-acks.ts). */
  replicaAckTimeoutMs?: number;
}

export class RedisStore implements QueueStore {
  readonly client: RedisClient;
  readonly #prefix: string;
  readonly #blocking = new Map<string, RedisClient>();
  readonly #readyWaits = new Map<RedisClient, Promise<void>>();
  readonly #opts: RedisStoreOptions;
  /** Enqueues wait for the replicas where the master has some; not in Cluster mode, whose connections are per node (see README). */
  readonly replicaAcks: ReplicaAcks | undefined;
  #closed = false;
  /** Enqueues waiting for this turn's batch (#flush). */
  #batch: PendingAppend[] = [];
  #batchBytes = 0;
  #flushTimer: NodeJS.Immediate | undefined;
  /** Batches sent and not yet answered: close waits for them. */
  readonly #inFlight = new Set<Promise<void>>();
  /** Keys per function, built once: they are needed for every event. */
  readonly #keyCache = new Map<string, FunctionKeys>();
  /** Until when reclaims look for this process's orphaned entries (ORPHAN_SWEEP_MS). */
  #sweepUntil = 0;

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.client = createRedisClient(opts);
    // ioredis reports every failed reconnect as an error event; the queue reports unavailability through its calls instead.
    this.client.on('error', (err: unknown) => opts.logger?.debug({ err }, 'redis connection error'));
    this.replicaAcks = this.client instanceof Redis ? new ReplicaAcks(this.client, { ...(opts.replicaAckTimeoutMs !== undefined ? { timeoutMs: opts.replicaAckTimeoutMs } : {}) }) : undefined;
    this.client.on('close', () => this.#connectionLost());
  }

  #connectionLost(): void {
    this.#sweepUntil = Date.now() + ORPHAN_SWEEP_MS;
  }

  #keys(fn: string): FunctionKeys {
    let k = this.#keyCache.get(fn);
    if (k === undefined) {
      k = functionKeys(fn, this.#prefix);
      // Function names are few; the bound only stops a stream of unknown names from growing it.
      if (this.#keyCache.size >= 10_000) this.#keyCache.clear();
      this.#keyCache.set(fn, k);
    }
    return k;
  }

  /** Waits briefly for a connection so a call made while connecting is not refused; then refuses fast. */
  #ready(c: RedisClient = this.client): Promise<void> {
    if (this.#closed) return Promise.reject(new QueueUnavailableError('queue is closed'));
    if (c.status === 'ready') return Promise.resolve();
    // One wait per connection, shared by every caller that arrives meanwhile.
    let w = this.#readyWaits.get(c);
    if (!w) {
      const wait = this.#opts.connectWaitMs ?? 500;
      w = new Promise<void>((resolve, reject) => {
        const onReady = (): void => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          c.off('ready', onReady);
          reject(new QueueUnavailableError(`redis is not reachable (${c.status})`, 1));
        }, wait);
        c.once('ready', onReady);
      }).finally(() => this.#readyWaits.delete(c));
      this.#readyWaits.set(c, w);
    }
    return w;
  }

  append(event: StoredEvent, idempotency?: { token: string; windowMs: number }, record?: FirstRecord): Promise<{ requestId: string; duplicate: boolean }> {
    // No async function here: on the hot path an enqueue takes one promise, the batch's answer to it.
    if (this.client.status !== 'ready' || this.#closed) return this.#ready().then(() => this.#append(event, idempotency, record));
    return this.#append(event, idempotency, record);
  }

  #append(event: StoredEvent, idempotency: { token: string; windowMs: number } | undefined, record: FirstRecord | undefined): Promise<{ requestId: string; duplicate: boolean }> {
    if (this.client instanceof Cluster) return this.#appendInSteps(event, idempotency, record);
    let requestId: string, keys: string[], entry: Array<string | number>, bytes: Buffer | undefined;
    try {
      // Built here, so a name no key can be made of fails its own enqueue, not its batch.
      const k = this.#keys(event.functionName);
      const rk = recordKey(event.requestId, this.#prefix);
      // The window is never '0' with a key: the script counts an event's keys by it.
      entry = [event.requestId, idempotency ? String(Math.max(1, Math.floor(idempotency.windowMs))) : '0', record ? JSON.stringify(record.value) : '', record ? String(Math.max(1, Math.floor(record.ttlMs))) : '0'];
      // Valid UTF-8 (JSON, as Lambda's payloads are) decodes and encodes back to the same bytes; anything else goes as bytes of its own (#flush).
      bytes = isUtf8(event.payload) ? undefined : event.payload;
      pushEventFields<string | number>(entry, event, bytes ? 0 : event.payload.toString('utf8'));
      requestId = event.requestId;
      keys = idempotency ? [k.events, rk, k.idempotencyPrefix + idempotency.token] : [k.events, rk];
    } catch (err) {
      return Promise.reject(err);
    }
    // Enqueues of one turn of the event loop go to Redis together, as one script call (a group commit).
    return new Promise((resolve, reject) => {
      this.#batch.push({ requestId, keys, entry, bytes, resolve, reject });
      this.#batchBytes += event.payload.length;
      if (this.#batch.length >= MAX_BATCH_EVENTS || this.#batchBytes >= MAX_BATCH_BYTES) this.#flush();
      else this.#flushTimer ??= setImmediate(() => this.#flush());
    });
  }

  /**
   * Sends the batch gathered so far, at once: written now, Redis runs it
   * while this process gathers the next. Its callers are answered when Redis
   * (and the replicas, where there are some) hold it.
   */
  #flush(): void {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 0;
    const keys: string[] = [];
    const entries: Array<Array<string | number>> = [];
    const args: Array<string | Buffer> = [''];
    for (const p of batch) {
      for (const key of p.keys) keys.push(key);
      // Where the payload's bytes went: the index of the argument that holds them.
      if (p.bytes) p.entry[PAYLOAD_AT] = args.push(p.bytes);
      entries.push(p.entry);
    }
    args[0] = JSON.stringify(entries);
    // Taken before the write: where the replica count is known (every write but a connection's first), without waiting.
    const known = this.replicaAcks ? this.replicaAcks.markNow() : null;
    const sent = (known === undefined ? this.#sendAfterMark(keys, args) : this.#send(keys, args, known ?? undefined)).then(
      (reply) => {
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i];
          const r = reply[i];
          if (p) p.resolve(r === 0 ? { requestId: p.requestId, duplicate: false } : { requestId: str(r), duplicate: true });
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
    const tracked = sent.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #sendAfterMark(keys: string[], args: Array<string | Buffer>): Promise<unknown[]> {
    return this.#send(keys, args, await this.replicaAcks?.before());
  }

  async #send(keys: string[], args: Array<string | Buffer>, mark: WriteMark | undefined): Promise<unknown[]> {
    const reply = await this.#evalBatch(keys, args);
    if (!isArray(reply) || reply.length * 2 > keys.length || reply.length * 3 < keys.length) throw new Error('unexpected reply to enqueue');
    // Duplicates too: the first enqueue may have been refused for want of a replica, and may still be on the master alone.
    if (mark) await this.replicaAcks?.after(mark);
    return reply;
  }

  /** EVALSHA, loading the script with EVAL the first time a server (a restarted or promoted one too) does not know it. */
  async #evalBatch(keys: string[], args: Array<string | Buffer>): Promise<unknown> {
    try {
      return await this.client.evalsha(ENQUEUE_BATCH_SHA, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.client.eval(ENQUEUE_BATCH_SCRIPT, keys.length, ...keys, ...args);
    }
  }

  /** Redis Cluster: the event in its function's slot, then its record in the request id's (two round trips). */
  async #appendInSteps(event: StoredEvent, idempotency: { token: string; windowMs: number } | undefined, record: FirstRecord | undefined): Promise<{ requestId: string; duplicate: boolean }> {
    const k = this.#keys(event.functionName);
    const fields = encodeEvent(event);
    let res: { requestId: string; duplicate: boolean };
    if (!idempotency) {
      await this.client.xadd(k.events, '*', ...fields);
      res = { requestId: event.requestId, duplicate: false };
    } else {
      const reply = await this.client.eval(ENQUEUE_ONCE_SCRIPT, 2, k.idempotencyPrefix + idempotency.token, k.events, event.requestId, String(idempotency.windowMs), ...fields);
      if (!isArray(reply)) throw new Error('unexpected reply to enqueue');
      res = { requestId: str(reply[1]), duplicate: Number(str(reply[0])) === 1 };
    }
    // The event is accepted once appended; the record is a view, and a consumer quicker than this write must not be overwritten by it.
    if (record && !res.duplicate) {
      await this.putRecord(record.value, record.ttlMs, 'absent').catch((err: unknown) => this.#opts.logger?.warn({ err, requestId: event.requestId }, 'could not write the invocation record'));
    }
    return res;
  }

  async prepare(functionName: string): Promise<void> {
    await this.#ready();
    try {
      await this.client.xgroup('CREATE', this.#keys(functionName).events, CONSUMER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
    }
  }

  #blockingClient(consumer: string, functionName: string): RedisClient {
    const key = `${consumer}\u0000${functionName}`;
    let c = this.#blocking.get(key);
    if (!c) {
      // A blocked XREADGROUP holds its connection; each reading function gets its own (made as the first, so it follows failovers too).
      c = createRedisClient(this.#opts);
      c.on('error', (err: unknown) => this.#opts.logger?.debug({ err }, 'redis connection error'));
      c.on('close', () => this.#connectionLost());
      this.#blocking.set(key, c);
    }
    return c;
  }

  async read(functionName: string, consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    const c = this.#blockingClient(consumer, functionName);
    await this.#ready(c);
    const k = this.#keys(functionName);
    let reply: unknown;
    try {
      // BLOCK 0 would wait forever; no wait is asked for by leaving BLOCK out.
      const block = blockMs > 0 ? ['BLOCK', Math.floor(blockMs)] : [];
      reply = await c.callBuffer('XREADGROUP', 'GROUP', CONSUMER_GROUP, consumer, 'COUNT', count, ...block, 'STREAMS', k.events, '>');
    } catch (err) {
      // The stream went away (flushed, or Redis came back without data): make the group again.
      if (err instanceof Error && err.message.includes('NOGROUP')) {
        await this.prepare(functionName);
        return [];
      }
      throw err;
    }
    if (!isArray(reply)) return [];
    const out: Delivery[] = [];
    for (const stream of reply) {
      if (!isArray(stream)) continue;
      for (const e of entries(stream[1])) out.push({ id: e.id, event: e.fields ? decodeEvent(functionName, e.fields) : undefined });
    }
    return out;
  }

  async reclaim(functionName: string, consumer: string, minIdleMs: number, count: number, cursor: string): Promise<{ deliveries: Delivery[]; cursor: string }> {
    await this.#ready();
    const k = this.#keys(functionName);
    const reply = await this.client.callBuffer('XAUTOCLAIM', k.events, CONSUMER_GROUP, consumer, Math.max(0, Math.floor(minIdleMs)), cursor, 'COUNT', count);
    if (!isArray(reply)) return { deliveries: [], cursor: '0-0' };
    const deliveries = entries(reply[1]).map((e) => ({ id: e.id, event: e.fields ? decodeEvent(functionName, e.fields) : undefined }));
    if (Date.now() < this.#sweepUntil && deliveries.length < count) {
      const seen = new Set(deliveries.map((d) => d.id));
      for (const d of await this.#orphans(functionName, consumer, count - deliveries.length)) if (!seen.has(d.id)) deliveries.push(d);
    }
    return { deliveries, cursor: str(reply[0]) || '0-0' };
  }

  /** This consumer's own entries idle for ORPHAN_IDLE_MS, claimed again (which resets their idle time) with their events. */
  async #orphans(functionName: string, consumer: string, count: number): Promise<Delivery[]> {
    const k = this.#keys(functionName);
    const pending: unknown = await this.client.xpending(k.events, CONSUMER_GROUP, 'IDLE', ORPHAN_IDLE_MS, '-', '+', count, consumer);
    const ids = (isArray(pending) ? pending : []).map((p) => (isArray(p) ? str(p[0]) : '')).filter((id) => id !== '');
    if (ids.length === 0) return [];
    const reply = await this.client.callBuffer('XCLAIM', k.events, CONSUMER_GROUP, consumer, 0, ...ids);
    // Entries deleted meanwhile (settled) come back as nothing, or not at all.
    return entries(reply)
      .filter((e) => e.fields !== undefined)
      .map((e) => ({ id: e.id, event: e.fields ? decodeEvent(functionName, e.fields) : undefined }));
  }

  async handBack(functionName: string, consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#ready();
    await this.client.eval(HAND_BACK_SCRIPT, 1, this.#keys(functionName).events, CONSUMER_GROUP, consumer, String(HAND_BACK_IDLE_MS), ...ids);
  }

  async ack(functionName: string, id: string): Promise<void> {
    await this.#ready();
    const k = this.#keys(functionName);
    // Deleting as well keeps the stream as long as its backlog: XLEN minus pending is the lag.
    checkExec(await this.client.multi().xack(k.events, CONSUMER_GROUP, id).xdel(k.events, id).exec());
  }

  async retryLater(functionName: string, id: string, event: StoredEvent, dueAt: number): Promise<void> {
    await this.#ready();
    const k = this.#keys(functionName);
    const member = `${event.requestId}:${event.attempts}:${event.functionErrors}:${event.systemErrors}`;
    const hk = k.retryPrefix + member;
    checkExec(
      await this.client
        .multi()
        .del(hk)
        .hset(hk, ...encodeEvent(event))
        .zadd(k.delayed, dueAt, member)
        .xack(k.events, CONSUMER_GROUP, id)
        .xdel(k.events, id)
        .exec(),
    );
  }

  async promoteDue(functionName: string, now: number, limit: number): Promise<number> {
    await this.#ready();
    const k = this.#keys(functionName);
    const n = await this.client.eval(PROMOTE_SCRIPT, 2, k.delayed, k.events, String(now), String(limit), k.retryPrefix);
    return Number(n) || 0;
  }

  async deadLetter(functionName: string, id: string, entry: DeadLetterEntry): Promise<void> {
    await this.#ready();
    const k = this.#keys(functionName);
    const fields: Fields = [...encodeEvent(entry.event), 'rec', JSON.stringify(entry.record), 'at', String(entry.deadLetteredAt)];
    checkExec(await this.client.multi().xadd(k.deadLetters, '*', ...fields).xack(k.events, CONSUMER_GROUP, id).xdel(k.events, id).exec());
  }

  async #rangeDeadLetters(functionName: string, limit: number): Promise<StoredDeadLetter[]> {
    const k = this.#keys(functionName);
    const reply: unknown = await this.client.xrangeBuffer(k.deadLetters, '-', '+', 'COUNT', limit);
    const out: StoredDeadLetter[] = [];
    for (const e of entries(reply)) {
      if (!e.fields) continue;
      const event = decodeEvent(functionName, e.fields);
      const m = fieldMap(e.fields);
      const rec = m.get('rec');
      if (!event || !rec) continue;
      out.push({ id: e.id, event, record: JSON.parse(rec.toString()) as DestinationRecord, deadLetteredAt: Number(m.get('at')?.toString() ?? '0') });
    }
    return out;
  }

  async listDeadLetters(functionName: string, limit: number): Promise<StoredDeadLetter[]> {
    await this.#ready();
    return this.#rangeDeadLetters(functionName, limit);
  }

  async redrive(functionName: string, limit: number, now: number, beforeMove?: (event: StoredEvent) => Promise<void>): Promise<StoredEvent[]> {
    await this.#ready();
    const k = this.#keys(functionName);
    const moved: StoredEvent[] = [];
    for (const dl of await this.#rangeDeadLetters(functionName, limit)) {
      const fresh: StoredEvent = { ...dl.event, enqueuedAt: now, attempts: 0, functionErrors: 0, systemErrors: 0 };
      if (beforeMove) await beforeMove(fresh);
      const n = await this.client.eval(REDRIVE_SCRIPT, 2, k.deadLetters, k.events, dl.id, ...encodeEvent(fresh));
      if (Number(str(n)) === 1) moved.push(fresh);
    }
    return moved;
  }

  async appendToStream(stream: string, record: DestinationRecord): Promise<string> {
    await this.#ready();
    return str(await this.client.xadd(stream, '*', 'record', JSON.stringify(record)));
  }

  async readStream(stream: string, limit: number): Promise<Array<{ id: string; record: DestinationRecord }>> {
    await this.#ready();
    const reply: unknown = await this.client.xrangeBuffer(stream, '-', '+', 'COUNT', limit);
    const out: Array<{ id: string; record: DestinationRecord }> = [];
    for (const e of entries(reply)) {
      const rec = e.fields ? fieldMap(e.fields).get('record') : undefined;
      if (rec) out.push({ id: e.id, record: JSON.parse(rec.toString()) as DestinationRecord });
    }
    return out;
  }

  async putRecord(record: InvocationRecord, ttlMs: number, when: RecordWrite = 'always'): Promise<void> {
    await this.#ready();
    const key = recordKey(record.requestId, this.#prefix);
    const ttl = Math.max(1, Math.floor(ttlMs));
    if (when === 'absent') await this.client.set(key, JSON.stringify(record), 'PX', ttl, 'NX');
    else if (when === 'unfinished') await this.client.eval(PUT_UNFINISHED_SCRIPT, 1, key, JSON.stringify(record), String(ttl), ...FINISHED_STATUSES);
    else await this.client.set(key, JSON.stringify(record), 'PX', ttl);
  }

  async countAttempt(event: StoredEvent, ttlMs: number, delta: 1 | -1 = 1): Promise<number> {
    await this.#ready();
    const key = attemptsKey(event.requestId, event.enqueuedAt, this.#prefix);
    return Number(await this.client.eval(COUNT_ATTEMPT_SCRIPT, 1, key, String(event.attempts), String(Math.max(1, Math.floor(ttlMs))), String(delta)));
  }

  async getRecord(requestId: string): Promise<InvocationRecord | undefined> {
    await this.#ready();
    const v = await this.client.get(recordKey(requestId, this.#prefix));
    return v === null ? undefined : (JSON.parse(v) as InvocationRecord);
  }

  async backlog(functionName: string, now: number): Promise<Backlog> {
    await this.#ready();
    const k = this.#keys(functionName);
    const res = await this.client
      .pipeline()
      .xlen(k.events)
      .xpending(k.events, CONSUMER_GROUP)
      .zcard(k.delayed)
      .xlen(k.deadLetters)
      .xrangeBuffer(k.events, '-', '+', 'COUNT', 1)
      .exec();
    if (!res) throw new Error('pipeline aborted');
    const val = (i: number): unknown => {
      const r = res[i];
      // A missing group (no consumer yet) means nothing is pending.
      return r && !r[0] ? r[1] : undefined;
    };
    const length = Number(val(0)) || 0;
    const summary = val(1);
    const pending = isArray(summary) ? Number(summary[0]) || 0 : 0;
    const first = entries(val(4))[0];
    const enqueuedAt = first?.fields ? decodeEvent(functionName, first.fields)?.enqueuedAt : undefined;
    return {
      pending,
      lag: Math.max(0, length - pending),
      delayed: Number(val(2)) || 0,
      deadLettered: Number(val(3)) || 0,
      oldestAgeSeconds: enqueuedAt !== undefined ? Math.max(0, (now - enqueuedAt) / 1000) : 0,
    };
  }

  async pruneConsumers(functionName: string, idleMs: number): Promise<number> {
    await this.#ready();
    const k = this.#keys(functionName);
    let infos: unknown;
    try {
      infos = await this.client.xinfo('CONSUMERS', k.events, CONSUMER_GROUP);
    } catch (err) {
      if (err instanceof Error && err.message.includes('NOGROUP')) return 0;
      throw err;
    }
    let pruned = 0;
    for (const info of isArray(infos) ? infos : []) {
      if (!isArray(info)) continue;
      const m = new Map<string, unknown>();
      for (let i = 0; i + 1 < info.length; i += 2) m.set(str(info[i]), info[i + 1]);
      const name = str(m.get('name'));
      // Redis 7.2 adds "inactive" (since the last successful read); "idle" is since the last attempt.
      const idle = Number(m.get('inactive') ?? m.get('idle'));
      if (name && Number(m.get('pending')) === 0 && idle > idleMs) {
        // Nothing is lost: a consumer with no pending entries owns nothing, and a live one is re-created by its next read.
        await this.client.xgroup('DELCONSUMER', k.events, CONSUMER_GROUP, name);
        pruned++;
      }
    }
    return pruned;
  }

  async releaseConsumer(consumer: string): Promise<void> {
    const prefix = `${consumer}\u0000`;
    for (const [key, c] of this.#blocking) {
      if (!key.startsWith(prefix)) continue;
      this.#blocking.delete(key);
      c.disconnect();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Enqueues already taken are sent and answered before the connection goes.
    this.#flush();
    await Promise.allSettled([...this.#inFlight]);
    for (const c of this.#blocking.values()) c.disconnect();
    this.#blocking.clear();
    try {
      if (this.client.status === 'ready') await this.client.quit();
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
  }
}
