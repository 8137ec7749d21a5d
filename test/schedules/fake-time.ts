// A fake clock for the scheduler's tests: no timer runs by itself, time
// moves only when the test says so.
import type { TimerHandle, Timers } from '../../src/schedules/scheduler.js';

export class FakeTime implements Timers {
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  set(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clear(h: TimerHandle): void {
    this.#timers.delete(h as number);
  }
  /** Runs the timers due up to t + ms in order, letting the enqueues they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const [id, due] = [...this.#timers].filter(([, x]) => x.at <= end).sort(([a, x], [b, y]) => x.at - y.at || a - b)[0] ?? [];
      if (id === undefined || due === undefined) break;
      this.#timers.delete(id);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
  /** Moves the wall clock without running timers: a process that stalled. */
  jump(ms: number): void {
    this.t += ms;
  }
}
