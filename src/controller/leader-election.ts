// Leader election with a coordination.k8s.io Lease, as client-go does it: the
// holder renews the lease every retry period; a contender takes it over once
// it has seen the same record unrenewed for a lease duration (by its own
// clock, so clock skew between replicas does not matter); the leader counts
// itself leader only while its last renewal is younger than the renew
// deadline, which is shorter than the lease, so two never act at once.
import { RESOURCES, resourcePath } from '../kube/paths.js';
import { isStatus, type KubeRest } from '../kube/rest.js';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface LeaseElectorOptions {
  rest: KubeRest;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  onError?: (err: unknown) => void;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** What to write to take or keep the lease, or undefined if another holder's lease is still live. Pure. */
export function nextLease(
  current: LeaseSpec | undefined,
  identity: string,
  now: number,
  leaseDurationMs: number,
  observedAt: number,
): LeaseSpec | undefined {
  const holder = current?.holderIdentity ?? '';
  const ours = holder === identity;
  const durationMs = (current?.leaseDurationSeconds ?? 0) * 1000;
  if (!ours && holder !== '' && now < observedAt + durationMs) return undefined;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
    acquireTime: ours && current?.acquireTime ? current.acquireTime : microTime(now),
    renewTime: microTime(now),
    leaseTransitions: (current?.leaseTransitions ?? 0) + (ours || holder === '' ? 0 : 1),
  };
}

export class LeaseElector {
  readonly identity: string;
  readonly #o: LeaseElectorOptions;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #now: () => number;
  /** The record last seen and when we first saw it, by our clock. */
  #observed: { key: string; at: number } | undefined;
  #lastRenew = 0;
  #leading = false;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

  constructor(opts: LeaseElectorOptions) {
    this.#o = opts;
    this.identity = opts.identity;
    this.#leaseMs = opts.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryMs = opts.retryPeriodMs ?? 2_000;
    this.#now = opts.now ?? Date.now;
    if (this.#renewDeadlineMs >= this.#leaseMs) throw new Error('the renew deadline must be shorter than the lease duration');
  }

  isLeader(): boolean {
    return this.#leading && this.#now() - this.#lastRenew < this.#renewDeadlineMs;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#tick();
  }

  /** Stops competing and, if leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#round;
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.#get();
      if (lease?.spec?.holderIdentity === this.identity) {
        const now = this.#now();
        await this.#put({ ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } });
      }
    } catch (err) {
      this.#o.onError?.(err); // the lease then expires by itself
    }
  }

  async #tick(): Promise<void> {
    this.#round = this.#attempt();
    await this.#round;
    if (!this.#running) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#retryMs);
    this.#timer.unref();
  }

  async #attempt(): Promise<void> {
    let outcome: boolean | undefined;
    try {
      outcome = await this.#tryAcquireOrRenew();
    } catch (err) {
      // Unknown: keep leading until the renew deadline runs out.
      this.#o.onError?.(err);
    }
    if (outcome === true) this.#lastRenew = this.#now();
    else if (outcome === false) this.#lastRenew = 0;
    this.#setLeading(this.#lastRenew > 0 && this.#now() - this.#lastRenew < this.#renewDeadlineMs);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#now();
    const lease = await this.#get();
    if (lease === undefined) {
      const spec = nextLease(undefined, this.identity, now, this.#leaseMs, now);
      try {
        await this.#o.rest.request('POST', resourcePath(RESOURCES.Lease, this.#o.namespace), {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec },
        });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    }
    const key = `${lease.spec?.holderIdentity ?? ''}|${lease.spec?.renewTime ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: now };
    const spec = nextLease(lease.spec, this.identity, now, this.#leaseMs, this.#observed.at);
    if (spec === undefined) return false;
    try {
      await this.#put({ ...lease, spec });
      return true;
    } catch (err) {
      if (isStatus(err, 409)) return false; // someone else wrote first; look again next round
      throw err;
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (leading) this.#o.onStartedLeading?.();
    else this.#o.onStoppedLeading?.();
  }

  async #get(): Promise<Lease | undefined> {
    try {
      return await this.#o.rest.request<Lease>('GET', resourcePath(RESOURCES.Lease, this.#o.namespace, this.#o.name));
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async #put(lease: Lease): Promise<void> {
    await this.#o.rest.request('PUT', resourcePath(RESOURCES.Lease, this.#o.namespace, this.#o.name), { body: lease });
  }
}
