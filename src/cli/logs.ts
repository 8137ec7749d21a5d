// `hearth logs NAME`: a function's log lines through the gateway's logs API
// (GET /logs/NAME), in either mode: the embedded platform's per-function
// files, or in a cluster the function's pods through the Kubernetes API.
// With --follow the answer stays open and lines are printed as they come.
// --dir reads a hearth up's log files on this machine without a gateway,
// through the same reader the gateway uses (logs/file-source.ts).
import { request } from 'undici';
import { LATEST, VERSION_NUMBER } from '../api/function.js';
import { functionLogDir } from '../backends/local/cache-dir.js';
import { FileLogSource } from '../logs/file-source.js';
import { parseSince, showLine } from '../logs/log-lines.js';
import { describeErrorAnswer, GATEWAY_HELP, oneFunction, parseGatewayCommand, type GatewayTarget } from './gateway-client.js';

const HELP = `usage: hearth logs NAME[:QUALIFIER] [--follow] [--since 10m] [--qualifier Q] [-n N]

Prints a function's log lines, each with the time it was written
(and in a cluster the pod that wrote it): the embedded platform's
per-function log, or the function's pods in a cluster.

  --follow, -f        then keep printing what the function writes, until Ctrl-C
  --since T           only lines from T ago (45s, 10m, 1h30m, 2d) or since an ISO 8601 time
  --qualifier Q       a version or alias: only its lines (as NAME:Q)
  --lines N, -n N     the last N lines (default: 100; 0: all that are kept)
${GATEWAY_HELP}
  --dir LOGDIR        read hearth up's log files here instead of asking a gateway
                      (hearth up keeps them in $XDG_CACHE_HOME/hearth/local/logs,
                      else ~/.cache/hearth/local/logs; qualifier: $LATEST or N only)`;

export async function logsCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand(
    'logs',
    argv,
    {
      follow: { type: 'boolean', short: 'f', default: false },
      since: { type: 'string' },
      qualifier: { type: 'string' },
      lines: { type: 'string', short: 'n', default: '100' },
      dir: { type: 'string' },
    },
    HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const named = oneFunction('logs', positionals, HELP);
  if (named === undefined) return 2;
  const [name = '', fromName] = named.split(':');
  if (fromName !== undefined && values.qualifier !== undefined && fromName !== values.qualifier) {
    console.error(`hearth logs: the qualifier in ${named} does not match --qualifier ${values.qualifier}`);
    return 2;
  }
  const qualifier = fromName ?? values.qualifier;
  const lines = Number(values.lines);
  if (!Number.isSafeInteger(lines) || lines < 0) {
    console.error(`hearth logs: --lines must be a whole number, not ${values.lines}\n\n${HELP}`);
    return 2;
  }
  if (values.since !== undefined && parseSince(values.since, Date.now()) === undefined) {
    console.error(`hearth logs: --since takes a duration (45s, 10m, 1h30m, 2d) or an ISO 8601 time, not ${values.since}`);
    return 2;
  }
  const query = { lines, follow: values.follow, ...(values.since !== undefined ? { since: values.since } : {}), ...(qualifier !== undefined ? { qualifier } : {}) };
  return values.dir !== undefined ? fromFiles(values.dir, name, query) : fromGateway(values, name, query);
}

interface Query {
  lines: number;
  follow: boolean;
  since?: string;
  qualifier?: string;
}

async function fromGateway(target: GatewayTarget, name: string, q: Query): Promise<number> {
  const search = new URLSearchParams({ lines: String(q.lines), ...(q.follow ? { follow: 'true' } : {}), ...(q.since !== undefined ? { since: q.since } : {}), ...(q.qualifier !== undefined ? { qualifier: q.qualifier } : {}) });
  const headers: Record<string, string> = { accept: 'text/plain' };
  if (target['api-key']) headers.authorization = `Bearer ${target['api-key']}`;
  let res;
  try {
    res = await request(`${target.url.replace(/\/$/, '')}/logs/${encodeURIComponent(name)}?${search.toString()}`, { method: 'GET', headers, headersTimeout: 60_000, bodyTimeout: 0 });
  } catch (err) {
    console.error(`hearth logs: cannot reach the gateway at ${target.url} (${(err as Error).message}); set --url or HEARTH_URL`);
    return 1;
  }
  if (res.statusCode >= 400) {
    console.error(`hearth logs: ${describeErrorAnswer({ status: res.statusCode, headers: res.headers, text: await res.body.text() })}`);
    return 1;
  }
  // Printed as it arrives: a followed line shows the moment the gateway sends it.
  for await (const chunk of res.body) {
    if (!process.stdout.write(chunk as Buffer)) await new Promise((r) => process.stdout.once('drain', r));
  }
  return 0;
}

async function fromFiles(dirArg: string, name: string, q: Query): Promise<number> {
  const dir = dirArg === '' ? functionLogDir() : dirArg;
  const source = new FileLogSource(dir);
  if (q.qualifier !== undefined && q.qualifier !== LATEST && !VERSION_NUMBER.test(q.qualifier)) {
    console.error(`hearth logs: with --dir the qualifier is $LATEST or a version number; an alias needs the gateway (${q.qualifier})`);
    return 2;
  }
  if (!source.exists(name) && !q.follow) {
    console.error(`hearth logs: no log for ${name} in ${dir} (has it run on this machine's hearth up?)`);
    return 1;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const lines = await source.open({
    functionName: name,
    versions: q.qualifier === undefined ? undefined : new Set([q.qualifier]),
    sinceMs: q.since === undefined ? undefined : parseSince(q.since, Date.now()),
    lines: q.lines,
    follow: q.follow,
    signal: stop.signal,
  });
  for await (const l of lines) {
    if (!process.stdout.write(`${showLine(l)}\n`)) await new Promise((r) => process.stdout.once('drain', r));
  }
  return 0;
}
