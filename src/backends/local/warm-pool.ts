// Generic runtime processes started ahead of need. A pool process knows
// nothing of any function: it waits (HEARTH_SPECIALIZE=stdin) for one line
// {"env": {...}} that makes it one function's instance, which saves the
// interpreter's start-up from the cold start.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { spawnRuntime, type SpawnSpec } from '../../agent/spawn-launcher.js';
import { terminate } from '../../agent/process-reaper.js';

/** Consecutive pool processes that die unused before the pool stops refilling that key. */
const MAX_EARLY_DEATHS = 3;

/**
 * How long after a take the pool starts its replacement. Started at once, it
 * competes with the cold start it was taken for: spawning a sandbox holds the
 * event loop ~2-3 ms (spawn is synchronous) and its start-up takes a CPU,
 * which cost that cold start 2-3 ms of its ~10 (go, python) on two cores.
 */
export const REFILL_DELAY_MS = 50;

interface Slot {
  spec: SpawnSpec;
  /** How a process of this key is started (default: spawnRuntime(spec); a sandboxed backend starts it in a sandbox). */
  start: () => ChildProcess;
  idle: ChildProcess[];
  starting: number;
  deaths: number;
}

export class WarmPool {
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  /** Our own exit handler per idle process, removed when the process is taken (the reaper keeps its own). */
  private readonly exitHandlers = new WeakMap<ChildProcess, (code: number | null, signal: string | null) => void>();

  constructor(
    readonly size: number,
    private readonly log: Logger,
  ) {}

  /** Keep `size` processes of this command ready (no-op when the pool is disabled). */
  ensure(key: string, spec: SpawnSpec, start: () => ChildProcess = () => spawnRuntime(spec)): void {
    if (this.size <= 0 || this.closed) return;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { spec, start, idle: [], starting: 0, deaths: 0 };
      this.slots.set(key, slot);
    }
    slot.deaths = 0;
    this.refill(slot);
  }

  /** A live pool process for this key, or undefined; the pool refills behind it. */
  take(key: string): ChildProcess | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    let child: ChildProcess | undefined;
    while ((child = slot.idle.shift()) !== undefined) {
      if (child.exitCode === null && child.signalCode === null) break;
    }
    if (child !== undefined) {
      const onExit = this.exitHandlers.get(child);
      if (onExit) child.off('exit', onExit);
      this.exitHandlers.delete(child);
    }
    setTimeout(() => this.refill(slot), REFILL_DELAY_MS).unref();
    return child;
  }

  idleCount(key: string): number {
    return this.slots.get(key)?.idle.length ?? 0;
  }

  /** Idle processes of every key starting with `prefix` (one command, whatever its sandbox's /tmp size). */
  idleCountOf(prefix: string): number {
    let n = 0;
    for (const [key, slot] of this.slots) if (key === prefix || key.startsWith(prefix + ' ')) n += slot.idle.length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.slots.values()].flatMap((s) => s.idle.splice(0));
    await Promise.all(all.map((c) => terminate(c, 0)));
  }

  private refill(slot: Slot): void {
    while (!this.closed && slot.deaths < MAX_EARLY_DEATHS && slot.idle.length + slot.starting < this.size) {
      const child = slot.start();
      // Until specialised the process has nothing to say that belongs to an invocation.
      child.stdout?.resume();
      child.stderr?.resume();
      child.once('error', () => undefined);
      const onExit = (code: number | null, signal: string | null): void => {
        const i = slot.idle.indexOf(child);
        if (i >= 0) slot.idle.splice(i, 1);
        if (this.closed) return;
        slot.deaths++;
        this.log.warn({ code, signal, command: slot.spec.command }, 'warm pool process exited before use');
        this.refill(slot);
      };
      this.exitHandlers.set(child, onExit);
      child.once('exit', onExit);
      slot.idle.push(child);
    }
  }
}
