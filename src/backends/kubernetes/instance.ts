// One pod of a function as the gateway sees it: an endpoint of the function's
// Service whose agent answers the HTTP invoke endpoint on the agent port.
// Besides what its EndpointSlice says, this gateway may hold the instance
// back on its own: as a scale-down victim it chose, before the pod's
// deletion shows in the slice, or after the agent refused a call as
// draining (or could not be reached). A held instance reports `draining`,
// so the dispatcher stops choosing it at once.
import type { InvokeRequest, InvokeResult } from '../../agent/invocation.js';
import type { Instance, InstanceState } from '../backend.js';

/** The part of the agent's HTTP client an instance needs (src/agent/client.ts AgentClient). */
export interface InvokeClient {
  /** `slots`: the instance's concurrency (calls that may wait in the agent together). */
  invoke(req: InvokeRequest, slots: number): Promise<InvokeResult>;
  close(): Promise<void>;
}

/**
 * Why this gateway holds an instance back:
 * - `victim`: it chose the instance's pod for deletion on scale-down.
 * - `refused`: the agent refused a call as not delivered (draining, or no connection).
 */
export type HoldKind = 'victim' | 'refused';

/**
 * How long a hold lasts at most. The pod's deletion (or the agent's
 * restart) normally shows in its EndpointSlice within a second or two; a
 * hold that outlives this was wrong (the ReplicaSet deleted another pod, the
 * agent came back) and is dropped, so the instance serves again.
 */
export const HOLD_MS = 30_000;

export interface KubernetesInstanceOptions {
  id: string;
  functionName: string;
  address: string;
  /** The pod's name, when the slice names it (for its deletion-cost annotation). */
  pod?: string | undefined;
  concurrency: number;
  /** What the EndpointSlice says. */
  state: InstanceState;
  makeClient: (url: string) => InvokeClient;
  port: number;
  now: number;
  /** A hold began through markDraining, or ended by itself (HOLD_MS passed); not called for hold() and release(). */
  onHoldChange?: (instance: KubernetesInstance, change: { kind: HoldKind; held: boolean }) => void;
  holdMs?: number;
}

export class KubernetesInstance implements Instance {
  readonly id: string;
  readonly functionName: string;
  readonly address: string;
  readonly pod: string | undefined;
  concurrency: number;
  readonly #o: KubernetesInstanceOptions;
  #endpointState: InstanceState;
  #readyAt: number | undefined;
  #client: InvokeClient | undefined;
  #inFlight = 0;
  #hold: { kind: HoldKind; timer: NodeJS.Timeout } | undefined;

  constructor(o: KubernetesInstanceOptions) {
    this.#o = o;
    this.id = o.id;
    this.functionName = o.functionName;
    this.address = o.address;
    this.pod = o.pod;
    this.concurrency = o.concurrency;
    this.#endpointState = o.state;
    if (o.state === 'ready') this.#readyAt = o.now;
  }

  /** `draining` while this gateway holds the instance back, else what its endpoint says. */
  get state(): InstanceState {
    if (this.#hold !== undefined && this.#endpointState !== 'stopped') return 'draining';
    return this.#endpointState;
  }

  /** What the EndpointSlice says, whatever this gateway holds. */
  get endpointState(): InstanceState {
    return this.#endpointState;
  }

  get held(): HoldKind | undefined {
    return this.#hold?.kind;
  }

  get readyAt(): number | undefined {
    return this.#readyAt;
  }

  /** Calls this gateway has sent to the instance that have not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get url(): string {
    return `http://${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.#o.port}`;
  }

  /**
   * The endpoint's state from its slice. Returns whether the instance's
   * state changed. News from the slice ends a `refused` hold (the agent's
   * refusal was a guess at what the slice now tells); a victim stays held.
   */
  setState(state: InstanceState, now: number): boolean {
    if (state === this.#endpointState) return false;
    const before = this.state;
    this.#endpointState = state;
    if (state === 'ready') this.#readyAt ??= now;
    if (this.#hold?.kind === 'refused') this.release();
    return this.state !== before;
  }

  /** Holds the instance back for at most HOLD_MS; a hold already there is kept (with its kind). Returns whether it was newly held. */
  hold(kind: HoldKind): boolean {
    if (this.#hold !== undefined || this.#endpointState === 'stopped') return false;
    const timer = setTimeout(() => {
      if (this.#hold?.timer !== timer) return;
      this.#hold = undefined;
      this.#o.onHoldChange?.(this, { kind, held: false });
    }, this.#o.holdMs ?? HOLD_MS);
    timer.unref();
    this.#hold = { kind, timer };
    return true;
  }

  /** Ends a hold; returns whether there was one. */
  release(): boolean {
    if (this.#hold === undefined) return false;
    clearTimeout(this.#hold.timer);
    this.#hold = undefined;
    return true;
  }

  /** The agent refused a call as not delivered: this gateway stops choosing the instance. */
  markDraining(): void {
    if (this.hold('refused')) this.#o.onHoldChange?.(this, { kind: 'refused', held: true });
  }

  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.#client ??= this.#o.makeClient(this.url);
    this.#inFlight++;
    let ended: Promise<unknown> | undefined;
    try {
      const result = await this.#client.invoke(req, this.concurrency);
      ended = result.stream?.ended;
      return result;
    } finally {
      // A stream still flowing is work in flight: the scale-down victim is chosen among the idle first.
      if (ended === undefined) this.#inFlight--;
      else void ended.finally(() => this.#inFlight--);
    }
  }

  async close(): Promise<void> {
    this.release();
    this.#endpointState = 'stopped';
    const c = this.#client;
    this.#client = undefined;
    await c?.close();
  }
}
