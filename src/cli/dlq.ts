// `hearth dlq list|redrive FUNCTION`: the dead-letter routes of the gateway
// (src/gateway/plugins/dlq.ts), from the command line.
import { parseArgs } from 'node:util';
import { request } from 'undici';
import type { DeadLetter, RedriveResult } from '../queue/queue.js';

const HELP = `usage: hearth dlq list FUNCTION [--limit N] [--json]
       hearth dlq redrive FUNCTION [--limit N]

  list            show the function's dead-lettered events, oldest first
  redrive         move them back into the function's queue as fresh events
  --limit N       at most N events (list: 100, redrive: 1000 by default)
  --json          print the gateway's JSON answer as it is
  --url URL       the gateway (default: $HEARTH_URL or http://127.0.0.1:8080)
  --api-key KEY   the caller's API key (default: $HEARTH_API_KEY)`;

function oneLine(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function table(items: DeadLetter[]): string {
  const rows = items.map((d) => {
    const err = d.record.responsePayload as { errorType?: unknown; errorMessage?: unknown } | undefined;
    const why = err && typeof err === 'object' ? `${String(err.errorType ?? '')}: ${String(err.errorMessage ?? '')}` : '';
    return [d.requestId, d.deadLetteredAt, d.record.requestContext.condition, String(d.record.requestContext.approximateInvokeCount), oneLine(why, 60), oneLine(d.record.requestPayload, 60)];
  });
  const head = ['REQUEST ID', 'DEAD-LETTERED', 'CONDITION', 'RUNS', 'ERROR', 'PAYLOAD'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export async function dlqCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        url: { type: 'string', default: process.env.HEARTH_URL ?? 'http://127.0.0.1:8080' },
        'api-key': { type: 'string', default: process.env.HEARTH_API_KEY },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`hearth dlq: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, fn] = positionals;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if ((action !== 'list' && action !== 'redrive') || !fn || positionals.length > 2) {
    console.error(HELP);
    return 2;
  }
  if (values.limit !== undefined && !/^[1-9][0-9]*$/.test(values.limit)) {
    console.error('hearth dlq: --limit must be a positive integer');
    return 2;
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (values['api-key']) headers.authorization = `Bearer ${values['api-key']}`;
  const query = values.limit !== undefined ? `?limit=${values.limit}` : '';
  const base = `${values.url.replace(/\/$/, '')}/dlq/${encodeURIComponent(fn)}`;
  const res = await request(action === 'list' ? `${base}${query}` : `${base}/redrive${query}`, { method: action === 'list' ? 'GET' : 'POST', headers });
  const body = await res.body.text();
  if (res.statusCode >= 400) {
    let message = body;
    try {
      message = String((JSON.parse(body) as { message?: unknown }).message ?? body);
    } catch {
      // not JSON: print it as it came
    }
    const retry = res.headers['retry-after'];
    console.error(`${String(res.headers['x-amzn-errortype'] ?? 'Error')} (${res.statusCode}): ${message}${typeof retry === 'string' ? ` (retry after ${retry} s)` : ''}`);
    return 1;
  }
  if (values.json) {
    console.log(body);
    return 0;
  }
  if (action === 'list') {
    const { deadLetters } = JSON.parse(body) as { deadLetters: DeadLetter[] };
    console.log(deadLetters.length === 0 ? `no dead-lettered events for ${fn}` : table(deadLetters));
    return 0;
  }
  const r = JSON.parse(body) as RedriveResult;
  console.log(`redrove ${r.redriven} event${r.redriven === 1 ? '' : 's'} of ${fn}`);
  return 0;
}
