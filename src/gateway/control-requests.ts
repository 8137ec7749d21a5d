// What the control-plane routes (versions-api.ts, functions-api.ts) share:
// the function a route names, Lambda's paging, JSON answers, and store
// errors as Lambda's.
import type { FastifyReply } from 'fastify';
import type { FunctionSpec } from '../api/function.js';
import { describeProblem } from '../control/problems.js';
import { StoreError } from '../store/function-store.js';
import type { Uploads } from '../uploads/uploads.js';
import { arnHome, foreignArnError, parseFunctionName, type ArnHome } from './invoke-request.js';
import { badParameter, LambdaError } from './lambda-errors.js';

export const MAX_ITEMS = 10_000;
export const DEFAULT_ITEMS = 50;

export type ListQuery = { Marker?: string; MaxItems?: string };

/** A StoreError as Lambda's REST error; `notFoundMessage` names the missing thing as Lambda does (by its ARN). */
export function storeToLambdaError(err: unknown, notFoundMessage?: string): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.kind) {
    case 'not-found':
      return new LambdaError(404, 'ResourceNotFoundException', notFoundMessage ?? err.message);
    case 'conflict':
      return new LambdaError(409, 'ResourceConflictException', err.message);
    case 'invalid': {
      const message = err.problems.length > 0 ? err.problems.map(describeProblem).join('; ') : err.message;
      return new LambdaError(400, 'InvalidParameterValueException', message, err.problems.length > 0 ? { Problems: err.problems } : {});
    }
    case 'precondition':
      return new LambdaError(412, 'PreconditionFailedException', err.message);
  }
}

/** A store call whose StoreError answers as Lambda's error. */
export async function viaStore<T>(work: Promise<T>, notFoundMessage?: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw storeToLambdaError(err, notFoundMessage);
  }
}

/**
 * A list answer as Lambda pages it: one page of `items` under `key`, and
 * NextMarker (the position of the next item) while more remain.
 */
export function pageAnswer(key: string, items: readonly unknown[], query: ListQuery, maxItems = MAX_ITEMS): Record<string, unknown> {
  const p = page(items, query, maxItems);
  return { [key]: p.items, ...(p.nextMarker !== undefined ? { NextMarker: p.nextMarker } : {}) };
}

/** Lambda's Marker and MaxItems over a list: the marker is the position of the next item. */
function page<T>(items: readonly T[], query: ListQuery, maxItems: number): { items: T[]; nextMarker?: string } {
  const start = query.Marker === undefined || query.Marker === '' ? 0 : Number(query.Marker);
  if (!Number.isSafeInteger(start) || start < 0) throw badParameter(`Marker ${query.Marker ?? ''} is not one this gateway gave`);
  const max = query.MaxItems === undefined || query.MaxItems === '' ? Math.min(DEFAULT_ITEMS, maxItems) : Number(query.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > maxItems) throw badParameter(`MaxItems must be an integer from 1 to ${maxItems}`);
  const end = start + max;
  return { items: items.slice(start, end), ...(end < items.length ? { nextMarker: String(end) } : {}) };
}

export function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

export const invalidBody = (detail: string) => new LambdaError(400, 'InvalidRequestContentException', `Could not parse request body into json: ${detail}`);

export interface NamedFunction {
  name: string;
  /** The function's unqualified ARN. */
  arn: string;
  qualifier?: string;
}

/**
 * The function a route names: a name, NAME:QUALIFIER or an ARN of this
 * gateway's region and account. `refuse`: a qualifier in the name is 400.
 */
export function namedFunction(raw: string, home: ArnHome, arnOf: (name: string) => string, caller: string | undefined, qualifier: 'refuse' | 'allow' = 'refuse'): NamedFunction {
  const ref = parseFunctionName(raw);
  const foreign = foreignArnError(ref, home, raw, caller);
  if (foreign) throw foreign;
  if (ref.qualifier !== undefined && qualifier === 'refuse') throw badParameter(`${raw}: this operation takes an unqualified function name`);
  return { name: ref.name, arn: arnOf(ref.name), ...(ref.qualifier !== undefined ? { qualifier: ref.qualifier } : {}) };
}

export { arnHome };

/** 412 for a RevisionId that is not the function's current one. */
export const staleRevision = (arn: string) =>
  new LambdaError(412, 'PreconditionFailedException', `The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id (${arn})`);

export const nameParam = { name: { type: 'string', description: 'Function name or ARN' } };
export const listQuery = {
  type: 'object',
  properties: {
    Marker: { type: 'string', description: 'Where the previous page ended (NextMarker)' },
    MaxItems: { type: 'string', description: `At most this many (1-${MAX_ITEMS}, default ${DEFAULT_ITEMS})` },
  },
};

/**
 * Lambda's CodeSize of code that is an uploaded package: its bytes, asked of
 * the uploads by the package's digest (a version's copy of an upload holds
 * the same bytes). Undefined for code the uploads do not hold: inline code
 * (whose size the spec holds), images, and packages named by hand.
 */
export async function uploadedSize(uploads: Pick<Uploads, 'size'> | undefined, spec: Pick<FunctionSpec, 'code'>): Promise<number | undefined> {
  const sha = spec.code.package?.sha256;
  return sha !== undefined && uploads !== undefined ? uploads.size(sha) : undefined;
}
