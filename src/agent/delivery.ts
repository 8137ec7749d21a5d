// Whether a failed call to an instance provably never reached its runtime.
// Only such a call may be sent again to another instance: one that may have
// run is never retried, so a sync call stays at-most-once, as on Lambda.
// The "committed" point is the agent's: before it queues a call nothing has
// run; once it has, the call belongs to that instance.

/**
 * Why a call was provably not delivered.
 * - `draining`: the agent refused it because its instance is leaving (or has stopped).
 * - `refused`, `unreachable`, `connect-failed`, `connect-timeout`: no connection to the agent was made.
 * - `unresolved`: the agent's host name did not resolve.
 * - `client-closed`: the client to that instance was closed before the call was sent.
 */
export type NotDeliveredReason = 'draining' | 'refused' | 'unreachable' | 'connect-failed' | 'connect-timeout' | 'unresolved' | 'client-closed';

/** The agent's answer to a call it will not take because its instance is leaving. */
export const DRAINING_STATUS = 503;
export const DRAINING_HEADER = 'x-hearth-instance-draining';
export const DRAINING_ERROR_TYPE = 'Hearth.InstanceDraining';

/** A call that never reached the runtime: the dispatcher may send it to another instance. */
export class NotDeliveredError extends Error {
  constructor(
    readonly reason: NotDeliveredReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NotDeliveredError';
  }
}

/** What a call to an agent ended with, when it did not end with an invocation result. */
export type CallFailure =
  | { kind: 'error'; error: unknown }
  | { kind: 'answer'; statusCode: number; headers: Readonly<Record<string, string | string[] | undefined>> };

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  errors?: unknown;
}

function errorLike(e: unknown): ErrorLike | undefined {
  return typeof e === 'object' && e !== null ? (e as ErrorLike) : undefined;
}

function errorReason(error: unknown): NotDeliveredReason | undefined {
  if (error instanceof NotDeliveredError) return error.reason;
  const e = errorLike(error);
  if (e === undefined) return undefined;
  // undici's own connect timeout: the socket never connected.
  if (e.code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect-timeout';
  // undici refuses to dispatch on a closed client before writing anything.
  // (UND_ERR_DESTROYED is not here: destroy() also fails requests already written.)
  if (e.code === 'UND_ERR_CLOSED') return 'client-closed';
  // Node's system errors name the call that failed. One raised by connect()
  // means no connection existed, so no byte of the request was sent. The
  // same codes on a connected socket (syscall read or write, or undici's
  // UND_ERR_SOCKET "other side closed") come after the request may have been
  // written, and are not safe: undici does not tell whether the agent read it.
  if (e.syscall === 'connect') {
    if (e.code === 'ECONNREFUSED') return 'refused';
    if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'unreachable';
    return 'connect-failed';
  }
  if (e.syscall === 'getaddrinfo') return 'unresolved';
  // Happy eyeballs (several addresses) reports every failed attempt together.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const reasons = e.errors.map(errorReason);
    if (reasons.every((r) => r !== undefined)) return reasons[0];
  }
  return undefined;
}

function header(h: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The reason a failed call provably never reached the runtime, or undefined
 * when it may have run (then it must not be sent again). Pure.
 */
export function notDeliveredReason(failure: CallFailure): NotDeliveredReason | undefined {
  if (failure.kind === 'answer') {
    // Only the agent's own draining answer proves it: a bare 503 could come from anything in between.
    return failure.statusCode === DRAINING_STATUS && header(failure.headers, DRAINING_HEADER) === '1' ? 'draining' : undefined;
  }
  return errorReason(failure.error);
}
