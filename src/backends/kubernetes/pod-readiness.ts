// Readiness learned from the agent itself. A new pod of a unit is ready when
// its runtime has initialised and asked for work; the agent knows this at
// once, while the kubelet learns it at its next readiness probe and the
// gateway through the EndpointSlice controller after that. So for each pod
// of a unit that has an address and is not known to be ready, the gateway
// long-polls the agent's `GET /readyz?wait=MS`, which answers as soon as
// the agent is ready (200) or after MS (503), and takes the pod as a ready
// instance on a 200 (not an idle pool pod's). One poll per pod; stopped when the pod goes, when
// its slice says it is ready, and on close().
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { agentBaseUrl } from './pods.js';

/** How long one long poll asks the agent to hold it (the agent caps it at 30 s). */
export const READY_WAIT_MS = 10_000;
/** Between quick answers (an agent that does not hold the poll, or none yet on the port): from this… */
export const POLL_MIN_DELAY_MS = 100;
/**
 * …doubling up to this. A new pod has its address before its agent listens;
 * the agent's runtime starts only after its startup probe passes, so a poll
 * this often is connected and held before the runtime can be ready.
 */
export const POLL_MAX_DELAY_MS = 500;
/** A pod not ready after this long is left to its EndpointSlice (a crash-looping runtime is not polled for ever). */
export const POLL_GIVE_UP_MS = 5 * 60_000;

/**
 * Whether an agent's /readyz answer says it is ready to serve its unit: a
 * 200, but not the "idle" of a pool pod's agent (ready for a
 * specialisation, not for a call: a claimed pod answers so in the moment
 * between its claim and its specialisation). Pure.
 */
export function answerSaysReady(statusCode: number, body: string): boolean {
  return statusCode === 200 && !answerSaysIdle(statusCode, body);
}

/** The 200 "idle" of a pool pod's agent that has no function (yet). Pure. */
export function answerSaysIdle(statusCode: number, body: string): boolean {
  if (statusCode !== 200) return false;
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && (parsed as { status?: unknown }).status === 'idle';
  } catch {
    return false;
  }
}

/**
 * The pause before the next poll. A 503 after most of the wait means the
 * agent held the poll: ask again at once. Anything quicker (no agent on the
 * port yet, an agent that ignores `wait`, a refused connection) backs off,
 * from POLL_MIN_DELAY_MS doubling to POLL_MAX_DELAY_MS. Pure.
 */
export function nextPollDelay(p: { held: boolean; elapsedMs: number; waitMs: number; previousDelayMs: number }): number {
  if (p.held && p.elapsedMs >= p.waitMs / 2) return 0;
  return Math.min(POLL_MAX_DELAY_MS, Math.max(POLL_MIN_DELAY_MS, p.previousDelayMs * 2));
}

export interface ReadinessPollsOptions {
  /** The agent port. */
  port: number;
  dispatcher: Dispatcher;
  onReady: (pod: string, address: string) => void;
  /** The pod's agent answered as an idle pool pod (a claimed pod whose specialisation never came, if it goes on). */
  onIdle?: (pod: string) => void;
  waitMs?: number;
  giveUpMs?: number;
  now?: () => number;
}

export class ReadinessPolls {
  readonly #o: ReadinessPollsOptions;
  readonly #polls = new Map<string, { address: string; abort: AbortController; done: Promise<void> }>();
  #closed = false;

  constructor(o: ReadinessPollsOptions) {
    this.#o = o;
  }

  /** Polls the pod's agent at `address` unless it is polled already (at that address). */
  start(pod: string, address: string): void {
    if (this.#closed) return;
    const running = this.#polls.get(pod);
    if (running?.address === address) return;
    if (running !== undefined) this.stop(pod);
    const abort = new AbortController();
    const entry = { address, abort, done: Promise.resolve() };
    this.#polls.set(pod, entry);
    entry.done = this.#run(pod, address, abort.signal).finally(() => {
      if (this.#polls.get(pod) === entry) this.#polls.delete(pod);
    });
  }

  stop(pod: string): void {
    const p = this.#polls.get(pod);
    if (p === undefined) return;
    this.#polls.delete(pod);
    p.abort.abort();
  }

  polling(pod: string): boolean {
    return this.#polls.has(pod);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#polls.values()];
    this.#polls.clear();
    for (const p of all) p.abort.abort();
    await Promise.all(all.map((p) => p.done));
  }

  async #run(pod: string, address: string, signal: AbortSignal): Promise<void> {
    const now = this.#o.now ?? Date.now;
    const waitMs = this.#o.waitMs ?? READY_WAIT_MS;
    const began = now();
    const url = `${agentBaseUrl(address, this.#o.port)}/readyz?wait=${waitMs}`;
    let delay = 0;
    while (!signal.aborted && now() - began < (this.#o.giveUpMs ?? POLL_GIVE_UP_MS)) {
      if (delay > 0) {
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return;
        }
      }
      const sent = now();
      let status: number | undefined;
      let ready = false;
      try {
        const res = await request(url, { dispatcher: this.#o.dispatcher, signal, headersTimeout: waitMs + 5000, bodyTimeout: 5000 });
        status = res.statusCode;
        const body = await res.body.text();
        ready = answerSaysReady(res.statusCode, body);
        if (answerSaysIdle(res.statusCode, body) && !signal.aborted) this.#o.onIdle?.(pod);
      } catch {
        if (signal.aborted) return;
      }
      if (signal.aborted) return;
      if (ready) {
        this.#polls.delete(pod);
        this.#o.onReady(pod, address);
        return;
      }
      delay = nextPollDelay({ held: status !== undefined, elapsedMs: now() - sent, waitMs, previousDelayMs: delay });
    }
  }
}
