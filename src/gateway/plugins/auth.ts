// Authentication and authorisation of every route but the open ones. A caller
// proves who it is with an API key (Authorization: Bearer KEY or X-Api-Key)
// or an AWS Signature Version 4; it may then perform only the Lambda actions
// its entry in the credentials file names (each route declares its own in
// its config, `lambdaAction`), on only the functions that entry names, at its
// rate limit. Failures are AWS's REST errors: 401 UnrecognizedClientException, 403 InvalidSignatureException
// or AccessDeniedException, 429 TooManyRequestsException.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { allowsAction, type LambdaAction } from '../auth/actions.js';
import type { Caller, CallerTable } from '../auth/callers.js';
import type { PresentedCredential } from '../auth/credential-headers.js';
import { allowsFunction, type FunctionPattern } from '../auth/function-patterns.js';
import { bodyFunctionName, DEFAULT_OPEN_ROUTES, routeTarget, type RouteTarget } from '../auth/route-target.js';
import { checkScope, isSigV4, parseSigV4Authorization, payloadMatches, signedPayloadHash, unsignedHeaders, verifySignature, type ReceivedRequest, type SigV4Authorization } from '../auth/sigv4.js';
import { TokenBuckets } from '../auth/token-bucket.js';
import { LambdaError, throttled } from '../lambda-errors.js';
import { INVOKE_ACTION, INVOKE_ROUTE } from './invoke-api.js';

export interface AuthOptions {
  /** The callers as of now; read on every request, so a reloaded credentials file applies at once. */
  callers: () => CallerTable;
  /** Routes served without credentials (default /healthz, /readyz, /metrics, /openapi.json; the probes are always open). */
  openRoutes?: readonly string[];
  /** The function an async invocation belongs to, so GET /invocations/{id} is authorised like the function. */
  recordFunction?: (requestId: string) => Promise<string | undefined>;
  /** A function's ARN, for refusals (buildGateway passes the gateway's own). */
  arn?: (name: string) => string;
  now?: () => number;
}

export const RATE_LIMIT_REASON = 'CallerRateLimitExceeded';

const unrecognized = () => new LambdaError(401, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
const badSignature = (message: string) => new LambdaError(403, 'InvalidSignatureException', message);
const denied = (caller: string, action: string, resource: string) =>
  new LambdaError(403, 'AccessDeniedException', `User: ${caller} is not authorized to perform: ${action} on resource: ${resource}`);
/** What a route that declares no action needs: every action, so a route added without one is closed by default. */
const UNDECLARED: LambdaAction = 'lambda:*';

/** What onRequest learnt, finished once the body has arrived. */
interface Pending {
  target: RouteTarget;
  caller?: Caller;
  sigv4?: { auth: SigV4Authorization; secret: string; signingDate: Date; payloadHash?: string };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authz = one(headers.authorization);
  if (authz !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
    return m?.[1];
  }
  return one(headers['x-api-key']);
}

function received(req: FastifyRequest): ReceivedRequest {
  return { method: req.method, url: req.raw.url ?? req.url, headers: req.headers };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** With authentication on: whether a plain Invoke of `fn` with these headers is admitted (see the plugin). */
    hearthAdmitsPlainInvoke?: (headers: IncomingHttpHeaders, fn: string) => boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller's name (never its secret), for logs. */
    hearthCaller?: string;
    /** Which of Hearth's schemes the caller proved itself with, so /fn leaves those headers out of the event. */
    hearthCredential?: PresentedCredential;
    /**
     * The function patterns of the authenticated caller (names, prefix-*, *), so
     * routes that name no function (ListFunctions) show only what it may touch
     * (allowsFunction). Unset when the gateway authenticates no one: every function.
     */
    hearthFunctions?: readonly FunctionPattern[];
  }
  interface FastifyContextConfig {
    /**
     * The Lambda action (IAM name) this route performs, checked against the
     * caller's actions. Every authenticated route declares one; a route
     * without it is refused to callers not allowed `lambda:*`. A route that
     * serves two operations (GetProvisionedConcurrencyConfig, and with
     * List=ALL ListProvisionedConcurrencyConfigs) says which from the request.
     */
    lambdaAction?: LambdaAction | ((req: FastifyRequest) => LambdaAction);
  }
}

/** The action a request performs, as its route declares it (undefined when it declares none). */
export function requestAction(req: FastifyRequest): LambdaAction | undefined {
  const declared = req.routeOptions.config.lambdaAction;
  return typeof declared === 'function' ? declared(req) : declared;
}

const auth: FastifyPluginAsync<AuthOptions> = async (app, opts) => {
  const now = opts.now ?? Date.now;
  const openRoutes = opts.openRoutes ?? DEFAULT_OPEN_ROUTES;
  const buckets = new TokenBuckets(now);
  const pending = new WeakMap<FastifyRequest, Pending>();
  /** CreateFunction's callers, admitted but for the function its body names. */
  const bodyNamed = new WeakMap<FastifyRequest, { caller: Caller; action: string }>();
  const resourceOf = (fn: string) => (opts.arn ? opts.arn(fn) : fn);

  /**
   * Throws AWS's refusal unless `caller` may perform `action` on `fn` (none,
   * a name, or '*': any) now, and then takes a token of its rate limit.
   * `anyCaller`: the route is open to every authenticated caller, whatever its actions.
   */
  const authorize = (caller: Caller, action: LambdaAction, fn: string | undefined, anyCaller: boolean): void => {
    if (!anyCaller && !allowsAction(caller.actions, action)) throw denied(caller.name, action, fn !== undefined && fn !== '*' ? resourceOf(fn) : '*');
    if (fn !== undefined && !allowsFunction(caller.functions, fn)) throw denied(caller.name, action, fn === '*' ? '*' : resourceOf(fn));
    if (caller.rateLimit) {
      const r = buckets.take(caller.name, caller.rateLimit);
      if (!r.ok) throw throttled(RATE_LIMIT_REASON, r.retryAfterSeconds);
    }
  };

  const admit = async (req: FastifyRequest, p: Pending & { caller: Caller }): Promise<void> => {
    req.hearthCaller = p.caller.name;
    req.hearthCredential = p.sigv4 ? 'sigv4' : 'api-key';
    req.hearthFunctions = p.caller.functions;
    const action = requestAction(req) ?? UNDECLARED;
    let fn: string | undefined;
    if (p.target.kind === 'function') fn = p.target.name;
    else if (p.target.kind === 'record' && opts.recordFunction) fn = await opts.recordFunction(p.target.requestId);
    // A route this table does not know may touch any function: only a caller allowed every one may use it.
    else if (p.target.kind === 'unlisted') fn = '*';
    authorize(p.caller, action, fn, p.target.kind === 'any-caller');
    if (p.target.kind === 'body-function') bodyNamed.set(req, { caller: p.caller, action });
  };

  // The plain Invoke (plain-invoke.ts) serves a call ahead of fastify only when this says its caller is admitted:
  // the route open, or an API key whose caller may invoke the function now (a token taken, as the hook would).
  // Anything else (no or an unknown key, a refusal, a SigV4 signature, checked over the whole request) is false,
  // and fastify's route, this plugin's hooks first, answers it as it answers every other request.
  // What the Invoke route is to authentication depends on the route and the open routes only, both fixed here: found
  // once, not per call. The plain path takes bare names only, each its own function.
  const invokeKind = routeTarget(INVOKE_ROUTE, {}, openRoutes, 'POST').kind;
  app.decorate('hearthAdmitsPlainInvoke', (headers: IncomingHttpHeaders, fn: string): boolean => {
    if (invokeKind === 'open') return true;
    if (invokeKind !== 'function' || isSigV4(one(headers.authorization))) return false;
    const key = presentedKey(headers);
    const caller = key === undefined ? undefined : opts.callers().byApiKey(key);
    if (caller === undefined) return false;
    try {
      authorize(caller, INVOKE_ACTION, fn, false);
      return true;
    } catch {
      return false;
    }
  });

  app.addHook('onRequest', async (req) => {
    const target = routeTarget(req.routeOptions.url, req.params as Record<string, string | undefined>, openRoutes, req.method);
    if (target.kind === 'open') return;
    const table = opts.callers();
    const authz = one(req.headers.authorization);
    if (isSigV4(authz)) {
      const parsed = parseSigV4Authorization(authz ?? '');
      if (!parsed) throw badSignature('The Authorization header is not a well-formed AWS Signature Version 4.');
      const found = table.byAccessKeyId(parsed.accessKeyId);
      if (!found) throw unrecognized();
      const scope = checkScope(parsed, one(req.headers['x-amz-date']), now());
      if (!scope.ok) throw badSignature(scope.message);
      const unsigned = unsignedHeaders(parsed, req.headers);
      if (unsigned.length > 0) throw badSignature(`Headers that must be signed were not: ${unsigned.join(', ')}. Sign every x-amz-* header sent (and X-Hearth-* and Prefer).`);
      const payloadHash = signedPayloadHash(parsed, req.headers);
      const sigv4 = { auth: parsed, secret: found.secretAccessKey, signingDate: scope.signingDate, ...(payloadHash !== undefined ? { payloadHash } : {}) };
      // With a signed payload hash the signature is checked before the body is read; the hash itself once it is.
      if (payloadHash !== undefined) {
        if (!(await verifySignature(received(req), parsed, found.secretAccessKey, scope.signingDate, undefined))) {
          throw badSignature(SIGNATURE_MISMATCH);
        }
      }
      pending.set(req, { target, caller: found.caller, sigv4 });
      return;
    }
    const key = presentedKey(req.headers);
    const caller = key === undefined ? undefined : table.byApiKey(key);
    if (!caller) throw unrecognized();
    await admit(req, { target, caller });
  });

  app.addHook('preValidation', async (req) => {
    const p = pending.get(req);
    if (p?.sigv4 && p.caller) {
      pending.delete(req);
      const body = Buffer.isBuffer(req.body) ? req.body : undefined;
      const { auth: a, secret, signingDate, payloadHash } = p.sigv4;
      if (payloadHash !== undefined) {
        if (!payloadMatches(payloadHash, body)) throw badSignature('The request body does not match X-Amz-Content-Sha256.');
      } else if (!(await verifySignature(received(req), a, secret, signingDate, body))) {
        throw badSignature(SIGNATURE_MISMATCH);
      }
      await admit(req, { target: p.target, caller: p.caller, sigv4: p.sigv4 });
    }
    // CreateFunction names its function in the body: checked now it has arrived, before the handler runs.
    const named = bodyNamed.get(req);
    // A caller allowed every function needs no name: its (up to 70 MB) body is not parsed twice.
    if (named && !named.caller.functions.includes('*')) {
      bodyNamed.delete(req);
      const fn = bodyFunctionName(req.body);
      if (!allowsFunction(named.caller.functions, fn)) throw denied(named.caller.name, named.action, fn === '' ? '*' : resourceOf(fn));
    }
  });
};

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

// Hooks must reach every route of the app, not only routes inside this plugin.
Object.assign(auth, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hearth-auth' });

export default auth;
