// GET /logs/:function: a function's log lines as text, one per line
// (`TIME [STREAM] LINE`), behind `hearth logs`. Query: qualifier (a version
// or alias: only its versions' lines), since (10m, 1h, or an ISO 8601 time),
// lines (the last N kept; default 100, 0: all) and follow=true (then what
// the function writes next, chunk by chunk, until the caller leaves or the
// gateway shuts down). Where the lines come from is the composition root's
// choice: the embedded platform's files, or the function's pods.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { FunctionCatalog } from '../../api/catalog.js';
import { parseSince, qualifierVersions, showLine } from '../../logs/log-lines.js';
import type { LogSource } from '../../logs/log-source.js';
import { badParameter, LambdaError, notFound } from '../lambda-errors.js';
import { sendLambdaError, toLambdaError } from '../reply-error.js';

export interface LogsApiOptions {
  source: LogSource;
  catalog: Pick<FunctionCatalog, 'get' | 'versions'>;
  arn: (name: string) => string;
  /** Aborted when the gateway begins to shut down: followers are ended then, so they do not hold the drain. */
  closing?: AbortSignal;
}

export const DEFAULT_LOG_LINES = 100;
const MAX_LOG_LINES = 10_000;

type Route = { Params: { function: string }; Querystring: { qualifier?: string; since?: string; lines?: string; follow?: string } };

/** The query's lines, since and follow, or a 400 naming what is wrong. Pure but for the clock. */
export function logsQuery(q: Route['Querystring'], nowMs: number): { lines: number; sinceMs: number | undefined; follow: boolean } {
  const lines = q.lines === undefined || q.lines === '' ? DEFAULT_LOG_LINES : Number(q.lines);
  if (!Number.isInteger(lines) || lines < 0 || lines > MAX_LOG_LINES) throw badParameter(`lines must be an integer from 0 to ${MAX_LOG_LINES}`);
  const sinceMs = q.since === undefined || q.since === '' ? undefined : parseSince(q.since, nowMs);
  if (q.since !== undefined && q.since !== '' && sinceMs === undefined) throw badParameter(`since must be a duration such as 10m, 1h30m or 2d, or an ISO 8601 time: ${q.since}`);
  if (q.follow !== undefined && !['', 'true', 'false'].includes(q.follow)) throw badParameter('follow must be true or false');
  return { lines, sinceMs, follow: q.follow === 'true' || q.follow === '' };
}

export const logsApi: FastifyPluginAsync<LogsApiOptions> = async (app, opts) => {
  // A function's logs are its invocations' output, which Invoke with LogType Tail already gives its callers.
  const config = { lambdaAction: 'lambda:InvokeFunction' } as const;
  const schema = {
    summary: "A function's log lines; with follow=true, then the lines it writes next (hearth logs)",
    tags: ['logs'],
    params: { type: 'object', properties: { function: { type: 'string', description: 'Function name' } } },
    querystring: {
      type: 'object',
      properties: {
        qualifier: { type: 'string', description: 'A version or alias: only its lines' },
        since: { type: 'string', description: 'Only lines from this long ago (10m, 1h30m, 2d) or this ISO 8601 time on' },
        lines: { type: 'string', description: `The last N lines kept (default ${DEFAULT_LOG_LINES}; 0: all)` },
        follow: { type: 'string', description: 'true: keep the answer open and send new lines as they are written' },
      },
    },
  };
  app.get<Route>('/logs/:function', { config, schema }, async (req, reply) => {
    const done = new AbortController();
    try {
      const name = req.params.function;
      const fn = opts.catalog.get(name);
      if (fn === undefined) throw notFound(opts.arn(name));
      const { lines, sinceMs, follow } = logsQuery(req.query, Date.now());
      const published = new Set(opts.catalog.versions(name).map((v) => v.spec.version));
      const target = qualifierVersions(fn, published, req.query.qualifier);
      if (!target.ok) throw new LambdaError(404, 'ResourceNotFoundException', target.message);
      // The caller leaving, or the gateway shutting down, ends the read.
      const leave = (): void => done.abort();
      reply.raw.once('close', leave);
      opts.closing?.addEventListener('abort', leave, { once: true });
      if (opts.closing?.aborted) done.abort();
      const lineSource = await opts.source.open({ functionName: name, versions: target.versions, sinceMs, lines, follow, signal: done.signal });
      const body = Readable.from(
        (async function* () {
          try {
            for await (const l of lineSource) yield `${showLine(l)}\n`;
          } catch (err) {
            // Headers are gone: the reader is told in the text, then the answer ends.
            req.log.warn({ err, fn: name }, 'reading function logs failed');
            yield `hearth: reading the logs failed: ${(err as Error).message}\n`;
          } finally {
            opts.closing?.removeEventListener('abort', leave);
          }
        })(),
        { objectMode: false },
      );
      body.once('close', () => done.abort());
      return reply
        .code(200)
        .header('content-type', 'text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .send(body);
    } catch (err) {
      done.abort();
      return sendLambdaError(reply, toLambdaError(err));
    }
  });
};
