// One local instance: an in-process agent and the runtime process it runs.
import type { InvokeRequest, InvokeResult } from '../../agent/invocation.js';
import type { Agent } from '../../agent/agent.js';
import type { Instance, InstanceState } from '../backend.js';

export class LocalInstance implements Instance {
  private draining = false;
  private stopped = false;

  constructor(
    readonly id: string,
    readonly functionName: string,
    /** The function version (hash of its spec) this instance runs. */
    readonly version: string,
    /** Order of creation, to stop the newest first. */
    readonly seq: number,
    readonly agent: Agent,
  ) {}

  get concurrency(): number {
    return this.agent.concurrency;
  }

  get state(): InstanceState {
    if (this.stopped) return 'stopped';
    if (this.draining) return 'draining';
    const s = this.agent.state;
    return s === 'closed' ? 'stopped' : s;
  }

  get initError(): InvokeResult | undefined {
    return this.agent.state === 'failed' ? this.agent.initError : undefined;
  }

  get readyAt(): number | undefined {
    return this.agent.readyAt;
  }

  get load(): number {
    return this.agent.load;
  }

  invoke(req: InvokeRequest): Promise<InvokeResult> {
    return this.agent.invoke(req);
  }

  markDraining(): void {
    this.draining = true;
  }

  /** Lets queued and running invocations finish, then stops the process. */
  async drainAndStop(): Promise<void> {
    this.draining = true;
    await this.agent.drain();
    await this.stop();
  }

  async stop(): Promise<void> {
    await this.agent.close();
    this.stopped = true;
  }
}
