// GET /metrics/history[?function=NAME]: the last hour of the gateway's own
// metrics as JSON series, for the console's charts (src/metrics/history.ts).
// The registry is sampled every 10 s; each answer adds a sample taken then,
// so its newest point covers the seconds since the last one and a chart moves
// as soon as something happens. Without a function it sums them all and adds
// each function's summary (instances, invocations, errors) for the list.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { functionSummaries, historySeries, SAMPLE_INTERVAL_MS, SampleRing, SAMPLES_KEPT, takeSnapshot, type MetricFamily } from '../../metrics/history.js';
import { badParameter } from '../lambda-errors.js';

export interface MetricsHistoryOptions {
  registry: Registry;
  intervalMs?: number;
  now?: () => number;
}

export const METRICS_HISTORY_ROUTE = '/metrics/history';

const FUNCTION_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export const metricsHistory: FastifyPluginAsync<MetricsHistoryOptions> = async (app, opts) => {
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? SAMPLE_INTERVAL_MS;
  const ring = new SampleRing(SAMPLES_KEPT);
  const sample = async () => takeSnapshot((await opts.registry.getMetricsAsJSON()) as MetricFamily[], now());
  ring.push(await sample());
  const timer = setInterval(() => {
    sample().then(
      (s) => ring.push(s),
      (err: unknown) => app.log.warn({ err }, 'metrics history: sampling the registry failed; the next sample follows'),
    );
  }, intervalMs);
  // The sampler never keeps the process alive on its own.
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get<{ Querystring: { function?: string } }>(
    METRICS_HISTORY_ROUTE,
    {
      // Names every function (the list's summaries): a caller allowed every function and to list them.
      config: { lambdaAction: 'lambda:ListFunctions' },
      schema: {
        summary: 'The last hour of this gateway\'s metrics per 10 s (the console\'s charts)',
        tags: ['ops'],
        querystring: { type: 'object', properties: { function: { type: 'string', description: 'One function\'s series (default: every function summed)' } } },
      },
    },
    async (req, reply) => {
      const fn = req.query.function === '' ? undefined : req.query.function;
      if (fn !== undefined && (fn.length > 64 || !FUNCTION_NAME.test(fn))) throw badParameter(`invalid function name: ${fn}`);
      const samples = [...ring.list(), await sample()];
      const body = fn !== undefined ? historySeries(samples, fn, intervalMs) : { ...historySeries(samples, undefined, intervalMs), functions: functionSummaries(samples) };
      return reply.code(200).header('content-type', 'application/json').header('cache-control', 'no-store').send(JSON.stringify(body));
    },
  );
};
