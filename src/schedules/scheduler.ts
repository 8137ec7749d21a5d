// The loop that fires schedules: it follows the catalog, keeps one timer per
// enabled schedule, and on each tick enqueues an async (Event) invocation.
// Every gateway replica runs it; the enqueue carries an idempotency key made
// of the schedule and the tick, so the queue takes a tick once however many
// replicas send it (atomically in Redis, keyed under the function's hash tag
// and the namespace's prefix). Ticks that passed while no gateway ran are
// not replayed: after a start the first tick is the next one after now.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { FunctionCatalog } from '../api/catalog.js';
import type { Schedule } from '../api/function.js';
import type { ScheduleMetrics } from '../metrics/schedules.js';
import { systemClock, type Clock, type Queue } from '../queue/queue.js';
import { nextTick, tickTime } from './next-tick.js';
import { regionAndAccount, tickPayload } from './scheduled-event.js';

export type TimerHandle = unknown;

/** setTimeout and clearTimeout, injected so tests can move time. */
export interface Timers {
  set(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface SchedulerOptions {
  catalog: FunctionCatalog;
  queue: Pick<Queue, 'enqueue'>;
  /** The function's ARN (region and account of the scheduled event come from it). */
  functionArn: (name: string) => string;
  clock?: Clock;
  timers?: Timers;
  /** Event ids (default: random UUIDs). */
  newId?: () => string;
  /**
   * A tick found later than this (a stalled process) is let pass rather than
   * sent; also how long a tick is retried while the queue is unreachable.
   * Well below the queue's idempotency window (10 min), so a late replica
   * cannot send a tick again after its key expired.
   */
  maxLatenessMs?: number;
  /** Pause between attempts while the queue is unreachable (default 1 s). */
  retryDelayMs?: number;
  metrics?: ScheduleMetrics;
  logger?: Logger;
}

/** Node's timers take at most a signed 32-bit delay; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_MAX_LATENESS_MS = 60_000;

interface Armed {
  functionName: string;
  scheduleName: string;
  /** cron and time zone: a change of either re-arms; a new payload is read at the tick. */
  signature: string;
  tick: number;
  handle: TimerHandle;
}

/** The idempotency key of one tick: the function is already the queue's scope, the namespace its key prefix. */
export function tickKey(scheduleName: string, tick: number): string {
  return `hearth-schedule:${scheduleName}:${tickTime(tick)}`;
}

function signatureOf(s: Schedule): string {
  return JSON.stringify([s.cron, s.timezone ?? null]);
}

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #armed = new Map<string, Armed>();
  readonly #sending = new Set<Promise<void>>();
  readonly #sleeps = new Set<{ handle: TimerHandle; wake: () => void }>();
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(opts: SchedulerOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? systemTimers;
  }

  start(): void {
    this.#unsubscribe = this.#o.catalog.onChange((name) => this.#sync(name));
    for (const fn of this.#o.catalog.list()) this.#sync(fn.metadata.name);
  }

  /** The tick each armed schedule waits for, by `function/schedule` (for tests and diagnostics). */
  armed(): Map<string, number> {
    return new Map([...this.#armed.values()].map((a) => [`${a.functionName}/${a.scheduleName}`, a.tick]));
  }

  /** Disarms every timer and waits for ticks being sent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const a of this.#armed.values()) this.#timers.clear(a.handle);
    this.#armed.clear();
    for (const s of this.#sleeps) {
      this.#timers.clear(s.handle);
      s.wake();
    }
    await Promise.all([...this.#sending]);
  }

  /** Brings the timers of one function in line with its spec. */
  #sync(functionName: string): void {
    if (this.#stopped) return;
    const wanted = new Map((this.#o.catalog.get(functionName)?.spec.schedules ?? []).filter((s) => s.enabled).map((s) => [s.name, s]));
    for (const [key, a] of this.#armed) {
      if (a.functionName !== functionName) continue;
      const s = wanted.get(a.scheduleName);
      if (s !== undefined && signatureOf(s) === a.signature) {
        wanted.delete(a.scheduleName); // unchanged: keeps its timer
        continue;
      }
      this.#timers.clear(a.handle);
      this.#armed.delete(key);
    }
    const now = this.#clock.now();
    for (const s of wanted.values()) {
      try {
        this.#arm(functionName, s.name, signatureOf(s), nextTick(s, now));
      } catch (err) {
        // Validation refuses such a schedule; a catalog fed around it must not stop the others.
        this.#o.logger?.error({ err, function: functionName, schedule: s.name }, 'schedule cannot be computed; not armed');
      }
    }
  }

  #arm(functionName: string, scheduleName: string, signature: string, tick: number): void {
    const key = `${functionName}\u0000${scheduleName}`;
    const delay = Math.min(Math.max(0, tick - this.#clock.now()), MAX_TIMER_MS);
    const handle = this.#timers.set(() => this.#due(key), delay);
    this.#armed.set(key, { functionName, scheduleName, signature, tick, handle });
  }

  #due(key: string): void {
    const a = this.#armed.get(key);
    if (a === undefined || this.#stopped) return;
    const now = this.#clock.now();
    // A long wait taken in steps, or a timer that ran ahead of the wall clock.
    if (now < a.tick) return this.#arm(a.functionName, a.scheduleName, a.signature, a.tick);
    const schedule = this.#o.catalog.get(a.functionName)?.spec.schedules?.find((s) => s.name === a.scheduleName);
    if (schedule === undefined || !schedule.enabled) {
      this.#armed.delete(key);
      return;
    }
    // The next tick is armed before this one is sent, and is after now: ticks a stall skipped are not replayed.
    this.#arm(a.functionName, a.scheduleName, a.signature, nextTick(schedule, now));
    const sending = this.#send(a.functionName, schedule, a.tick).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
  }

  async #send(functionName: string, schedule: Schedule, tick: number): Promise<void> {
    const o = this.#o;
    const labels = { function: functionName, schedule: schedule.name };
    const log = { function: functionName, schedule: schedule.name, tick: tickTime(tick) };
    const maxLateness = o.maxLatenessMs ?? DEFAULT_MAX_LATENESS_MS;
    const { region, accountId } = regionAndAccount(o.functionArn(functionName));
    const payload = tickPayload({ functionName, schedule, tick, region, accountId, id: (o.newId ?? randomUUID)() });
    for (;;) {
      if (this.#stopped) return;
      if (this.#clock.now() - tick > maxLateness) {
        o.metrics?.missed.inc(labels);
        o.logger?.warn(log, 'scheduled tick not sent: too late');
        return;
      }
      try {
        const res = await o.queue.enqueue({ functionName, payload, idempotencyKey: tickKey(schedule.name, tick) });
        if (!res.duplicate) {
          o.metrics?.invocations.inc(labels);
          o.logger?.debug({ ...log, requestId: res.requestId }, 'scheduled invocation enqueued');
        }
        return;
      } catch (err) {
        // The key makes a retry safe: a tick that did reach the queue is not taken twice.
        o.logger?.warn({ ...log, err }, 'scheduled tick not enqueued yet; retrying');
        await this.#sleep(o.retryDelayMs ?? 1000);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        handle: this.#timers.set(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#sleeps.add(entry);
    });
  }
}
