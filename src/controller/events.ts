// Kubernetes Events on notable transitions of a Function, so `kubectl
// describe function` tells its story. Repeats of one event are suppressed for
// a while: a failing function is reconciled often, and one Event per reason
// is what a reader wants.
import type { KubeRest } from '../kube/rest.js';
import { RESOURCES, resourcePath } from '../kube/paths.js';

export interface EventTarget {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
  /** The object's kind (default Function). */
  kind?: 'Function' | 'FunctionVersion' | 'WarmPool';
}

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  emit(target: EventTarget, type: EventType, reason: string, message: string): void;
}

export const COMPONENT = 'hearth-controller';

/**
 * Events posted at once. They are told, not waited for: 500 new Functions
 * each emit one as their Deployment is created, and posted all at once they
 * competed with the applies and status writes for the API server (the
 * 500-Function bench). A few at a time, they follow a burst instead of
 * slowing it; each keeps the time it was emitted.
 */
const IN_FLIGHT = 2;
/** Events waiting beyond this many are dropped, oldest first, as client-go's broadcaster drops beyond its queue of 1000. */
const BACKLOG = 1000;

export class EventRecorder implements EventSink {
  readonly #recent = new Map<string, number>();
  readonly #waiting: { namespace: string; body: object }[] = [];
  #inFlight = 0;

  constructor(
    private readonly rest: KubeRest,
    private readonly instance: string,
    private readonly opts: { suppressMs?: number; now?: () => number; onError?: (err: unknown) => void } = {},
  ) {}

  emit(target: EventTarget, type: EventType, reason: string, message: string): void {
    const now = this.opts.now?.() ?? Date.now();
    const key = `${target.uid}\u0000${reason}\u0000${message}`;
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < (this.opts.suppressMs ?? 600_000)) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 10_000) this.#prune(now);
    const time = new Date(now).toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${target.name}.`, namespace: target.namespace },
      involvedObject: {
        apiVersion: RESOURCES[target.kind ?? 'Function'].apiVersion,
        kind: RESOURCES[target.kind ?? 'Function'].kind,
        name: target.name,
        namespace: target.namespace,
        uid: target.uid,
        ...(target.resourceVersion !== undefined ? { resourceVersion: target.resourceVersion } : {}),
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    this.#waiting.push({ namespace: target.namespace, body });
    if (this.#waiting.length > BACKLOG) {
      this.#waiting.shift();
      this.opts.onError?.(new Error(`more than ${BACKLOG} events waiting to be posted: the oldest was dropped`));
    }
    this.#post();
  }

  #post(): void {
    while (this.#inFlight < IN_FLIGHT) {
      const next = this.#waiting.shift();
      if (next === undefined) return;
      this.#inFlight++;
      this.rest
        .request('POST', resourcePath(RESOURCES.Event, next.namespace), { body: next.body })
        .catch((err: unknown) => this.opts.onError?.(err))
        .finally(() => {
          this.#inFlight--;
          this.#post();
        });
    }
  }

  #prune(now: number): void {
    for (const [k, t] of this.#recent) if (now - t >= (this.opts.suppressMs ?? 600_000)) this.#recent.delete(k);
  }
}
