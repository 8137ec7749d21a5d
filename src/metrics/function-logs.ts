// hearth_function_log_dropped_bytes_total: what the embedded platform's
// size-capped function logs did not keep (rotated away, or cut from overlong
// lines). Read from the logs when scraped, so the counter is exactly theirs.
import { Counter, type Registry } from 'prom-client';

export interface DroppedLogBytes {
  functionName: string;
  reason: 'rotated' | 'cut';
  bytes: number;
}

export function createFunctionLogMetrics(registry: Registry, dropped: () => Iterable<DroppedLogBytes>): Counter<'function' | 'reason'> {
  return new Counter({
    name: 'hearth_function_log_dropped_bytes_total',
    help: "Bytes of functions' stdout/stderr not kept: rotated out of the capped log files (reason=rotated) or cut from lines over the line cap (reason=cut).",
    labelNames: ['function', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dropped()) if (d.bytes > 0) this.inc({ function: d.functionName, reason: d.reason }, d.bytes);
    },
  });
}
