// Parsing of the Invoke API's path and headers into what the dispatcher
// needs. Pure: every rule here is unit-tested.
import { badParameter } from './lambda-errors.js';

export type InvocationTypeHeader = 'RequestResponse' | 'Event' | 'DryRun';

const FUNCTION_NAME = /^[a-zA-Z0-9-_]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9-_]{1,128})$/;
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] or ACCOUNT:function:NAME[:QUALIFIER]
const ARN = /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]*:)?(?:\d{12}:)?function:([a-zA-Z0-9-_]{1,64})(?::([^:]+))?$/;

/** Lambda accepts a name, name:qualifier, a full ARN or a partial ARN. */
export function parseFunctionName(raw: string): { name: string; qualifier?: string } {
  const arn = ARN.exec(raw);
  if (arn) return arn[2] ? { name: arn[1] as string, qualifier: arn[2] } : { name: arn[1] as string };
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
