// The autoscaler samples load synchronously every second; the queue answers
// asynchronously. This keeps the last answer per function, refreshed on the
// autoscaler's own beat, so a slow or absent Redis never stalls a tick.
//
// The autoscaler asks per serving unit (NAME, NAME:N), the queue counts per
// function: an event names its function and qualifier, and which version runs
// it is decided only when a consumer takes it (an alias's draw happens then).
// So a function's backlog is given to its $LATEST unit alone, and a version's
// unit sees none: counting it once keeps the autoscaler from starting the
// backlog's instances once per version. The instances the consumer's calls
// then need are asked for by the dispatcher's waiting, as for a sync call.
import type { Catalog } from '../api/catalog.js';
import type { Queue } from '../queue/queue.js';
import { LATEST } from '../api/function.js';
import { splitUnitKey } from '../versions/units.js';

export class BacklogCache {
  readonly #lag = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(
    private readonly queue: Pick<Queue, 'backlog'>,
    /** The serving units (the UnitCatalog): their functions' queues are asked. */
    private readonly units: Catalog,
  ) {}

  /** Accepted events not yet handed to a consumer: the function's, for its $LATEST unit; 0 for a version's. */
  backlog(key: string): number {
    const { name, version } = splitUnitKey(key);
    return version === LATEST ? (this.#lag.get(name) ?? 0) : 0;
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
      const names = new Set(this.units.list().map((u) => splitUnitKey(u.metadata.name).name));
      for (const name of names) {
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
