// Delivery of a stream mapping's failure records to its onFailure
// destination: a function (an async invocation through the queue), a Redis
// stream (XADD, field `record`, as the queue's stream destinations), a Kafka
// topic of the source's cluster (the Kafka connector's producer), or a URL
// (POST JSON). Unlike the async queue's destinations, a send that fails is
// retried until it is delivered: the partition commits the records only
// after that, so a destination that is down holds the partition back and
// nothing is lost.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Queue } from '../queue/queue.js';
import type { KafkaDestinationMessage } from './failure-record.js';
import type { OnFailureTarget } from './on-failure-destination.js';
import { sleep } from './abortable-wait.js';

/** What a Kafka connector offers for kafka:// destinations (a key keeps the record's partitioning). */
export interface KafkaProducer {
  produce(topic: string, value: Buffer, key?: Buffer | null): Promise<void>;
}

export interface FailureSendersOptions {
  queue: Pick<Queue, 'enqueue'>;
  /** The Redis a redis-stream:// destination is written to (the source's, or the platform's); none: such a send fails (and is retried). */
  redis?: () => Redis | undefined;
  kafka?: () => KafkaProducer | undefined;
  logger?: Logger;
  httpTimeoutMs?: number;
  /** Backoff between failed sends: from firstBackoffMs doubling up to maxBackoffMs. */
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

export class FailureSendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FailureSendError';
  }
}

export class FailureSenders {
  constructor(private readonly opts: FailureSendersOptions) {}

  /** One attempt. */
  async sendOnce(target: OnFailureTarget, record: Record<string, unknown>): Promise<void> {
    const body = Buffer.from(JSON.stringify(record));
    switch (target.kind) {
      case 'function':
        await this.opts.queue.enqueue({ functionName: target.functionName, ...(target.qualifier !== undefined ? { qualifier: target.qualifier } : {}), payload: body });
        return;
      case 'redis-stream': {
        const redis = this.opts.redis?.();
        if (!redis) throw new FailureSendError(`no Redis to write redis-stream://${target.key} to`);
        await redis.xadd(target.key, '*', 'record', body.toString());
        return;
      }
      case 'kafka-topic': {
        const kafka = this.opts.kafka?.();
        if (!kafka) throw new FailureSendError(`kafka://${target.topic} needs a Kafka mapping (its cluster's producer)`);
        await kafka.produce(target.topic, body);
        return;
      }
      case 'url': {
        const timeout = this.opts.httpTimeoutMs ?? 10_000;
        const res = await request(target.url, { method: 'POST', body, headers: { 'content-type': 'application/json' }, headersTimeout: timeout, bodyTimeout: timeout });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode >= 300) throw new FailureSendError(`${target.url} answered ${res.statusCode}`);
        return;
      }
    }
  }

  /** Sends until delivered; rejects only when the signal aborts (then the records stay uncommitted and are read again). */
  send(target: OnFailureTarget, record: Record<string, unknown>, signal: AbortSignal, onError?: (message: string) => void): Promise<void> {
    return this.#untilDelivered(target, () => this.sendOnce(target, record), signal, onError);
  }

  /** Lambda's per-record messages for a kafka:// destination (failure-record.ts's kafkaDestinationMessages), each produced with its record's key until delivered, in order. */
  async sendKafkaMessages(target: Extract<OnFailureTarget, { kind: 'kafka-topic' }>, messages: readonly KafkaDestinationMessage[], signal: AbortSignal, onError?: (message: string) => void): Promise<void> {
    for (const m of messages) {
      await this.#untilDelivered(
        target,
        async () => {
          const kafka = this.opts.kafka?.();
          if (!kafka) throw new FailureSendError(`kafka://${target.topic} needs a Kafka mapping (its cluster's producer)`);
          await kafka.produce(target.topic, m.value, m.key);
        },
        signal,
        onError,
      );
    }
  }

  async #untilDelivered(target: OnFailureTarget, once: () => Promise<void>, signal: AbortSignal, onError?: (message: string) => void): Promise<void> {
    const first = this.opts.firstBackoffMs ?? 200;
    const max = this.opts.maxBackoffMs ?? 10_000;
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        await once();
        return;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const message = `sending the failure record to ${describeTarget(target)} failed: ${err instanceof Error ? err.message : String(err)}`;
        this.opts.logger?.warn({ err, attempt: attempt + 1 }, `${message}; retrying (the partition waits for it)`);
        onError?.(message);
        await sleep(Math.min(max, first * 2 ** attempt), signal);
      }
    }
  }
}

export function describeTarget(t: OnFailureTarget): string {
  switch (t.kind) {
    case 'function':
      return `function ${t.functionName}${t.qualifier !== undefined ? `:${t.qualifier}` : ''}`;
    case 'redis-stream':
      return `redis-stream://${t.key}`;
    case 'kafka-topic':
      return `kafka://${t.topic}`;
    case 'url':
      return t.url;
  }
}
