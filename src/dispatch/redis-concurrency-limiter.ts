// Reserved concurrency counted once for all gateways, in Redis. Each function
// has one sorted set (functionKeys().leases, under the function's hash tag so
// Redis Cluster keeps it in one slot): a member per admitted call, scored by
// the time its lease lapses. One Lua script drops lapsed leases, compares the
// count with the cap and adds the new lease in a single atomic step, so two
// gateways can never both take the last slot.
//
// Why leases that are renewed rather than leases that last a call's longest
// life (timeout + init timeout + slack): a gateway that dies mid-call stops
// renewing, and its slots come back within one lease life (15 s by default)
// instead of after up to a quarter of an hour for a 900 s function; and a call
// that waits long for an instance (its deadline starts only when the runtime
// takes it) can never outlive its lease while its gateway lives. The price is
// one script call per function with leases held, per gateway, every few
// seconds.
//
// Times are Redis's own (TIME inside the scripts), so gateways whose clocks
// disagree still agree on which leases have lapsed. That needs Redis ≥ 5
// (scripts replicated by effect).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_KEY_PREFIX, functionKeys } from '../queue/keys.js';
import { createRedisClient, type RedisClient, type RedisConnectionOptions } from '../queue/redis.js';
import { leaseTiming, type ConcurrencyLimiter, type Lease, type LeaseTiming } from './concurrency-limiter.js';

/** KEYS: leases. ARGV: lease id, limit, lease ms. Returns 1 when the lease was taken, 0 when the cap is reached. */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

/**
 * KEYS: leases. ARGV: lease ms, lease ids... Pushes each lease's end out by a
 * lease life. A lease that had already lapsed (renewals late, or a Redis that
 * restarted empty) is put back: its call is still running, and counting it
 * again keeps new calls out until the true count is under the cap. Returns
 * how many had to be put back.
 */
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local readded = 0
for i = 2, #ARGV do
  readded = readded + redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return readded`;

export interface RedisConcurrencyLimiterOptions extends Partial<LeaseTiming> {
  /** From createRedisClient (single, Sentinel or Cluster, TLS). The limiter does not close it. */
  redis: RedisClient;
  /** Key prefix of the function keys (namespaceKeyPrefix in a cluster; default "hearth"). */
  keyPrefix?: string;
  /** How long a call made while the client (re)connects waits for it before failing (default 500 ms). */
  connectWaitMs?: number;
  logger?: Logger;
}

export class RedisConcurrencyLimiter implements ConcurrencyLimiter {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #timing: LeaseTiming;
  readonly #connectWaitMs: number;
  readonly #log: Logger | undefined;
  /** This gateway's name in its lease ids, so an operator can tell whose leases a set holds. */
  readonly #identity = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly #held = new Map<string, Set<string>>();
  readonly #timer: NodeJS.Timeout;
  #seq = 0;
  #renewing = false;
  #closed = false;
  #readyWait: Promise<void> | undefined;

  constructor(opts: RedisConcurrencyLimiterOptions) {
    this.#redis = opts.redis;
    this.#prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.#timing = leaseTiming(opts);
    this.#connectWaitMs = opts.connectWaitMs ?? 500;
    this.#log = opts.logger;
    this.#timer = setInterval(() => void this.renew(), this.#timing.renewEveryMs);
    this.#timer.unref();
  }

  async tryAcquire(functionName: string, limit: number): Promise<Lease | undefined> {
    if (this.#closed) throw new Error('the concurrency limiter is closed');
    await this.#ready();
    const lease = { functionName, id: `${this.#identity}:${++this.#seq}` };
    const taken = await this.#redis.eval(ACQUIRE_SCRIPT, 1, this.#key(functionName), lease.id, String(limit), String(this.#timing.leaseMs));
    if (Number(taken) !== 1) return undefined;
    // Held only once Redis has it; a lease whose script failed midway has no call to renew it and lapses.
    let held = this.#held.get(functionName);
    if (!held) {
      held = new Set();
      this.#held.set(functionName, held);
    }
    held.add(lease.id);
    return lease;
  }

  release(lease: Lease): void {
    const held = this.#held.get(lease.functionName);
    // Forget it first, so no renewal puts it back after the ZREM.
    if (!held?.delete(lease.id)) return;
    if (held.size === 0) this.#held.delete(lease.functionName);
    this.#redis.zrem(this.#key(lease.functionName), lease.id).catch((err: unknown) => {
      this.#log?.warn({ err, function: lease.functionName }, `a reserved-concurrency lease could not be returned; it lapses within ${this.#timing.leaseMs} ms`);
    });
  }

  /** Leases this gateway holds now for the function. */
  held(functionName: string): number {
    return this.#held.get(functionName)?.size ?? 0;
  }

  /** Extends every lease this gateway holds (run by the timer; exposed for tests). */
  async renew(): Promise<void> {
    if (this.#renewing || this.#closed) return;
    this.#renewing = true;
    try {
      await Promise.all(
        [...this.#held].map(async ([fn, ids]) => {
          if (ids.size === 0) return;
          try {
            const readded = Number(await this.#redis.eval(RENEW_SCRIPT, 1, this.#key(fn), String(this.#timing.leaseMs), ...ids));
            if (readded > 0) this.#log?.warn({ function: fn, readded }, 'reserved-concurrency leases had lapsed while their calls ran; counted again');
          } catch (err) {
            this.#log?.warn({ err, function: fn }, 'renewing reserved-concurrency leases failed; retrying');
          }
        }),
      );
    } finally {
      this.#renewing = false;
    }
  }

  /**
   * Stops renewing. Leases still held (calls that outlived the gateway's
   * shutdown) lapse within a lease life; they are not removed, since their
   * calls may still be running.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  #key(functionName: string): string {
    return functionKeys(functionName, this.#prefix).leases;
  }

  /** Waits briefly for a connection, so a call made while the client connects is not refused; then fails fast. */
  #ready(): Promise<void> {
    const c = this.#redis;
    if (c.status === 'ready') return Promise.resolve();
    // One wait shared by every caller that arrives meanwhile.
    this.#readyWait ??= new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        c.off('ready', onReady);
        reject(new Error(`redis is not reachable (${c.status})`));
      }, this.#connectWaitMs);
      c.once('ready', onReady);
    }).finally(() => {
      this.#readyWait = undefined;
    });
    return this.#readyWait;
  }
}

/**
 * A Redis limiter on a connection of its own (single, Sentinel or Cluster,
 * TLS: whatever the queue is given), closed with it. The key prefix is the
 * queue's, so the controller's clean-up of a deleted Function takes its
 * leases too.
 */
export function openRedisConcurrencyLimiter(connection: RedisConnectionOptions, logger?: Logger): ConcurrencyLimiter {
  const redis = createRedisClient(connection);
  // ioredis reports every failed reconnect as an error event; the calls refused meanwhile say what matters.
  redis.on('error', (err: unknown) => logger?.debug({ err }, 'concurrency limiter redis connection error'));
  const limiter = new RedisConcurrencyLimiter({ redis, ...(connection.keyPrefix !== undefined ? { keyPrefix: connection.keyPrefix } : {}), ...(logger ? { logger } : {}) });
  return {
    tryAcquire: (functionName, limit) => limiter.tryAcquire(functionName, limit),
    release: (lease) => limiter.release(lease),
    async close() {
      await limiter.close();
      try {
        if (redis.status === 'ready') await redis.quit();
        else redis.disconnect();
      } catch {
        redis.disconnect();
      }
    },
  };
}
