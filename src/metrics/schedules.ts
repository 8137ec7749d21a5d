// hearth_schedule_* metrics: ticks this gateway sent, and ticks it let pass.
// A tick another replica sent first counts there, not here, so the sum over
// the replicas is the number of scheduled invocations.
import { Counter, type Registry } from 'prom-client';

export interface ScheduleMetrics {
  invocations: Counter<'function' | 'schedule'>;
  missed: Counter<'function' | 'schedule'>;
}

export function createScheduleMetrics(registry: Registry): ScheduleMetrics {
  const registers = [registry];
  return {
    invocations: new Counter({ name: 'hearth_schedule_invocations_total', help: 'Scheduled ticks this gateway enqueued (once per tick across replicas).', labelNames: ['function', 'schedule'], registers }),
    missed: new Counter({
      name: 'hearth_schedule_missed_total',
      help: 'Ticks not sent: found too late (a stalled process) or the queue unreachable until then.',
      labelNames: ['function', 'schedule'],
      registers,
    }),
  };
}
