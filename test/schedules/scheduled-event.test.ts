import { describe, expect, it } from 'vitest';
import { regionAndAccount, scheduledEvent, tickPayload } from '../../src/schedules/scheduled-event.js';

const base = { functionName: 'report', tick: Date.parse('2026-12-06T10:00:00Z'), region: 'us-east-1', accountId: '000000000000', id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718' };

describe('the scheduled event', () => {
  it('has EventBridge\'s shape for a scheduled rule', () => {
    expect(scheduledEvent({ ...base, schedule: { name: 'nightly' } })).toEqual({
      version: '0',
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2026-12-06T10:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/report-nightly'],
      detail: {},
    });
  });

  it.each([
    ['no payload: the scheduled event', undefined, (e: Record<string, unknown>) => expect(e['detail-type']).toBe('Scheduled Event')],
    ['YAML\'s empty value: the scheduled event', null, (e: Record<string, unknown>) => expect(e.source).toBe('aws.events')],
    ['an object payload, exactly', { job: 'cleanup', days: 7 }, (e: Record<string, unknown>) => expect(e).toEqual({ job: 'cleanup', days: 7 })],
    ['an empty object, exactly', {}, (e: Record<string, unknown>) => expect(e).toEqual({})],
  ])('payload: %s', (_what, payload, check) => {
    const bytes = tickPayload({ ...base, schedule: { name: 'nightly', payload } });
    check(JSON.parse(bytes.toString('utf8')) as Record<string, unknown>);
  });

  it.each([
    ['arn:aws:lambda:us-east-1:000000000000:function:report', { region: 'us-east-1', accountId: '000000000000' }],
    ['arn:aws:lambda:eu-central-1:123456789012:function:f', { region: 'eu-central-1', accountId: '123456789012' }],
  ])('region and account of %s', (arn, want) => {
    expect(regionAndAccount(arn)).toEqual(want);
  });
  it('refuses what is not a function ARN', () => {
    expect(() => regionAndAccount('report')).toThrow(/not a Lambda function ARN/);
  });
});
