// When a schedule fires next: pure arithmetic over cron-parser, shared by the
// gateways (which fire the ticks) and the controller (which shows the next
// one in the Function's status), so both always agree.
import { CronExpressionParser } from 'cron-parser';
import type { Schedule } from '../api/function.js';

export const DEFAULT_TIME_ZONE = 'UTC';

/**
 * The first tick of `schedule` strictly after `after` (epoch ms), in its time
 * zone: 5 fields (minute precision) or 6 with seconds first. Ticks are whole
 * seconds, so a time inside a second is after that second's tick.
 */
export function nextTick(schedule: Pick<Schedule, 'cron' | 'timezone'>, after: number): number {
  const it = CronExpressionParser.parse(schedule.cron, { currentDate: new Date(after), tz: schedule.timezone ?? DEFAULT_TIME_ZONE });
  return it.next().getTime();
}

/** A tick as Lambda's scheduled events write times: RFC 3339 in UTC without milliseconds. */
export function tickTime(tick: number): string {
  return new Date(tick).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ScheduleRun {
  name: string;
  /** Absent while the schedule is disabled. */
  nextRunTime?: string;
}

/** Each schedule's next tick after `now`, in the spec's order, and the earliest of them (undefined when none is enabled). */
export function nextRuns(schedules: readonly Schedule[], now: number): { runs: ScheduleRun[]; earliest: number | undefined } {
  let earliest: number | undefined;
  const runs = schedules.map((s): ScheduleRun => {
    if (!s.enabled) return { name: s.name };
    const t = nextTick(s, now);
    earliest = earliest === undefined ? t : Math.min(earliest, t);
    return { name: s.name, nextRunTime: tickTime(t) };
  });
  return { runs, earliest };
}
