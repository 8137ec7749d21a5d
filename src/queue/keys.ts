// Redis key naming. Every key that belongs to one function carries the
// function's name as a hash tag, so in Redis Cluster they all live in one
// slot and may be touched together by MULTI and Lua scripts (moving a due
// retry back, dead-lettering and acking in one step).

export const DEFAULT_KEY_PREFIX = 'hearth';
export const CONSUMER_GROUP = 'hearth-consumers';

export interface FunctionKeys {
  /** The stream of events waiting to run (consumer group CONSUMER_GROUP). */
  events: string;
  /** Sorted set of delayed retries, scored by due time (epoch ms). */
  delayed: string;
  /** Prefix of the hashes holding a delayed retry's fields, one per member of `delayed`. */
  retryPrefix: string;
  /** The dead-letter stream. */
  deadLetters: string;
  /** Prefix of the idempotency keys (SET NX PX). */
  idempotencyPrefix: string;
  /** Sorted set of reserved-concurrency leases: member a lease id, score its expiry (ms on Redis's clock). */
  leases: string;
}

/**
 * The key prefix of one namespace's functions in a cluster: function names
 * are unique only within a namespace, and gateways of several namespaces may
 * share one Redis. The gateway queues and the controller's finalizer both use it.
 */
export function namespaceKeyPrefix(namespace: string): string {
  return `${DEFAULT_KEY_PREFIX}:ns:${namespace}`;
}

/** A function name may only be a DNS label, but be safe with anything that would break the tag. */
function tag(functionName: string): string {
  if (functionName.length === 0 || /[{}]/.test(functionName)) throw new Error(`invalid function name for a queue key: ${JSON.stringify(functionName)}`);
  return `{${functionName}}`;
}

export function functionKeys(functionName: string, prefix: string = DEFAULT_KEY_PREFIX): FunctionKeys {
  const base = `${prefix}:${tag(functionName)}`;
  return {
    events: `${base}:events`,
    delayed: `${base}:delayed`,
    retryPrefix: `${base}:retry:`,
    deadLetters: `${base}:dlq`,
    idempotencyPrefix: `${base}:idem:`,
    leases: `${base}:leases`,
  };
}

/** Records are looked up by request id alone, so they are keyed (and slotted) by it. */
export function recordKey(requestId: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${prefix}:invocation:{${requestId}}`;
}

/**
 * The run count of one life of an event (its request id and acceptance time:
 * a redrive starts a new life), kept beside its record so every consumer
 * counts into the same place.
 */
export function attemptsKey(requestId: string, enqueuedAt: number, prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${recordKey(requestId, prefix)}:attempts:${enqueuedAt}`;
}

/** The hash-tag content of a key, as Redis Cluster computes slots from it. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}
