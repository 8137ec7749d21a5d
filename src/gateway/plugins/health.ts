// Liveness and readiness. Readiness asks each registered check, so a gateway
// whose queue or catalog is not there yet receives no traffic, and fails at
// once when the gateway begins to leave, so endpoints drop it.
import type { FastifyPluginAsync } from 'fastify';

export interface HealthOptions {
  readinessChecks?: Array<{ name: string; check: () => Promise<boolean> | boolean }>;
  /** True once the gateway is shutting down. */
  draining?: () => boolean;
  /** What /readyz also reports without judging readiness by it (hearth up: the function sandbox). */
  details?: () => Record<string, unknown>;
}

export const health: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['ops'] } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'Readiness', tags: ['ops'] } }, async (_req, reply) => {
    if (opts.draining?.()) return reply.code(503).send({ status: 'shutting down', failing: ['shutting-down'] });
    const results = await Promise.all(
      (opts.readinessChecks ?? []).map(async (c) => {
        try {
          return [c.name, await c.check()] as const;
        } catch {
          return [c.name, false] as const;
        }
      }),
    );
    const failing = results.filter(([, ok]) => !ok).map(([n]) => n);
    return reply
      .code(failing.length ? 503 : 200)
      .send({ status: failing.length ? 'not ready' : 'ok', failing, ...(opts.details ? { details: opts.details() } : {}) });
  });
};
