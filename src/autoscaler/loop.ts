// The imperative shell around the core: once a tick, for every function in
// the catalog, read its load, ask the core, and hand the backend the result.
// Every replica measures (so a new leader starts with warm windows); only the
// leader calls the backend. The catalog is of serving units (a UnitCatalog:
// keys NAME and NAME:N), so each version scales on its own.
import type { Catalog } from '../api/catalog.js';
import type { HearthFunction } from '../api/function.js';
import type { Backend } from '../backends/backend.js';
import type { AutoscalerMetrics } from '../metrics/autoscaler.js';
import { unitLabels } from '../versions/units.js';
import { autoscalerConfig, decide, initialState, instanceBounds, reconfigure, surplus, type AutoscalerState, type AutoscalerTuning, type Decision } from './core.js';
import { AlwaysLeader, type LeaderElector } from './leader.js';

/** Where load comes from: the dispatcher's in-flight counts and the queue's pending events. */
export interface LoadSource {
  /** Sync calls in flight (including callers waiting for an instance) plus async events being processed. */
  inFlight(name: string): number;
  /** Async events queued and not yet started. */
  backlog(name: string): number;
}

export interface LoopClock {
  now(): number;
  /** Calls `fn` every `ms`; returns a cancel function. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: LoopClock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/** The few logger methods the loop uses; a pino logger fits. */
export interface LoopLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AutoscalerLoopOptions {
  /** The serving units to scale (the UnitCatalog); a plain function catalog scales each function's $LATEST alone. */
  catalog: Catalog;
  backend: Pick<Backend, 'scale' | 'instances'>;
  load: LoadSource;
  /** Default: AlwaysLeader (one process). The loop neither starts nor stops it. */
  leader?: LeaderElector;
  metrics?: AutoscalerMetrics;
  clock?: LoopClock;
  /** Default 1000: the core's windows are built from one-second buckets. */
  tickMs?: number;
  tuning?: Partial<AutoscalerTuning>;
  /** Scale changes at info, failed scale calls at warn. */
  logger?: LoopLogger;
  /** A failed scale call; the loop retries on the next tick. */
  onError?: (err: unknown, functionName: string) => void;
  /** Every decision, for logs and debugging. */
  onDecision?: (functionName: string, decision: Decision) => void;
}

interface Tracked {
  fn: HearthFunction;
  state: AutoscalerState;
  /** What the backend was last told, or undefined when it must be told again. */
  applied: number | undefined;
  /** The last count sent, kept across errors and leadership changes, to count scale events. */
  lastSent: number;
  /** Scale calls not yet settled, by the count they asked for. */
  applying: Map<number, Promise<void>>;
}

export class AutoscalerLoop {
  readonly #o: AutoscalerLoopOptions;
  readonly #clock: LoopClock;
  readonly #leader: LeaderElector;
  readonly #tracked = new Map<string, Tracked>();
  #unsubscribe: (() => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  #ticking: Promise<void> | undefined;

  constructor(opts: AutoscalerLoopOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#leader = opts.leader ?? new AlwaysLeader();
  }

  /** Subscribes to the catalog, provisions the minimums of the functions already there, and starts ticking. */
  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#o.catalog.onChange((name) => this.#catalogChanged(name));
    for (const fn of this.#o.catalog.list()) this.#catalogChanged(fn.metadata.name);
    this.#cancelTimer = this.#clock.every(this.#o.tickMs ?? 1000, () => {
      // A slow backend must not stack ticks up; the next one comes soon enough.
      if (this.#ticking) return;
      this.#ticking = this.tick().finally(() => {
        this.#ticking = undefined;
      });
    });
  }

  async stop(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#ticking;
    await this.settled();
  }

  /**
   * One evaluation of every function. Public so tests (and a caller with its
   * own timer) can drive it. Does not wait for the scale calls it makes: a
   * scale-down that drains slow work must not hold up every other function;
   * await settled() for that.
   */
  async tick(): Promise<void> {
    const now = this.#clock.now();
    const leader = this.#leader.isLeader();
    for (const name of [...this.#tracked.keys()]) {
      const t = this.#tracked.get(name);
      if (!t) continue;
      const instances = this.#o.backend.instances(name);
      const ready = instances.filter((i) => i.state === 'ready').length;
      const live = instances.filter((i) => i.state === 'ready' || i.state === 'starting').length;
      const inFlight = this.#o.load.inFlight(name);
      const d = decide(t.state, { inFlight, backlog: this.#o.load.backlog(name), ready }, now);
      t.state = d.state;
      this.#o.onDecision?.(name, d);
      const m = this.#o.metrics;
      if (m) {
        const labels = unitLabels(name);
        m.observedConcurrency.set(labels, inFlight);
        m.readyInstances.set(labels, ready);
        m.desiredInstances.set(labels, d.desired);
        m.panicMode.set(labels, d.panic ? 1 : 0);
      }
      if (!leader) {
        // Whoever leads next must tell the backend afresh.
        t.applied = undefined;
        continue;
      }
      // Instances that died are replaced by asking again for what we want, and extra ones stopped.
      const extra = surplus({ live, starting: live - ready, desired: d.desired, panic: d.panic, inFlight, concurrency: t.fn.spec.concurrency });
      if (d.desired !== t.applied || live < d.desired || extra) this.#apply(name, t, d.desired, d.reason);
    }
  }

  /** The last decision for a function, if the loop knows it. */
  desired(name: string): number | undefined {
    return this.#tracked.get(name)?.state.desired;
  }

  /** Resolves once no scale call is outstanding. */
  async settled(): Promise<void> {
    await Promise.all([...this.#tracked.values()].flatMap((t) => [...t.applying.values()]));
  }

  #catalogChanged(name: string): void {
    const fn = this.#o.catalog.get(name);
    const t = this.#tracked.get(name);
    if (!fn) {
      this.#tracked.delete(name);
      this.#o.metrics?.forget(name);
      return;
    }
    const config = autoscalerConfig(fn.spec, this.#o.tuning);
    if (!t) {
      const current = this.#o.backend.instances(name).filter((i) => i.state === 'ready' || i.state === 'starting').length;
      const tracked: Tracked = { fn, state: initialState(config, current), applied: undefined, lastSent: current, applying: new Map() };
      this.#tracked.set(name, tracked);
      this.#o.metrics?.desiredInstances.set(unitLabels(name), tracked.state.desired);
      // Provisioned instances start at deploy time, not at the first tick.
      if (instanceBounds(config).min > 0 && this.#leader.isLeader()) this.#apply(name, tracked, tracked.state.desired, 'min-instances');
      return;
    }
    t.fn = fn;
    const before = t.state.desired;
    t.state = reconfigure(t.state, config);
    this.#o.metrics?.desiredInstances.set(unitLabels(name), t.state.desired);
    if (t.state.desired !== before && this.#leader.isLeader()) this.#apply(name, t, t.state.desired, 'spec-changed');
  }

  /**
   * Sends one scale call. A call for the same count still in flight is not
   * repeated; a call for another count is sent alongside it, because a burst
   * must not wait for a slow drain to finish. The backend takes the latest
   * call as the one that counts.
   */
  #apply(name: string, t: Tracked, desired: number, reason?: string): void {
    if (t.applying.has(desired)) return;
    t.applied = desired;
    if (desired !== t.lastSent) {
      this.#o.metrics?.scaleEvents.inc({ ...unitLabels(name), direction: desired > t.lastSent ? 'up' : 'down' });
      this.#o.logger?.info({ function: name, from: t.lastSent, to: desired, reason }, 'scaling');
      t.lastSent = desired;
    }
    const call = this.#o.backend
      .scale(name, desired)
      .catch((err: unknown) => {
        if (t.applied === desired) t.applied = undefined;
        this.#o.logger?.warn({ err, function: name, desired }, 'scale call failed; retrying next tick');
        this.#o.onError?.(err, name);
      })
      .finally(() => {
        t.applying.delete(desired);
      });
    t.applying.set(desired, call);
  }
}
