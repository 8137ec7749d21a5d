// What a request touches, for authorisation: a function named in its route
// (or, for CreateFunction, in its body), an async invocation record (whose
// function is looked up), the account as a whole (resource `*`), an open
// operations route, or nothing in particular. Pure.
import { functionUrlTarget } from '../function-url-target.js';
import { parseFunctionName } from '../invoke-request.js';
import { CONSOLE_ROUTES } from '../plugins/console.js';
import { PACKAGES_ROUTE } from '../plugins/packages.js';

export type RouteTarget =
  | { kind: 'open' }
  | { kind: 'function'; name: string }
  /** CreateFunction, CreateEventSourceMapping: the function is named by the JSON body's FunctionName, checked once the body has arrived. */
  | { kind: 'body-function' }
  | { kind: 'record'; requestId: string }
  /** Routes that name no function (ListFunctions, GetAccountSettings, ListEventSourceMappings): resource `*`, only the action is checked. */
  | { kind: 'account' }
  /**
   * A route this table does not know: it may touch any function, so only a
   * caller allowed every function (`*`) may use it. Safe by default.
   */
  | { kind: 'unlisted' }
  /** Authenticated callers only, whatever they are allowed to do: closed operations routes, and unknown routes (404 after this). */
  | { kind: 'any-caller' };

/** Routes anyone may call, authenticated or not. */
export const DEFAULT_OPEN_ROUTES: readonly string[] = ['/healthz', '/readyz', '/metrics', '/openapi.json'];
/** Liveness and readiness are always open: kubelet probes carry no credentials. */
export const ALWAYS_OPEN_ROUTES: readonly string[] = ['/healthz', '/readyz'];
/** Package downloads (GetFunction's Code.Location) carry their own signature and expiry in the query: they are authorised by it. */
export const SIGNED_ROUTES: readonly string[] = [PACKAGES_ROUTE];
/** The console's static files hold no data: a browser loads them without credentials, and every call they make carries the user's key. */
export const STATIC_ROUTES: readonly string[] = CONSOLE_ROUTES;

// Lambda's REST routes name the function as `/{api-version}/functions/{FunctionName}/…`, and tags as `/{api-version}/tags/{ARN}`.
const FUNCTION_ROUTE = /^\/\d{4}-\d{2}-\d{2}\/functions\/:name(\/|$)/;
const TAGS_ROUTE = /^\/\d{4}-\d{2}-\d{2}\/tags\/:arn$/;
/** GET routes that name no function. */
const ACCOUNT_ROUTES: readonly string[] = [
  '/2015-03-31/functions',
  '/2015-03-31/functions/',
  '/2016-08-19/account-settings',
  '/2016-08-19/account-settings/',
  '/2015-03-31/event-source-mappings',
  '/2015-03-31/event-source-mappings/',
];
/** CreateFunction and CreateEventSourceMapping: their body's FunctionName names the function. */
const CREATE_FUNCTION_ROUTES: readonly string[] = ['/2015-03-31/functions', '/2015-03-31/functions/', '/2015-03-31/event-source-mappings', '/2015-03-31/event-source-mappings/'];

/** The function a name, NAME:Q or an ARN names; unparseable, the raw string (the route answers 400, and only a caller allowed that very string or every function gets that far). */
function namedFunction(raw: string): string {
  try {
    return parseFunctionName(raw).name;
  } catch {
    return raw;
  }
}

export function routeTarget(route: string | undefined, params: Record<string, string | undefined>, openRoutes: readonly string[], method = 'GET'): RouteTarget {
  // No route matched: the caller gets its 404 once authenticated.
  if (route === undefined) return { kind: 'any-caller' };
  if (openRoutes.includes(route) || ALWAYS_OPEN_ROUTES.includes(route) || SIGNED_ROUTES.includes(route) || STATIC_ROUTES.includes(route)) return { kind: 'open' };
  // /metrics and /openapi.json closed by --open-routes: any authenticated caller.
  if (DEFAULT_OPEN_ROUTES.includes(route)) return { kind: 'any-caller' };
  if (method === 'POST' && CREATE_FUNCTION_ROUTES.includes(route)) return { kind: 'body-function' };
  if (ACCOUNT_ROUTES.includes(route)) return { kind: 'account' };
  // Every control route of one function, the version and alias routes and Invoke: a name, NAME:Q or an ARN, the function's to allow or refuse.
  if (FUNCTION_ROUTE.test(route)) return { kind: 'function', name: namedFunction(params.name ?? '') };
  if (TAGS_ROUTE.test(route)) return { kind: 'function', name: namedFunction(params.arn ?? '') };
  switch (route) {
    case '/fn/:name':
    case '/fn/:name/*':
      // NAME:ALIAS is the function NAME's to allow or refuse.
      return { kind: 'function', name: functionUrlTarget(params.name ?? '').name };
    // CloudEvents and bucket notifications invoke the function they name (a name, NAME:Q or an ARN).
    case '/events/:name':
    case '/events/s3/:name':
      return { kind: 'function', name: namedFunction(params.name ?? '') };
    // A function's dead letters and its logs are the function's to allow or refuse.
    case '/dlq/:function':
    case '/dlq/:function/redrive':
    case '/logs/:function':
      return { kind: 'function', name: params.function ?? '' };
    case '/invocations/:requestId':
      return { kind: 'record', requestId: params.requestId ?? '' };
    default:
      return { kind: 'unlisted' };
  }
}

/**
 * The function CreateFunction's body names (FunctionName: a name or an ARN),
 * or '' when there is none to read: the route then answers 400, and only a
 * caller allowed every function gets that far.
 */
export function bodyFunctionName(body: unknown): string {
  let doc: unknown = body;
  if (Buffer.isBuffer(body)) {
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return '';
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return '';
  const raw = (doc as Record<string, unknown>).FunctionName;
  return typeof raw === 'string' ? namedFunction(raw) : '';
}
