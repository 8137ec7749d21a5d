// Who decides. With several gateway replicas each one measures, but only the
// leader applies decisions, so two replicas never fight over a function's
// instance count. One process alone is always the leader.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';

export interface LeaderElector {
  /** True only while this process holds a lease it knows to be unexpired. */
  isLeader(): boolean;
  start(): Promise<void>;
  /** Gives the lease up, if held, so another replica can take over at once. */
  stop(): Promise<void>;
}

/** The single-process elector: the embedded platform has no one to compete with. */
export class AlwaysLeader implements LeaderElector {
  isLeader(): boolean {
    return true;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** Extends the lease only if we still hold it: a lease that expired and was taken must not be stretched for its new owner. */
const EXTEND_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

const DELETE_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface RedisLeaseOptions {
  /** A single Redis, one behind Sentinel, or a Cluster: the lease is one key, so every command stays in its slot. */
  redis: Redis | Cluster;
  /** The lease key, shared by every replica that competes. */
  key?: string;
  /** This replica's name in the lease; unique per process. */
  identity?: string;
  /** How long a lease lasts without renewal (default 15 s). */
  leaseMs?: number;
  /** How often to acquire or renew (default a third of the lease, so two renewals may fail before it lapses). */
  renewEveryMs?: number;
  /**
   * Held back from the lease's end before we stop calling ourselves leader,
   * for clock-rate differences between this process and Redis (default 10% of the lease).
   */
  safetyMarginMs?: number;
  /** Injected so tests can move time; Date.now by default. */
  now?: () => number;
  /** Injected so tests can run rounds by hand; setTimeout by default. Returns a cancel function. */
  schedule?: (fn: () => void, ms: number) => () => void;
  /** Told whenever leadership is gained or lost (as seen by `round`). */
  onChange?: (leader: boolean) => void;
  /** Told about Redis errors; rounds carry on regardless. */
  onError?: (err: unknown) => void;
}

/**
 * A lease in Redis: `SET key id NX PX lease` to acquire, a compare-and-extend
 * script to renew, a compare-and-delete script to release. Leadership is
 * judged locally against the time the winning request was sent, so a leader
 * cut off from Redis stops acting as one before its lease can pass to another.
 */
export class RedisLeaseElector implements LeaderElector {
  readonly identity: string;
  readonly key: string;
  readonly #redis: Redis | Cluster;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => () => void;
  readonly #onChange: ((leader: boolean) => void) | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;
  #validUntil = 0;
  #held = false;
  #running = false;
  #cancel: (() => void) | undefined;
  #round: Promise<boolean> | undefined;

  constructor(opts: RedisLeaseOptions) {
    this.#redis = opts.redis;
    this.key = opts.key ?? 'hearth:autoscaler:leader';
    this.identity = opts.identity ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#leaseMs = opts.leaseMs ?? 15_000;
    this.#renewMs = opts.renewEveryMs ?? Math.max(1, Math.floor(this.#leaseMs / 3));
    this.#marginMs = opts.safetyMarginMs ?? Math.floor(this.#leaseMs / 10);
    this.#now = opts.now ?? Date.now;
    this.#schedule =
      opts.schedule ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      });
    this.#onChange = opts.onChange;
    this.#onError = opts.onError;
  }

  isLeader(): boolean {
    return this.#held && this.#now() < this.#validUntil;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.round();
    this.#next();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#round?.catch(() => undefined);
    const wasLeader = this.#held;
    this.#held = false;
    this.#validUntil = 0;
    if (wasLeader) {
      try {
        await this.#redis.eval(DELETE_IF_OWNER, 1, this.key, this.identity);
      } catch (err) {
        // The lease then simply expires.
        this.#onError?.(err);
      }
      this.#onChange?.(false);
    }
  }

  /** One acquire-or-renew attempt; returns whether we lead afterwards. Public so tests can drive rounds. */
  round(): Promise<boolean> {
    this.#round ??= this.#attempt().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #attempt(): Promise<boolean> {
    const before = this.isLeader();
    const sentAt = this.#now();
    try {
      let won: boolean;
      if (this.#held) {
        won = Number(await this.#redis.eval(EXTEND_IF_OWNER, 1, this.key, this.identity, String(this.#leaseMs))) === 1;
        // Lost it (expired and taken, or deleted): try a fresh acquire in the same round.
        if (!won) won = await this.#acquire();
      } else {
        won = await this.#acquire();
      }
      this.#held = won;
      if (won) this.#validUntil = sentAt + this.#leaseMs - this.#marginMs;
    } catch (err) {
      // Keep what we had: isLeader() lapses by itself once the lease runs out unrenewed.
      this.#onError?.(err);
    }
    const after = this.isLeader();
    if (after !== before) this.#onChange?.(after);
    return after;
  }

  async #acquire(): Promise<boolean> {
    return (await this.#redis.set(this.key, this.identity, 'PX', this.#leaseMs, 'NX')) === 'OK';
  }

  #next(): void {
    if (!this.#running) return;
    this.#cancel = this.#schedule(() => {
      void this.round().finally(() => this.#next());
    }, this.#renewMs);
  }
}
