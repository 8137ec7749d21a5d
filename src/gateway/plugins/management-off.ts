// A gateway with its management API switched off (--management-api=false;
// the chart's managementApi.enabled: false, where its ServiceAccount may not
// create, update or delete Functions) serves invocation only: every route
// that declares a Lambda action other than invoking (the control plane:
// functions, versions, aliases, configuration, tags…) answers 403
// AccessDeniedException saying so, whoever asks. The routes stay
// registered, so a caller learns why rather than meeting a 404.
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_ACTIONS } from '../auth/actions.js';
import { LambdaError } from '../lambda-errors.js';
import { requestAction } from './auth.js';

export const MANAGEMENT_DISABLED = 'the management API is disabled on this gateway';

// Lambda's REST API versions its paths by date: /2015-03-31/functions/…, /2017-03-31/tags/….
const LAMBDA_API_ROUTE = /^\/\d{4}-\d{2}-\d{2}\//;

/**
 * Whether a route is part of the management API: one that declares any
 * action but invoking (Invoke, function URLs; records and dead letters count
 * as invoking), or a Lambda API route that declares none (closed by default,
 * as authorisation closes it). Operations routes and package downloads are not.
 */
export function isManagementRoute(route: string | undefined, action: string | undefined): boolean {
  if (action !== undefined) return !DEFAULT_ACTIONS.includes(action);
  return route !== undefined && LAMBDA_API_ROUTE.test(route);
}

const managementOff: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req) => {
    if (isManagementRoute(req.routeOptions.url, requestAction(req))) throw new LambdaError(403, 'AccessDeniedException', MANAGEMENT_DISABLED);
  });
};

// Its hook must reach every route of the app.
Object.assign(managementOff, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'hearth-management-off' });

export default managementOff;
