// Where instances live. The dispatcher sees only this interface; the local
// backend runs instances as processes on this machine, the Kubernetes backend
// finds pods through EndpointSlices and scales through the Function's scale
// subresource.
//
// Every name a backend is given or reports is a serving unit's key
// (src/versions/units.ts): NAME for a function's $LATEST, NAME:N for its
// published version N. Each unit has its own instances and is scaled on its
// own; a backend needs to know of versions only where it shows them (the
// runtime's environment, logs) or where its objects live (Kubernetes).
import type { HearthFunction } from '../api/function.js';
import type { InvokeRequest, InvokeResult } from '../agent/invocation.js';

export type InstanceState = 'starting' | 'ready' | 'draining' | 'failed' | 'stopped';

export interface Instance {
  readonly id: string;
  /** The unit's key (NAME or NAME:N) this instance runs. */
  readonly functionName: string;
  /** Invocations this instance may run at once (spec.concurrency). */
  readonly concurrency: number;
  readonly state: InstanceState;
  /** Set when state is `failed`: the init error, to hand to the callers that waited for this start. */
  readonly initError?: InvokeResult;
  /** Epoch ms when the instance became ready; undefined until then. */
  readonly readyAt?: number;
  /**
   * Runs the invocation. A NotDeliveredError (src/agent/delivery.ts) says it
   * provably never reached the runtime; any other failure may have run. The
   * result carries a stream only when `req.acceptStream` asked for one (the
   * agent buffers it otherwise).
   */
  invoke(req: InvokeRequest): Promise<InvokeResult>;
  /**
   * The instance refused a call as leaving (or could not be reached): from
   * now on it reports `draining`, so the dispatcher stops choosing it, until
   * its backend drops or replaces it.
   */
  markDraining?(): void;
}

export interface Backend {
  readonly kind: 'local' | 'kubernetes';
  /** Make the unit known (`fn.metadata.name` is its key, `fn.spec` what it runs); instances running an older spec of it are replaced. */
  upsert(fn: HearthFunction): Promise<void>;
  /** Forget the unit and stop its instances. */
  remove(name: string): Promise<void>;
  /** Ask for `desired` instances (idempotent). Scaling down drains in-flight work first. */
  scale(name: string, desired: number): Promise<void>;
  /** The instances that exist now, in every state. */
  instances(name: string): readonly Instance[];
  /**
   * What the backend is still doing to make the function's code runnable
   * (e.g. "building Go sources"), or undefined when nothing is under way. A
   * call that waits out its budget then gets 502 ResourceNotReadyException
   * naming this, not a 429. Optional: backends that prepare nothing omit it.
   */
  preparingStep?(name: string): string | undefined;
  /** Called with the unit's key whenever its instance set or an instance's state changes. */
  onChange(listener: (functionName: string) => void): () => void;
  close(): Promise<void>;
}
