// How the API server's refusals read as the store's errors. Pure.
import type { Problem } from '../api/validate.js';
import { KubeApiError } from '../kube/rest.js';
import { StoreError } from './function-store.js';

interface StatusCause {
  field?: string;
  message?: string;
}

/** The field problems of a 422 Invalid Status (details.causes), paths as the API server names them. */
export function problemsOfStatus(status: unknown): Problem[] {
  const causes = (status as { details?: { causes?: StatusCause[] } } | undefined)?.details?.causes ?? [];
  return causes.map((c) => ({ path: c.field ?? '', message: c.message ?? 'is invalid' }));
}

/**
 * 404 → not-found, 409 → conflict (it exists, or it changed meanwhile),
 * 400/422 → invalid with the API server's field paths. Anything else (the
 * API server unreachable, forbidden, a 5xx) is not the caller's doing and
 * is passed on as it is.
 */
export function storeErrorOf(err: unknown, what: string): unknown {
  if (!(err instanceof KubeApiError)) return err;
  const detail = err.status?.message ?? `HTTP ${err.statusCode}`;
  switch (err.statusCode) {
    case 404:
      return new StoreError('not-found', `${what} not found`);
    case 409:
      return new StoreError('conflict', `${what}: ${detail}`);
    case 400:
    case 422:
      return new StoreError('invalid', `${what}: ${detail}`, problemsOfStatus(err.status));
    default:
      return err;
  }
}
