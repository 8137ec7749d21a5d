// Accepted events that survive a Redis failover. Redis replicates
// asynchronously: an XADD the master acknowledged but had not yet sent to a
// replica is gone once Sentinel promotes that replica. So when the master
// has a replica, an enqueue is answered only after WAIT says at least one
// replica holds it; Sentinel promotes the most up-to-date replica, so the
// event is there after a failover. (WAIT is Redis's best effort, not strong
// consistency: https://redis.io/commands/wait.) A master without replicas
// pays nothing: no WAIT, since there is nobody to wait for and nobody a
// failover could promote.
//
// WAIT counts the writes made on its own connection, so it is sent on the
// connection the XADDs went on, and one WAIT covers every write whose reply
// had arrived when it was sent: enqueues that complete together share one
// WAIT (a group commit), sent on the next turn of the event loop.
//
// Whether a master needs it is asked on each new connection and then at most
// once a second (INFO replication: a replica in state online). Once seen, the
// need lasts as long as the connection: a master that loses its replica
// (Sentinel promoted it, or it is cut off) refuses enqueues rather than
// accepting what nobody else holds. The connection to the new master after a
// failover asks afresh.
import type { Redis } from 'ioredis';
import { QueueUnavailableError } from './queue.js';

/** Replicas in state online in an INFO replication reply. Pure. */
export function onlineReplicas(info: string): number {
  let n = 0;
  for (const line of info.split(/\r?\n/)) if (/^slave\d+:/.test(line) && /(?:^|[:,])state=online(?:,|$)/.test(line)) n++;
  return n;
}

/** Acknowledgements an enqueue waits for: one once the master has had an online replica on this connection. Pure. */
export function requiredAcks(before: number, online: number): number {
  return before > 0 || online > 0 ? 1 : 0;
}

export interface ReplicaAcksOptions {
  /** How long an enqueue waits for a replica before it is refused as unavailable (default 1000 ms). */
  timeoutMs?: number;
  /** How often the master's replicas are counted again (default 1000 ms). */
  refreshMs?: number;
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
  readonly #now: () => number;
  /** Counts connections: a WAIT proves nothing about writes made on an earlier one. */
  #generation = 0;
  #required = 0;
  #checkedAt: number | undefined;
  #checking: Promise<void> | undefined;
  #batch: Promise<number> | undefined;
  /** WAITs sent (for tests: none without replicas). */
  waits = 0;

  constructor(client: Redis, opts: ReplicaAcksOptions = {}) {
    this.#c = client;
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#refreshMs = opts.refreshMs ?? 1000;
    this.#now = opts.now ?? Date.now;
    client.on('close', () => {
      this.#generation++;
      this.#required = 0;
      this.#checkedAt = undefined;
    });
  }

  /** Before a write: knows (asking the master on a new connection) whether the write will need a replica's acknowledgement. */
  async before(): Promise<WriteMark> {
    if (this.#checkedAt === undefined) {
      await this.#refresh();
      // The connection changed while it was asked: what it said is about a connection the write will not use.
      if (this.#checkedAt === undefined) throw new QueueUnavailableError('the connection to Redis changed', 1);
    } else if (this.#now() - this.#checkedAt >= this.#refreshMs) void this.#refresh().catch(() => undefined);
    return { generation: this.#generation, required: this.#required };
  }

  /** After the write's reply: resolves once a replica holds it (or at once when none is needed), else refuses as unavailable. */
  async after(mark: WriteMark): Promise<void> {
    const same = mark.generation === this.#generation;
    const required = same ? Math.max(mark.required, this.#required) : mark.required;
    if (required === 0) return;
    if (!same) throw new QueueUnavailableError('the connection to Redis changed before a replica confirmed the event', 1);
    const acked = await this.#wait();
    if (mark.generation !== this.#generation) throw new QueueUnavailableError('the connection to Redis changed before a replica confirmed the event', 1);
    if (acked < required) throw new QueueUnavailableError(`no Redis replica confirmed the event within ${this.#timeoutMs} ms`, 1);
  }

  #refresh(): Promise<void> {
    this.#checking ??= (async () => {
      const generation = this.#generation;
      const online = onlineReplicas(await this.#c.info('replication'));
      if (generation !== this.#generation) return;
      this.#required = requiredAcks(this.#required, online);
      this.#checkedAt = this.#now();
    })().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** One WAIT for every write whose reply has arrived by the next turn of the event loop. */
  #wait(): Promise<number> {
    this.#batch ??= new Promise<number>((resolve, reject) => {
      setImmediate(() => {
        this.#batch = undefined;
        this.waits++;
        this.#c.wait(1, this.#timeoutMs).then((n) => resolve(Number(n)), reject);
      });
    });
    return this.#batch;
  }
}
