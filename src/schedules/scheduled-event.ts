// The event a schedule's tick sends: Lambda's "Scheduled Event" as
// EventBridge delivers it, or the schedule's own payload (EventBridge's
// constant input) when one is given. Pure: the caller supplies the event id.
import type { Schedule } from '../api/function.js';
import { tickTime } from './next-tick.js';

export interface ScheduledEventContext {
  functionName: string;
  schedule: Pick<Schedule, 'name' | 'payload'>;
  /** The tick (epoch ms), not the moment it was sent. */
  tick: number;
  region: string;
  accountId: string;
  /** A fresh UUID per event. */
  id: string;
}

export interface ScheduledEvent {
  version: '0';
  id: string;
  'detail-type': 'Scheduled Event';
  source: 'aws.events';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, never>;
}

/** The rule's ARN: EventBridge names the rule that fired; here a rule is a function's schedule. */
export function ruleArn(c: Pick<ScheduledEventContext, 'functionName' | 'schedule' | 'region' | 'accountId'>): string {
  return `arn:aws:events:${c.region}:${c.accountId}:rule/${c.functionName}-${c.schedule.name}`;
}

export function scheduledEvent(c: ScheduledEventContext): ScheduledEvent {
  return {
    version: '0',
    id: c.id,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: c.accountId,
    time: tickTime(c.tick),
    region: c.region,
    resources: [ruleArn(c)],
    detail: {},
  };
}

/** The bytes enqueued for a tick: the payload exactly as given, else the scheduled event. YAML's empty value (null) counts as none. */
export function tickPayload(c: ScheduledEventContext): Buffer {
  const given = c.schedule.payload;
  return Buffer.from(JSON.stringify(given !== undefined && given !== null ? given : scheduledEvent(c)));
}

/** Region and account of a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), where the gateway sets them. */
export function regionAndAccount(functionArn: string): { region: string; accountId: string } {
  const parts = functionArn.split(':');
  if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'lambda') throw new Error(`not a Lambda function ARN: ${functionArn}`);
  return { region: parts[3] ?? '', accountId: parts[4] ?? '' };
}
