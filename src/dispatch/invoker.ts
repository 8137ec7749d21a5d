// What the gateway's routes and the queue's consumers call to run one
// invocation. The dispatcher implements it; tests may drive it directly.
import type { InvokeResult } from '../agent/invocation.js';
import type { NotDeliveredReason } from '../agent/delivery.js';

export type InvocationType = 'sync' | 'async';

export interface Invocation {
  functionName: string;
  /** What the caller named: undefined or $LATEST, a version number or an alias; the dispatcher resolves it per call. */
  qualifier?: string;
  requestId: string;
  payload: Buffer;
  type: InvocationType;
  traceId?: string;
  /** The span to parent this invocation's spans under, as a W3C traceparent (src/tracing). */
  traceparent?: string;
  clientContext?: string;
  cognitoIdentity?: string;
  tailLogs?: boolean;
  /**
   * Gives up the call while it still waits for an instance: invoke then
   * rejects with the signal's reason and the call has not run (a stopping
   * queue consumer hands such events back). A call already sent is not aborted.
   */
  signal?: AbortSignal;
  /**
   * The caller can pass a streamed response on as it comes
   * (InvokeWithResponseStream, RESPONSE_STREAM function URLs): the result
   * then carries `stream` when the function streams. Without it a stream is
   * buffered into the payload, as Lambda's Invoke does.
   */
  acceptStream?: boolean;
  /** Called once the call is handed to an instance: from here on it may run (the queue counts an attempt then). */
  onDispatch?: () => void;
}

/**
 * Why the platform, not the function, could not run an invocation.
 * - `not-found`: no such function (404 ResourceNotFoundException).
 * - `throttled`: reserved concurrency or capacity exhausted (429 TooManyRequestsException).
 * - `unavailable`: no instance could be had in time, or the backend failed (502 ResourceNotReadyException).
 * - `service-unavailable`: a shared part of the platform the call needs cannot
 *   be reached (Redis, for a function-wide reserved-concurrency count): 503
 *   ServiceException; the function did not run and the call may be retried.
 */
export type DispatchErrorKind = 'not-found' | 'throttled' | 'unavailable' | 'service-unavailable';

export class DispatchError extends Error {
  /**
   * Set when the last instance the call was sent to provably never ran it
   * (src/agent/delivery.ts), after the dispatcher gave up sending it again:
   * the call did not run anywhere, though onDispatch was called.
   */
  notDelivered?: NotDeliveredReason;

  constructor(
    readonly kind: DispatchErrorKind,
    message: string,
    /** Lambda's reason for a throttle, e.g. ReservedFunctionConcurrentInvocationLimitExceeded. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'DispatchError';
  }
}

export interface Invoker {
  /** Runs the invocation; function errors are results, platform failures throw DispatchError. */
  invoke(inv: Invocation): Promise<InvokeResult>;
}
