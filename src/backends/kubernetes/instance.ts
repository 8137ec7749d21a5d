// One pod of a function as the gateway sees it: an endpoint of the function's
// Service whose agent answers the HTTP invoke endpoint on the agent port.
import type { InvokeRequest, InvokeResult } from '../../agent/invocation.js';
import type { Instance, InstanceState } from '../backend.js';

/** The part of the agent's HTTP client an instance needs (src/agent/client.ts AgentClient). */
export interface InvokeClient {
  /** `slots`: the instance's concurrency (calls that may wait in the agent together). */
  invoke(req: InvokeRequest, slots: number): Promise<InvokeResult>;
  close(): Promise<void>;
}

export class KubernetesInstance implements Instance {
  #state: InstanceState;
  #readyAt: number | undefined;
  #client: InvokeClient | undefined;

  constructor(
    readonly id: string,
    readonly functionName: string,
    readonly address: string,
    public concurrency: number,
    state: InstanceState,
    private readonly makeClient: (url: string) => InvokeClient,
    private readonly port: number,
    now: number,
  ) {
    this.#state = state;
    if (state === 'ready') this.#readyAt = now;
  }

  get state(): InstanceState {
    return this.#state;
  }

  get readyAt(): number | undefined {
    return this.#readyAt;
  }

  get url(): string {
    return `http://${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.port}`;
  }

  /** Returns whether the state changed. */
  setState(state: InstanceState, now: number): boolean {
    if (state === this.#state) return false;
    this.#state = state;
    if (state === 'ready') this.#readyAt ??= now;
    return true;
  }

  invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.#client ??= this.makeClient(this.url);
    return this.#client.invoke(req, this.concurrency);
  }

  async close(): Promise<void> {
    this.#state = 'stopped';
    const c = this.#client;
    this.#client = undefined;
    await c?.close();
  }
}
