// hearth_queue_* metrics: what an operator watches to know whether async
// invocations keep up (backlog, lag, oldest age) and where they fail
// (retries, dead letters, destination deliveries).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MemoryQueueStats } from '../queue/queue.js';

export interface QueueMetrics {
  enqueued: Counter<'function'>;
  deduplicated: Counter<'function'>;
  processed: Counter<'function' | 'outcome'>;
  retries: Counter<'function' | 'kind'>;
  deadLettered: Counter<'function' | 'condition'>;
  destinationFailures: Counter<'function' | 'destination' | 'condition'>;
  reclaimed: Counter<'function'>;
  pending: Gauge<'function'>;
  lag: Gauge<'function'>;
  delayed: Gauge<'function'>;
  deadLetterBacklog: Gauge<'function'>;
  oldestAgeSeconds: Gauge<'function'>;
}

export function createQueueMetrics(registry: Registry): QueueMetrics {
  const registers = [registry];
  return {
    enqueued: new Counter({ name: 'hearth_queue_enqueued_total', help: 'Async events accepted.', labelNames: ['function'], registers }),
    deduplicated: new Counter({ name: 'hearth_queue_deduplicated_total', help: 'Enqueues answered with an earlier request id because of an idempotency key.', labelNames: ['function'], registers }),
    processed: new Counter({
      name: 'hearth_queue_processed_total',
      help: 'Async events finished, by outcome (succeeded, failed, dead-lettered).',
      labelNames: ['function', 'outcome'],
      registers,
    }),
    retries: new Counter({ name: 'hearth_queue_retries_total', help: 'Retries scheduled, by kind (function error or system error/throttle).', labelNames: ['function', 'kind'], registers }),
    deadLettered: new Counter({ name: 'hearth_queue_dead_lettered_total', help: 'Events given up, by condition (RetriesExhausted, EventAgeExceeded).', labelNames: ['function', 'condition'], registers }),
    destinationFailures: new Counter({
      name: 'hearth_queue_destination_failures_total',
      help: 'Destination records that could not be delivered, by destination type and condition.',
      labelNames: ['function', 'destination', 'condition'],
      registers,
    }),
    reclaimed: new Counter({ name: 'hearth_queue_reclaimed_total', help: 'Entries taken over from a consumer that stopped acknowledging.', labelNames: ['function'], registers }),
    pending: new Gauge({ name: 'hearth_queue_pending', help: 'Events delivered to a consumer and not yet finished.', labelNames: ['function'], registers }),
    lag: new Gauge({ name: 'hearth_queue_lag', help: 'Events accepted and not yet delivered to any consumer.', labelNames: ['function'], registers }),
    delayed: new Gauge({ name: 'hearth_queue_delayed', help: 'Events waiting for a retry.', labelNames: ['function'], registers }),
    deadLetterBacklog: new Gauge({ name: 'hearth_queue_dead_letters', help: 'Events in the dead-letter stream.', labelNames: ['function'], registers }),
    oldestAgeSeconds: new Gauge({ name: 'hearth_queue_oldest_event_age_seconds', help: 'Age of the oldest event waiting in the stream.', labelNames: ['function'], registers }),
  };
}

/** hearth_queue_memory_*: the in-memory queue (embedded default) against its bounds, read when scraped. */
export function createMemoryQueueMetrics(registry: Registry, stats: () => MemoryQueueStats | undefined): void {
  const registers = [registry];
  new Gauge({
    name: 'hearth_queue_memory_bytes',
    help: 'Bytes of async events, invocation records (results) and dead letters the in-memory queue holds.',
    registers,
    collect() {
      this.set(stats()?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'hearth_queue_memory_limit_bytes',
    help: 'The in-memory queue bound on bytes held (--queue-max-bytes).',
    registers,
    collect() {
      this.set(stats()?.bounds.maxBytes ?? 0);
    },
  });
  new Gauge({
    name: 'hearth_queue_memory_records',
    help: 'Invocation records the in-memory queue holds (bound: --queue-max-records).',
    registers,
    collect() {
      this.set(stats()?.records ?? 0);
    },
  });
  new Counter({
    name: 'hearth_queue_memory_evictions_total',
    help: 'Finished invocation records (kind=record) and dead letters (kind=dead-letter) evicted, oldest first, to keep the in-memory queue within its bounds.',
    labelNames: ['kind'],
    registers,
    collect() {
      const s = stats();
      this.reset();
      if (!s) return;
      for (const kind of ['record', 'dead-letter'] as const) if (s.evicted[kind] > 0) this.inc({ kind }, s.evicted[kind]);
    },
  });
  new Counter({
    name: 'hearth_queue_memory_refused_total',
    help: 'Async invocations refused (429) because events not yet finished filled the in-memory queue.',
    registers,
    collect() {
      const s = stats();
      this.reset();
      if (s && s.refused > 0) this.inc(s.refused);
    },
  });
}
