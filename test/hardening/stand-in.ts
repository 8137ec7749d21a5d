// A gateway built with buildGateway around stand-ins (an echoing Invoker, a
// memory catalog, a queue that only counts), for the suites that need the
// gateway's own behaviour without runtime processes.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema } from '../../src/api/function.js';
import type { Invoker } from '../../src/dispatch/invoker.js';
import { buildGateway, type GatewayOptions } from '../../src/gateway/app.js';
import { createRegistry } from '../../src/metrics/registry.js';

export const FUNCTIONS = ['echo', 'orders-create', 'orders-list', 'billing'] as const;

export function standInCatalog(names: readonly string[] = FUNCTIONS): MemoryCatalog {
  const catalog = new MemoryCatalog();
  for (const name of names) {
    catalog.set(
      FunctionSchema.parse({
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'Function',
        metadata: { name },
        spec: { runtime: 'nodejs20', handler: 'index.handler', code: { inline: { 'index.mjs': 'export const handler = async (e) => e;' } } },
      }),
    );
  }
  return catalog;
}

/** Answers every invocation with its own payload. */
export const echoInvoker: Invoker = {
  async invoke(inv) {
    return { outcome: 'success', payload: inv.payload, durationMs: 1 };
  },
};

export async function standInGateway(extra: Partial<GatewayOptions> & { logger?: Logger } = {}): Promise<FastifyInstance & { enqueued: () => number }> {
  let enqueued = 0;
  const app = await buildGateway({
    invoker: echoInvoker,
    catalog: standInCatalog(),
    queue: {
      async enqueue(req) {
        enqueued++;
        return { requestId: req.requestId ?? 'r', duplicate: false };
      },
    },
    registry: createRegistry(),
    arn: (n) => `arn:aws:lambda:us-east-1:000000000000:function:${n}`,
    ...extra,
  });
  return Object.assign(app, { enqueued: () => enqueued });
}
