// Observed demand across gateway replicas. Each replica only sees its own
// in-flight calls; the autoscaler's leader must decide on all of them. Every
// replica writes its demand per function into a Redis hash (one field per
// replica, stamped with the time), and reads back the sum of the fields that
// are fresh, so a replica that died stops counting after a few seconds.
import type { Cluster, Redis } from 'ioredis';
import type { Catalog } from '../api/catalog.js';

export interface SharedDemandOptions {
  redis: Redis | Cluster;
  /** Key prefix; the function's name goes in a hash tag so Cluster keeps its keys together. */
  prefix: string;
  /** This replica's field in each hash. */
  identity: string;
  /** What demand is shared of: the serving units (the UnitCatalog), each version's apart. */
  catalog: Catalog;
  /** This replica's own demand of a unit (NAME or NAME:N). */
  local: (name: string) => number;
  periodMs?: number;
  /** Entries older than this are a replica that is gone. */
  staleMs?: number;
  now?: () => number;
}

/** Sums the fresh `demand:stampMs` fields of one function's hash. Pure. */
export function sumFresh(fields: Record<string, string>, nowMs: number, staleMs: number): number {
  let total = 0;
  for (const v of Object.values(fields)) {
    const [demand, stamp] = v.split(':').map(Number);
    if (demand === undefined || stamp === undefined || !Number.isFinite(demand) || !Number.isFinite(stamp)) continue;
    if (nowMs - stamp <= staleMs) total += demand;
  }
  return total;
}

export class SharedDemand {
  readonly #o: Required<Omit<SharedDemandOptions, 'now'>> & { now: () => number };
  readonly #totals = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(opts: SharedDemandOptions) {
    this.#o = { periodMs: 1000, staleMs: 3000, now: Date.now, ...opts };
  }

  /** The demand of every replica; this replica's own until the first exchange. */
  total(name: string): number {
    return this.#totals.get(name) ?? this.#o.local(name);
  }

  start(): void {
    this.#timer = setInterval(() => void this.exchange(), this.#o.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Writes this replica's demand and reads everyone's; a Redis error keeps the last figures. */
  async exchange(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const now = this.#o.now();
      const names = this.#o.catalog.list().map((f) => f.metadata.name);
      const results = await Promise.all(
        names.map(async (name) => {
          const key = `${this.#o.prefix}:{${name}}:demand`;
          const local = this.#o.local(name);
          const [, , all] = (await this.#o.redis
            .multi()
            .hset(key, this.#o.identity, `${local}:${now}`)
            .pexpire(key, this.#o.staleMs * 2)
            .hgetall(key)
            .exec()) as [[Error | null, unknown], [Error | null, unknown], [Error | null, Record<string, string>]];
          return [name, all[0] ? local : sumFresh(all[1], now, this.#o.staleMs)] as const;
        }),
      );
      this.#totals.clear();
      for (const [name, total] of results) this.#totals.set(name, total);
    } catch {
      // Redis away: decide on the last figures (or local demand) until it is back.
    } finally {
      this.#busy = false;
    }
  }
}
