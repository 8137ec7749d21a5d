// Lambda's destination record: what an on-success or on-failure destination
// and the dead-letter stream receive about one asynchronous invocation.
// Pure, so its shape can be checked against Lambda's documented example.
import type { InvokeOutcome, InvokeResult } from '../agent/invocation.js';
import type { DeadLetterCondition } from './retry-policy.js';
import { functionArn } from '../api/lambda-arn.js';

export type RecordCondition = 'Success' | DeadLetterCondition;

export interface DestinationRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: RecordCondition;
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext?: {
    statusCode: number;
    executedVersion: string;
    functionError?: 'Handled' | 'Unhandled';
  };
  responsePayload?: unknown;
}

export interface RecordInput {
  requestId: string;
  /** The function's unqualified ARN. */
  functionArn: string;
  /** The version or alias the caller named; the record's ARN carries it ($LATEST when none). */
  qualifier?: string;
  condition: RecordCondition;
  /** Times the function ran for this event. */
  invokeCount: number;
  requestPayload: Buffer;
  /** The last run's outcome and payload, and the version that ran it ($LATEST when not said); absent when the function never ran. */
  response?: { outcome: InvokeOutcome; payload: Buffer; executedVersion?: string };
  now: number;
}

/** Lambda's own default ARN shape, as the dispatcher writes it. */
export function defaultFunctionArn(functionName: string): string {
  return functionArn(functionName);
}

/** Payloads are JSON in Lambda; anything else is kept as text rather than dropped. */
export function decodePayload(payload: Buffer): unknown {
  const text = payload.toString('utf8');
  if (text.length === 0) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function functionErrorOf(outcome: InvokeOutcome): 'Handled' | 'Unhandled' | undefined {
  if (outcome === 'handled') return 'Handled';
  if (outcome === 'unhandled') return 'Unhandled';
  return undefined;
}

/** The version a run executed, as the invoker reports it; an invoker that does not say ran $LATEST. */
export function executedVersionOf(result: Pick<InvokeResult, 'executedVersion'>): string {
  return result.executedVersion ?? '$LATEST';
}

export function buildDestinationRecord(input: RecordInput): DestinationRecord {
  const record: DestinationRecord = {
    version: '1.0',
    timestamp: new Date(input.now).toISOString(),
    requestContext: {
      requestId: input.requestId,
      // Lambda qualifies the ARN with what the event was invoked as: $LATEST, a version number or an alias.
      functionArn: `${input.functionArn}:${input.qualifier ?? '$LATEST'}`,
      condition: input.condition,
      approximateInvokeCount: input.invokeCount,
    },
    requestPayload: decodePayload(input.requestPayload),
  };
  if (input.response) {
    const functionError = functionErrorOf(input.response.outcome);
    // Lambda reports 200 for a run whose function failed: the invoke itself succeeded.
    record.responseContext = { statusCode: 200, executedVersion: input.response.executedVersion ?? '$LATEST', ...(functionError ? { functionError } : {}) };
    record.responsePayload = decodePayload(input.response.payload);
  }
  return record;
}
