import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isValidTimeZone, ScheduleSchema, type Schedule } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';
import { loadFunctionDir } from '../../src/platform/function-files.js';
import { nextRuns, nextTick, tickTime } from '../../src/schedules/next-tick.js';

const at = (iso: string): number => Date.parse(iso);
/** The first n ticks after `from`, each strictly after the one before. */
function ticks(cron: string, timezone: string | undefined, from: string, n: number): string[] {
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) out.push(tickTime((t = nextTick({ cron, ...(timezone ? { timezone } : {}) }, t))));
  return out;
}

describe('nextTick', () => {
  it.each([
    // Local 09:00 stays 09:00 across the changes: UTC+1 before the spring change, UTC+2 after, UTC+1 again in autumn.
    ['0 9 * * * in Berlin across the spring change', '0 9 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', ['2026-03-28T08:00:00Z', '2026-03-29T07:00:00Z', '2026-03-30T07:00:00Z']],
    ['0 9 * * * in Berlin across the autumn change', '0 9 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', ['2026-10-24T07:00:00Z', '2026-10-25T08:00:00Z', '2026-10-26T08:00:00Z']],
    ['0 9 * * * in New York across its spring change', '0 9 * * *', 'America/New_York', '2026-03-07T00:00:00Z', ['2026-03-07T14:00:00Z', '2026-03-08T13:00:00Z']],
    // 02:30 does not exist on the spring day: it runs at 03:30 local, as cron does; on the autumn day it exists twice and runs once.
    ['a local time skipped in spring runs an hour later', '30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', ['2026-03-28T01:30:00Z', '2026-03-29T01:30:00Z', '2026-03-30T00:30:00Z']],
    ['a local time repeated in autumn runs once', '30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']],
    ['a half-hour zone', '0 0 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z', ['2026-01-01T18:30:00Z', '2026-01-02T18:30:00Z']],
    ['UTC when no zone is given', '0 9 * * *', undefined, '2026-03-27T12:00:00Z', ['2026-03-28T09:00:00Z', '2026-03-29T09:00:00Z']],
    ['six fields: every 2 seconds', '*/2 * * * * *', undefined, '2026-01-01T00:00:00.500Z', ['2026-01-01T00:00:02Z', '2026-01-01T00:00:04Z', '2026-01-01T00:00:06Z']],
    ['six fields: second 30 of each minute', '30 * * * * *', 'Europe/Berlin', '2026-01-01T00:00:31Z', ['2026-01-01T00:01:30Z', '2026-01-01T00:02:30Z']],
    ['six fields: 09:00:15 on weekdays', '15 0 9 * * 1-5', 'Europe/Berlin', '2026-01-02T12:00:00Z', ['2026-01-05T08:00:15Z', '2026-01-06T08:00:15Z']],
    ['five fields tick on whole minutes', '* * * * *', undefined, '2026-01-01T00:00:30Z', ['2026-01-01T00:01:00Z', '2026-01-01T00:02:00Z']],
  ])('%s', (_what, cron, tz, from, want) => {
    expect(ticks(cron, tz, from, want.length)).toEqual(want);
  });

  it.each([
    ['exactly on a tick: the next one', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:04Z'],
    ['a millisecond before a tick: that tick', '2026-01-01T00:00:01.999Z', '2026-01-01T00:00:02Z'],
    ['inside a tick\'s second: the next one', '2026-01-01T00:00:02.001Z', '2026-01-01T00:00:04Z'],
  ])('is strictly after: %s', (_what, from, want) => {
    expect(tickTime(nextTick({ cron: '*/2 * * * * *' }, at(from)))).toBe(want);
  });
});

describe('nextRuns', () => {
  const s = (name: string, cron: string, enabled = true): Schedule => ScheduleSchema.parse({ name, cron, enabled });
  it('lists every schedule, with a next run time only when enabled, and the earliest', () => {
    const r = nextRuns([s('hourly', '0 * * * *'), s('paused', '* * * * * *', false), s('minutely', '* * * * *')], at('2026-01-01T10:20:30Z'));
    expect(r.runs).toEqual([{ name: 'hourly', nextRunTime: '2026-01-01T11:00:00Z' }, { name: 'paused' }, { name: 'minutely', nextRunTime: '2026-01-01T10:21:00Z' }]);
    expect(r.earliest).toBe(at('2026-01-01T10:21:00Z'));
    expect(nextRuns([s('paused', '* * * * *', false)], 0).earliest).toBeUndefined();
  });
});

describe('schedule validation', () => {
  it.each([
    ['UTC', true], ['Europe/Berlin', true], ['America/Argentina/Buenos_Aires', true], ['US/Eastern', true], ['Etc/GMT+1', true],
    ['Not/A_Zone', false], ['', false], ['+01:00', false], ['Europe/Berlin ', false], ['../etc/passwd', false],
  ])('time zone %j valid: %s', (tz, ok) => {
    expect(isValidTimeZone(tz)).toBe(ok);
  });

  const fn = (schedules: unknown[]) => ({
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' },
    spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, schedules },
  });

  it.each([
    ['an unknown time zone', [{ name: 'a', cron: '* * * * *', timezone: 'Not/A_Zone' }], 'spec.schedules[0].timezone', 'is not a valid IANA time zone'],
    ['a bad cron expression', [{ name: 'a', cron: '61 * * * *' }], 'spec.schedules[0].cron', 'is not a valid cron expression'],
    ['seven fields', [{ name: 'a', cron: '* * * * * * *' }], 'spec.schedules[0].cron', 'is not a valid cron expression'],
    ['two schedules of one name', [{ name: 'a', cron: '* * * * *' }, { name: 'a', cron: '0 * * * *' }], 'spec.schedules', 'schedule names must be unique'],
  ])('refuses %s, naming the field', (_what, schedules, path, message) => {
    const r = validateFunction(fn(schedules));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toContainEqual({ path, message: expect.stringContaining(message) });
  });

  it('a functions directory leaves out a Function with an unknown zone, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-tz-'));
    writeFileSync(join(dir, 'f.yaml'), stringify(fn([{ name: 'a', cron: '0 9 * * *', timezone: 'Not/A_Zone' }])));
    const report = await loadFunctionDir(dir);
    expect(report.functions).toEqual([]);
    expect(report.problems[0]?.problems).toContainEqual({ path: 'spec.schedules[0].timezone', message: expect.stringContaining('is not a valid IANA time zone') });
  });

  it('takes a valid zone and fills enabled', () => {
    const r = validateFunction(fn([{ name: 'a', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' }]));
    expect(r.ok && r.value.spec.schedules).toEqual([{ name: 'a', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', enabled: true }]);
  });
});
