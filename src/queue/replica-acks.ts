// Accepted events that survive a Redis failover. Redis replicates
// asynchronously: an XADD the master acknowledged but had not yet sent to a
// replica is gone once Sentinel promotes that replica. So when the master
// has replicas, an enqueue is answered only after WAIT says every one of
// them holds it, whichever Sentinel promotes. (WAIT is Redis's best effort,
// not strong consistency: https://redis.io/commands/wait.) A master without
// replicas pays nothing: no WAIT, since there is nobody to wait for and
// nobody a failover could promote.
//
// Why every replica and not one: when Sentinel promotes a replica of a master
// that is still up, the master keeps taking writes until it is told it is a
// replica, seconds later, and its other replicas keep acknowledging them;
// then they all resync from the new master and those writes are gone. The
// promoted replica has left, so a WAIT for all the replicas the master had
// fails at once, and the enqueue is refused (503) instead.
//
// So the count to wait for is the most replicas seen online (INFO
// replication, on each new connection and then at most once a second) over
// the last holdMs: a replica that leaves is still waited for that long, which
// covers the seconds until the client follows the failover to the new master
// (a new connection, that asks afresh); after that, a replica that is merely
// restarting stops holding enqueues up.
//
// WAIT counts the writes made on its own connection, so it is sent on the
// connection the XADDs went on, and one WAIT covers every write whose reply
// had arrived when it was sent: enqueues that complete together share one
// WAIT (a group commit), sent on the next turn of the event loop.
import type { Redis } from 'ioredis';
import { QueueUnavailableError } from './queue.js';

/** Replicas in state online in an INFO replication reply. Pure. */
export function onlineReplicas(info: string): number {
  let n = 0;
  for (const line of info.split(/\r?\n/)) if (/^slave\d+:/.test(line) && /(?:^|[:,])state=online(?:,|$)/.test(line)) n++;
  return n;
}

export interface ReplicaSample {
  at: number;
  online: number;
}

/** Acknowledgements an enqueue waits for: the most replicas online in the samples of the last holdMs, and in the latest one. Pure. */
export function requiredAcks(samples: readonly ReplicaSample[], now: number, holdMs: number): number {
  let n = samples.at(-1)?.online ?? 0;
  for (const s of samples) if (now - s.at <= holdMs) n = Math.max(n, s.online);
  return n;
}

export interface ReplicaAcksOptions {
  /** How long an enqueue waits for the replicas before it is refused as unavailable (default 1000 ms). */
  timeoutMs?: number;
  /** How often the master's replicas are counted again (default 1000 ms). */
  refreshMs?: number;
  /** How long a replica that left is still waited for (default 10 s). */
  holdMs?: number;
  now?: () => number;
}

/** Taken before a write, handed back after its reply. */
export interface WriteMark {
  generation: number;
  required: number;
}

export class ReplicaAcks {
  readonly #c: Redis;
  readonly #timeoutMs: number;
  readonly #refreshMs: number;
  readonly #holdMs: number;
  readonly #now: () => number;
  /** Counts connections: a WAIT proves nothing about writes made on an earlier one. */
  #generation = 0;
  /** Replicas online as counted on this connection, the last holdMs of them. */
  #samples: ReplicaSample[] = [];
  #checking: Promise<void> | undefined;
  #batch: Promise<number> | undefined;
  #batchNeeds = 0;
  /** WAITs sent (for tests: none without replicas). */
  waits = 0;

  constructor(client: Redis, opts: ReplicaAcksOptions = {}) {
    this.#c = client;
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#refreshMs = opts.refreshMs ?? 1000;
    this.#holdMs = opts.holdMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
    client.on('close', () => {
      this.#generation++;
      this.#samples = [];
    });
  }

  get #required(): number {
    return requiredAcks(this.#samples, this.#now(), this.#holdMs);
  }

  /** Before a write: how many replicas must acknowledge it (asked of the master on a new connection, then refreshed in the background). */
  async before(): Promise<WriteMark> {
    const known = this.markNow();
    if (known !== undefined) return known;
    await this.#refresh();
    // The connection changed while it was asked: what it said is about a connection the write will not use.
    if (this.#samples.length === 0) throw new QueueUnavailableError('the connection to Redis changed', 1);
    return { generation: this.#generation, required: this.#required };
  }

  /**
   * before() without waiting, where the connection's replicas were counted
   * already (every write but its first); undefined when they must be asked
   * first. Lets a write go out in the same turn it was made.
   */
  markNow(): WriteMark | undefined {
    const last = this.#samples.at(-1);
    if (last === undefined) return undefined;
    if (this.#now() - last.at >= this.#refreshMs) void this.#refresh().catch(() => undefined);
    return { generation: this.#generation, required: this.#required };
  }

  /** After the write's reply: resolves once the replicas hold it (at once when there are none), else refuses as unavailable. */
  async after(mark: WriteMark): Promise<void> {
    const same = mark.generation === this.#generation;
    const required = same ? Math.max(mark.required, this.#required) : mark.required;
    if (required === 0) return;
    if (!same) throw new QueueUnavailableError('the connection to Redis changed before the replicas confirmed the event', 1);
    const acked = await this.#wait(required);
    if (mark.generation !== this.#generation) throw new QueueUnavailableError('the connection to Redis changed before the replicas confirmed the event', 1);
    if (acked < required) throw new QueueUnavailableError(`${acked} of ${required} Redis replicas confirmed the event within ${this.#timeoutMs} ms`, 1);
  }

  #refresh(): Promise<void> {
    this.#checking ??= (async () => {
      const generation = this.#generation;
      const online = onlineReplicas(await this.#c.info('replication'));
      if (generation !== this.#generation) return;
      const now = this.#now();
      this.#samples = [...this.#samples.filter((x) => now - x.at <= this.#holdMs), { at: now, online }];
    })().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** One WAIT for every write whose reply has arrived by the next turn of the event loop. */
  #wait(replicas: number): Promise<number> {
    // As many as any write in the batch needs.
    this.#batchNeeds = Math.max(this.#batchNeeds, replicas);
    this.#batch ??= new Promise<number>((resolve, reject) => {
      setImmediate(() => {
        const needs = this.#batchNeeds;
        this.#batch = undefined;
        this.#batchNeeds = 0;
        this.waits++;
        this.#c.wait(needs, this.#timeoutMs).then((n) => resolve(Number(n)), reject);
      });
    });
    return this.#batch;
  }
}
