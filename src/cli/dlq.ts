// `hearth dlq list|redrive FUNCTION`: the dead-letter routes of the gateway
// (src/gateway/plugins/dlq.ts), from the command line.
import type { DeadLetter, RedriveResult } from '../queue/queue.js';
import { callGateway, describeErrorAnswer, GATEWAY_HELP, parseGatewayCommand, table } from './gateway-client.js';

const HELP = `usage: hearth dlq list FUNCTION [--limit N] [--json]
       hearth dlq redrive FUNCTION [--limit N]

  list            show the function's dead-lettered events, oldest first
  redrive         move them back into the function's queue as fresh events
  --limit N       at most N events (list: 100, redrive: 1000 by default)
  --json          print the gateway's JSON answer as it is
${GATEWAY_HELP}`;

function oneLine(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function deadLetterTable(items: DeadLetter[]): string {
  const rows = items.map((d) => {
    const err = d.record.responsePayload as { errorType?: unknown; errorMessage?: unknown } | undefined;
    const why = err && typeof err === 'object' ? `${String(err.errorType ?? '')}: ${String(err.errorMessage ?? '')}` : '';
    return [d.requestId, d.deadLetteredAt, d.record.requestContext.condition, String(d.record.requestContext.approximateInvokeCount), oneLine(why, 60), oneLine(d.record.requestPayload, 60)];
  });
  return table(['REQUEST ID', 'DEAD-LETTERED', 'CONDITION', 'RUNS', 'ERROR', 'PAYLOAD'], rows);
}

export async function dlqCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('dlq', argv, { limit: { type: 'string' }, json: { type: 'boolean', default: false } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [action, fn] = positionals;
  if ((action !== 'list' && action !== 'redrive') || !fn || positionals.length > 2) {
    console.error(HELP);
    return 2;
  }
  if (values.limit !== undefined && !/^[1-9][0-9]*$/.test(values.limit)) {
    console.error('hearth dlq: --limit must be a positive integer');
    return 2;
  }
  const query = values.limit !== undefined ? `?limit=${values.limit}` : '';
  const base = `/dlq/${encodeURIComponent(fn)}`;
  const res = await callGateway(values, action === 'list' ? 'GET' : 'POST', action === 'list' ? `${base}${query}` : `${base}/redrive${query}`);
  const body = res.text;
  if (res.status >= 400) {
    console.error(describeErrorAnswer(res));
    return 1;
  }
  if (values.json) {
    console.log(body);
    return 0;
  }
  if (action === 'list') {
    const { deadLetters } = JSON.parse(body) as { deadLetters: DeadLetter[] };
    console.log(deadLetters.length === 0 ? `no dead-lettered events for ${fn}` : deadLetterTable(deadLetters));
    return 0;
  }
  const r = JSON.parse(body) as RedriveResult;
  console.log(`redrove ${r.redriven} event${r.redriven === 1 ? '' : 's'} of ${fn}`);
  return 0;
}
