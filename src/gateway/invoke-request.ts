// Parsing of the Invoke API's path and headers into what the dispatcher
// needs. Pure: every rule here is unit-tested.
import { isUtf8 } from 'node:buffer';
import type { HearthFunction } from '../api/function.js';
import { resolveTarget, type Target } from '../versions/routing.js';
import { badContent, badParameter, LambdaError, notFound } from './lambda-errors.js';

export type InvocationTypeHeader = 'RequestResponse' | 'Event' | 'DryRun';

const FUNCTION_NAME = /^[a-zA-Z0-9-_]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9-_]{1,128})$/;
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] or ACCOUNT:function:NAME[:QUALIFIER]
const ARN = /^(?:arn:(aws[a-zA-Z-]*):lambda:([a-z0-9-]*):)?(?:(\d{12}):)?function:([a-zA-Z0-9-_]{1,64})(?::([^:]+))?$/;

export interface FunctionRef {
  name: string;
  qualifier?: string;
  /** Present when the caller named the function by a full ARN. */
  partition?: string;
  region?: string;
  /** Present when the caller named the function by a full or partial ARN holding an account. */
  accountId?: string;
}

/** Lambda accepts a name, name:qualifier, a full ARN or a partial ARN. */
export function parseFunctionName(raw: string): FunctionRef {
  // Most calls name a bare function: no colon, so no ARN to try (an ARN holds "function:").
  if (FUNCTION_NAME.test(raw)) return { name: raw };
  const arn = ARN.exec(raw);
  if (arn) {
    const [, partition, region, accountId, name, qualifier] = arn;
    return {
      name: name as string,
      ...(qualifier ? { qualifier } : {}),
      ...(partition !== undefined ? { partition } : {}),
      ...(region !== undefined ? { region } : {}),
      ...(accountId !== undefined ? { accountId } : {}),
    };
  }
  const [name, qualifier, ...rest] = raw.split(':');
  if (rest.length > 0 || name === undefined || !FUNCTION_NAME.test(name)) {
    throw badParameter(`1 validation error detected: Value '${raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern`);
  }
  return qualifier === undefined ? { name } : { name, qualifier };
}

export function resolveQualifier(fromName: string | undefined, fromQuery: string | undefined): string | undefined {
  if (fromName !== undefined && fromQuery !== undefined && fromName !== fromQuery) {
    throw badParameter('The derived qualifier from the function name does not match the specified qualifier.');
  }
  const q = fromName ?? fromQuery;
  if (q !== undefined && !QUALIFIER.test(q)) throw badParameter(`Invalid qualifier: ${q}`);
  return q;
}

/** The ARN a call was made to, as Lambda names it in errors: qualified with what the caller named. */
export function qualifiedArn(functionArn: string, qualifier: string | undefined): string {
  return qualifier === undefined ? functionArn : `${functionArn}:${qualifier}`;
}

/**
 * Whether a qualifier names something that can run, for a call that is not
 * run now (an Event is queued, a DryRun only checked): the dispatcher
 * resolves it again, per call, when the event runs. An alias resolves when
 * either of its versions can take a call: the draws of 0 and just below 1 are
 * its additional and its main version (or the main one twice without weights).
 */
export function qualifierResolves(fn: HearthFunction, published: ReadonlySet<string>, qualifier: string | undefined): Target {
  const first = resolveTarget(fn, published, qualifier, 0);
  if (first.ok || first.reason === 'unknown-qualifier') return first;
  const other = resolveTarget(fn, published, qualifier, 1 - Number.EPSILON);
  return other.ok ? other : first;
}

export function parseInvocationType(raw: string | undefined): InvocationTypeHeader {
  if (raw === undefined || raw === '') return 'RequestResponse';
  if (raw === 'RequestResponse' || raw === 'Event' || raw === 'DryRun') return raw;
  throw badParameter(`1 validation error detected: Value '${raw}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`);
}

export function parseLogType(raw: string | undefined): 'None' | 'Tail' {
  if (raw === undefined || raw === '' || raw === 'None') return 'None';
  if (raw === 'Tail') return 'Tail';
  throw badParameter(`1 validation error detected: Value '${raw}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]`);
}

/** X-Amz-Client-Context is base64 of a JSON object; the runtime receives the JSON text. */
export function decodeClientContext(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw badParameter('Client context must be a valid Base64-encoded JSON object.');
  }
  if (Buffer.byteLength(raw) > 3583) throw badParameter('Client context must be at most 3583 bytes.');
  return text;
}

/** Where this gateway's functions live: the partition, region and account of the ARNs it gives them. */
export interface ArnHome {
  partition: string;
  region: string;
  accountId: string;
}

/** The home of a Lambda function ARN (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME). */
export function arnHome(functionArn: string): ArnHome {
  const [, partition = '', , region = '', accountId = ''] = functionArn.split(':');
  return { partition, region, accountId };
}

/**
 * An ARN naming another region (or partition) or another account is not
 * this gateway's to serve, as Lambda serves only its own region: another
 * region is 404 "Functions from 'R' are not reachable in this region", and
 * another account is 403, as a function without a policy letting this
 * caller in (Hearth has no cross-account policies).
 */
export function foreignArnError(ref: FunctionRef, home: ArnHome, raw: string, caller: string | undefined): LambdaError | undefined {
  if ((ref.region !== undefined && ref.region !== home.region) || (ref.partition !== undefined && ref.partition !== home.partition)) {
    const err = notFound(raw);
    return new LambdaError(err.status, err.type, `Functions from '${ref.region ?? ''}' are not reachable in this region ('${home.region}')`);
  }
  if (ref.accountId !== undefined && ref.accountId !== home.accountId) {
    return new LambdaError(403, 'AccessDeniedException', `Caller ${caller ?? 'anonymous'} is not authorized to perform: lambda:InvokeFunction on resource: ${raw} because no resource-based policy allows the lambda:InvokeFunction action`);
  }
  return undefined;
}

/**
 * Throws Lambda's InvalidRequestContentException for an Invoke body that is
 * not UTF-8 JSON. Decoding would replace bad bytes and pass; the runtime would
 * then fail to unmarshal what the caller sent.
 */
export function checkEventBody(body: Buffer): void {
  const badBytes = notUtf8(body);
  if (badBytes !== undefined) throw badContent(badBytes);
  try {
    JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badContent((err as Error).message);
  }
}

/** Why a body is not UTF-8 (its first bad byte), or undefined when it is. Lambda refuses such bodies before running anything. */
export function notUtf8(body: Buffer): string | undefined {
  if (isUtf8(body)) return undefined;
  for (let i = 0; i < body.length; ) {
    const b = body[i] as number;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return `Invalid UTF-8 start byte 0x${b.toString(16).padStart(2, '0')} at byte ${i}`;
    for (let k = 1; k <= need; k++) {
      const c = body[i + k];
      if (c === undefined) return `Invalid UTF-8: the body ends inside a character at byte ${i}`;
      // The second byte's range is narrower after E0, ED, F0 and F4 (no overlongs, surrogates or code points past U+10FFFF).
      const lo = k === 1 && b === 0xe0 ? 0xa0 : k === 1 && b === 0xf0 ? 0x90 : 0x80;
      const hi = k === 1 && b === 0xed ? 0x9f : k === 1 && b === 0xf4 ? 0x8f : 0xbf;
      if (c < lo || c > hi) return `Invalid UTF-8 middle byte 0x${c.toString(16).padStart(2, '0')} at byte ${i + k}`;
    }
    i += need + 1;
  }
  return 'Invalid UTF-8';
}
