// One local instance: an in-process agent and the runtime process it runs.
import type { InvokeRequest, InvokeResult } from '../../agent/invocation.js';
import type { Agent } from '../../agent/agent.js';
import type { Instance, InstanceState } from '../backend.js';
import { ProcessWatch } from './process-gone.js';

export class LocalInstance implements Instance {
  private draining = false;
  private stopped = false;
  /** Asked before every invocation: keeps the runtime's /proc/PID/stat open. */
  private readonly watch = new ProcessWatch();

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
    const pid = this.agent.pid;
    // The kernel may know the runtime is dead (killed while idle) before the
    // agent does, which hears of it only when Node reaps the process: an
    // event handed over meanwhile would go to a runtime that can never run
    // it. Wait until the agent has seen the exit; it restarts the runtime,
    // and this call waits for that as any call waits for an init.
    if (pid !== undefined && this.agent.state === 'ready' && this.watch.gone(pid)) return this.exitSeen(pid).then(() => this.agent.invoke(req));
    return this.agent.invoke(req);
  }

  /** Resolves once the agent no longer runs process `pid` (its exit is bound to be reaped soon). */
  private exitSeen(pid: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.agent.pid === pid && this.agent.state === 'ready') return;
        off();
        clearInterval(poll);
        resolve();
      };
      const off = this.agent.on(check);
      // Events say when; the poll bounds the wait should the exit come without one.
      const poll = setInterval(check, 20);
    });
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
    this.watch.close();
    this.stopped = true;
  }
}
