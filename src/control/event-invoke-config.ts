// Lambda's FunctionEventInvokeConfig ↔ spec.async. Hearth keeps one async
// configuration per function (not per version or alias). A destination is
// a function ARN of this gateway ({function: NAME}); Hearth's other
// destinations (a Redis stream, an HTTP URL) have no ARN and are shown by
// none: UpdateFunctionEventInvokeConfig keeps them unless it names that
// destination, PutFunctionEventInvokeConfig replaces everything (Lambda's
// meaning of Put).
// "No config" is the default configuration: Get answers 404 then, as Lambda
// does for a function without one. Pure.
import { LIMITS, type AsyncConfig, type Destination, type FunctionSpecInput } from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { optionalInteger, optionalObject, optionalString, type Body } from './body-fields.js';
import { epochSeconds } from './revision.js';

type AsyncInput = NonNullable<FunctionSpecInput['async']>;
type DestinationInput = Destination;

export interface EventInvokeFields {
  maxRetries?: number;
  maxEventAgeSeconds?: number;
  /** Present when DestinationConfig.OnSuccess/OnFailure was given: the function named, or null to remove it. */
  onSuccess?: DestinationInput | null;
  onFailure?: DestinationInput | null;
}

/** Reads a destination ARN: a function of this gateway (`functionArn(NAME)` is its unqualified ARN). */
export function destinationOf(arn: string, field: string, isOwnFunctionArn: (arn: string) => string | undefined): DestinationInput | null {
  if (arn === '') return null;
  const name = isOwnFunctionArn(arn);
  if (name === undefined) {
    throw badParameter(`${field}: ${arn} is not a destination Hearth can send to: name a function of this gateway by its ARN (SQS, SNS, EventBridge and S3 destinations are not supported)`);
  }
  return { function: name };
}

export function readEventInvokeConfig(body: Body, isOwnFunctionArn: (arn: string) => string | undefined): EventInvokeFields {
  const out: EventInvokeFields = {};
  const retries = optionalInteger(body, 'MaximumRetryAttempts', LIMITS.maxRetries.min, LIMITS.maxRetries.max);
  if (retries !== undefined) out.maxRetries = retries;
  const age = optionalInteger(body, 'MaximumEventAgeInSeconds', LIMITS.maxEventAgeSeconds.min, LIMITS.maxEventAgeSeconds.max);
  if (age !== undefined) out.maxEventAgeSeconds = age;
  const dest = optionalObject(body, 'DestinationConfig');
  if (dest !== undefined) {
    for (const which of ['OnSuccess', 'OnFailure'] as const) {
      const d = optionalObject(dest, which);
      if (d === undefined) continue;
      const arn = optionalString(d, 'Destination', 350) ?? '';
      const key = which === 'OnSuccess' ? 'onSuccess' : 'onFailure';
      out[key] = destinationOf(arn, `DestinationConfig.${which}.Destination`, isOwnFunctionArn);
    }
  }
  return out;
}

/**
 * PutFunctionEventInvokeConfig (`replace`: what the body leaves out returns
 * to its default, destinations with no ARN included) or
 * UpdateFunctionEventInvokeConfig (`merge`: what it leaves out stays). The
 * dead-letter stream setting is Hearth's own and is kept either way.
 */
export function applyEventInvokeConfig(spec: FunctionSpecInput, f: EventInvokeFields, mode: 'replace' | 'merge'): FunctionSpecInput {
  const current: AsyncInput = spec.async ?? {};
  const next: AsyncInput = mode === 'merge' ? { ...current } : current.deadLetterQueue !== undefined ? { deadLetterQueue: current.deadLetterQueue } : {};
  if (f.maxRetries !== undefined) next.maxRetries = f.maxRetries;
  if (f.maxEventAgeSeconds !== undefined) next.maxEventAgeSeconds = f.maxEventAgeSeconds;
  for (const key of ['onSuccess', 'onFailure'] as const) {
    const d = f[key];
    if (d === undefined) continue;
    if (d === null) delete next[key];
    else next[key] = d;
  }
  const { async: _async, ...rest } = spec;
  return Object.keys(next).length > 0 ? { ...rest, async: next } : rest;
}

/** DeleteFunctionEventInvokeConfig: every setting back to its default, the dead-letter stream setting kept. */
export function withoutEventInvokeConfig(spec: FunctionSpecInput): FunctionSpecInput {
  return applyEventInvokeConfig(spec, {}, 'replace');
}

/** Whether the function's async settings differ from the defaults, i.e. whether it "has" an EventInvokeConfig. */
export function hasEventInvokeConfig(a: AsyncConfig): boolean {
  return a.maxRetries !== LIMITS.maxRetries.default || a.maxEventAgeSeconds !== LIMITS.maxEventAgeSeconds.default || a.onSuccess !== undefined || a.onFailure !== undefined;
}

/** Lambda's FunctionEventInvokeConfig of a function ($LATEST's ARN, as Hearth keeps one per function). */
export function eventInvokeConfig(functionArn: string, a: AsyncConfig, lastModified: string | undefined, arnOf: (name: string) => string): Record<string, unknown> {
  const dest = (d: Destination | undefined) => (d?.function !== undefined ? { Destination: arnOf(d.function) } : {});
  const modified = epochSeconds(lastModified);
  return {
    ...(modified !== undefined ? { LastModified: modified } : {}),
    FunctionArn: `${functionArn}:$LATEST`,
    MaximumRetryAttempts: a.maxRetries,
    MaximumEventAgeInSeconds: a.maxEventAgeSeconds,
    DestinationConfig: { OnSuccess: dest(a.onSuccess), OnFailure: dest(a.onFailure) },
  };
}
