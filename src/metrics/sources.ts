// hearth_event_source_* metrics: what each event-source mapping's pollers
// on this gateway did (records processed, filtered out, sent to onFailure;
// batches by outcome; how long invocations of a batch took) and how far
// behind each partition is (lag, from the source: the same on every gateway).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SourceMetrics {
  processed: Counter<'mapping' | 'function'>;
  filtered: Counter<'mapping' | 'function'>;
  failed: Counter<'mapping' | 'function' | 'condition'>;
  batches: Counter<'mapping' | 'function' | 'outcome'>;
  lag: Gauge<'mapping' | 'partition'>;
  batchDuration: Histogram<'mapping' | 'function'>;
}

export function createSourceMetrics(registry: Registry): SourceMetrics {
  const registers = [registry];
  return {
    processed: new Counter({ name: 'hearth_event_source_records_processed_total', help: 'Records of batches the function processed successfully.', labelNames: ['mapping', 'function'], registers }),
    filtered: new Counter({ name: 'hearth_event_source_records_filtered_total', help: 'Records that matched no filter pattern: committed without an invocation.', labelNames: ['mapping', 'function'], registers }),
    failed: new Counter({
      name: 'hearth_event_source_records_failed_total',
      help: 'Records given up (retries exhausted, too old, too large) and sent to onFailure, or discarded when the mapping has none.',
      labelNames: ['mapping', 'function', 'condition'],
      registers,
    }),
    batches: new Counter({
      name: 'hearth_event_source_batches_total',
      help: 'Invocations of a batch by what followed: success, retry, split (bisected) or failure (sent to onFailure).',
      labelNames: ['mapping', 'function', 'outcome'],
      registers,
    }),
    lag: new Gauge({ name: 'hearth_event_source_lag', help: 'Records not yet committed, per partition (Kafka TOPIC-N, or the Redis stream).', labelNames: ['mapping', 'partition'], registers }),
    batchDuration: new Histogram({
      name: 'hearth_event_source_batch_duration_seconds',
      help: 'How long one invocation of a batch took, waiting for an instance included.',
      labelNames: ['mapping', 'function'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    }),
  };
}
