// The autoscaler samples load synchronously every second; the queue answers
// asynchronously. This keeps the last answer per function, refreshed on the
// autoscaler's own beat, so a slow or absent Redis never stalls a tick.
import type { FunctionCatalog } from '../api/catalog.js';
import type { Queue } from '../queue/queue.js';

export class BacklogCache {
  readonly #lag = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(
    private readonly queue: Pick<Queue, 'backlog'>,
    private readonly catalog: FunctionCatalog,
  ) {}

  /** Accepted events not yet handed to a consumer. */
  backlog(name: string): number {
    return this.#lag.get(name) ?? 0;
  }

  start(periodMs = 1000): void {
    this.#timer = setInterval(() => void this.refresh(), periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const fn of this.catalog.list()) {
        const name = fn.metadata.name;
        try {
          const b = await this.queue.backlog(name);
          this.#lag.set(name, b.lag);
        } catch {
          // Redis away: keep the last figure; the queue reports its own outage.
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
