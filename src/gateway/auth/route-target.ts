// What a request touches, for authorisation: a function named in its route,
// an async invocation record (whose function is looked up), an open
// operations route, or nothing in particular. Pure.
import { functionUrlTarget } from '../function-url-target.js';
import { parseFunctionName } from '../invoke-request.js';

export type RouteTarget =
  | { kind: 'open' }
  | { kind: 'function'; name: string }
  | { kind: 'record'; requestId: string }
  /** Authenticated callers only, whatever they are allowed to invoke (unknown routes answer 404 after this). */
  | { kind: 'any-caller' };

/** Routes anyone may call, authenticated or not. */
export const DEFAULT_OPEN_ROUTES: readonly string[] = ['/healthz', '/readyz', '/metrics', '/openapi.json'];
/** Liveness and readiness are always open: kubelet probes carry no credentials. */
export const ALWAYS_OPEN_ROUTES: readonly string[] = ['/healthz', '/readyz'];

export function routeTarget(route: string | undefined, params: Record<string, string | undefined>, openRoutes: readonly string[]): RouteTarget {
  if (route !== undefined && (openRoutes.includes(route) || ALWAYS_OPEN_ROUTES.includes(route))) return { kind: 'open' };
  switch (route) {
    // The version and alias routes name one function as Invoke does (a name, NAME:Q or an ARN): they are its to allow or refuse.
    case '/2015-03-31/functions/:name':
    case '/2015-03-31/functions/:name/versions':
    case '/2015-03-31/functions/:name/aliases':
    case '/2015-03-31/functions/:name/aliases/:alias':
    case '/2015-03-31/functions/:name/invocations': {
      const raw = params.name ?? '';
      let name = raw;
      try {
        name = parseFunctionName(raw).name;
      } catch {
        // The route answers 400 for it; a caller allowed every function gets that far.
      }
      return { kind: 'function', name };
    }
    case '/fn/:name':
    case '/fn/:name/*':
      // NAME:ALIAS is the function NAME's to allow or refuse.
      return { kind: 'function', name: functionUrlTarget(params.name ?? '').name };
    case '/dlq/:function':
    case '/dlq/:function/redrive':
      return { kind: 'function', name: params.function ?? '' };
    case '/invocations/:requestId':
      return { kind: 'record', requestId: params.requestId ?? '' };
    default:
      return { kind: 'any-caller' };
  }
}
