// Delivery of destination records to the three kinds of destination Lambda
// offers in its own terms: another function (as an async event), a stream
// (Hearth's stand-in for SQS/EventBridge), an HTTP URL. Delivery is retried
// briefly and then given up and counted: Lambda too drops a record its
// destination refuses, and the event's own outcome is already recorded.
import { request } from 'undici';
import type { Destination } from '../api/function.js';
import type { EnqueueRequest, EnqueueResult } from './queue.js';
import type { DestinationRecord } from './records.js';

export interface DestinationSinks {
  appendToStream(stream: string, record: DestinationRecord): Promise<unknown>;
  enqueue(req: EnqueueRequest): Promise<EnqueueResult>;
}

export interface DeliveryOptions {
  attempts?: number;
  backoffMs?: number;
  httpTimeoutMs?: number;
}

export type DestinationType = 'function' | 'stream' | 'url';

export function destinationType(d: Destination): DestinationType {
  if (d.function !== undefined) return 'function';
  if (d.stream !== undefined) return 'stream';
  return 'url';
}

export class DestinationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DestinationError';
  }
}

async function deliverOnce(dest: Destination, record: DestinationRecord, sinks: DestinationSinks, httpTimeoutMs: number): Promise<void> {
  if (dest.function !== undefined) {
    await sinks.enqueue({ functionName: dest.function, payload: Buffer.from(JSON.stringify(record)) });
    return;
  }
  if (dest.stream !== undefined) {
    await sinks.appendToStream(dest.stream, record);
    return;
  }
  if (dest.url !== undefined) {
    const res = await request(dest.url, {
      method: 'POST',
      body: JSON.stringify(record),
      headers: { 'content-type': 'application/json' },
      headersTimeout: httpTimeoutMs,
      bodyTimeout: httpTimeoutMs,
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new DestinationError(`${dest.url} answered ${res.statusCode}`);
    return;
  }
  throw new DestinationError('destination names no function, stream or url');
}

export async function deliverRecord(dest: Destination, record: DestinationRecord, sinks: DestinationSinks, opts: DeliveryOptions = {}): Promise<void> {
  const attempts = Math.max(1, opts.attempts ?? 3);
  const backoff = opts.backoffMs ?? 200;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      await deliverOnce(dest, record, sinks, opts.httpTimeoutMs ?? 10_000);
      return;
    } catch (err) {
      last = err;
      if (i + 1 < attempts) await new Promise((r) => setTimeout(r, backoff * 2 ** i));
    }
  }
  throw new DestinationError(`could not deliver to ${destinationType(dest)} destination: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}
