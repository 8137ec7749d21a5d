// `hearth cost`: the cost model C = k·t + p·n per function, from a running
// gateway's metrics (t: GB-seconds of billed duration, n: requests).
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { parseExposition, sumBy } from '../metrics/exposition.js';
import { cost, DEFAULT_PRICES } from '../metrics/invocations.js';

const HELP = `usage: hearth cost [--url URL] [--k PRICE] [--p PRICE]

  --url URL   the gateway (default: $HEARTH_URL or http://127.0.0.1:8080)
  --k PRICE   price per GB-second (default: ${DEFAULT_PRICES.pricePerGbSecond})
  --p PRICE   price per request (default: ${DEFAULT_PRICES.pricePerRequest})`;

// Requests that ran, as Lambda charges them; throttled or unknown ones are free.
const BILLED_OUTCOMES = new Set(['success', 'handled', 'unhandled']);

export interface CostRow {
  function: string;
  requests: number;
  billedMs: number;
  gbSeconds: number;
  cost: number;
}

export function costRows(metricsText: string, prices: { pricePerGbSecond: number; pricePerRequest: number }): CostRow[] {
  const samples = parseExposition(metricsText);
  const requests = sumBy(samples, 'hearth_invocations_total', 'function', (s) => BILLED_OUTCOMES.has(s.labels.outcome ?? ''));
  const billed = sumBy(samples, 'hearth_billed_duration_milliseconds_total', 'function');
  const gbs = sumBy(samples, 'hearth_gb_seconds_total', 'function');
  return [...new Set([...requests.keys(), ...gbs.keys()])].sort().map((fn) => {
    const n = requests.get(fn) ?? 0;
    const t = gbs.get(fn) ?? 0;
    return { function: fn, requests: n, billedMs: billed.get(fn) ?? 0, gbSeconds: t, cost: cost({ gbSeconds: t, requests: n, ...prices }) };
  });
}

export async function costCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: process.env.HEARTH_URL ?? 'http://127.0.0.1:8080' },
      k: { type: 'string', default: String(DEFAULT_PRICES.pricePerGbSecond) },
      p: { type: 'string', default: String(DEFAULT_PRICES.pricePerRequest) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const prices = { pricePerGbSecond: Number(values.k), pricePerRequest: Number(values.p) };
  if (!Number.isFinite(prices.pricePerGbSecond) || !Number.isFinite(prices.pricePerRequest)) {
    console.error('hearth cost: --k and --p must be numbers');
    return 2;
  }
  const res = await request(`${values.url.replace(/\/$/, '')}/metrics`);
  if (res.statusCode !== 200) {
    console.error(`hearth cost: ${values.url}/metrics answered ${res.statusCode}`);
    return 1;
  }
  const rows = costRows(await res.body.text(), prices);
  console.log(`C = k·t + p·n   k = ${prices.pricePerGbSecond} per GB-s, p = ${prices.pricePerRequest} per request\n`);
  console.log(['function'.padEnd(24), 'requests'.padStart(10), 'billed ms'.padStart(12), 'GB-s'.padStart(12), 'cost'.padStart(14)].join(' '));
  for (const r of rows) {
    console.log([r.function.padEnd(24), String(r.requests).padStart(10), String(r.billedMs).padStart(12), r.gbSeconds.toFixed(4).padStart(12), r.cost.toExponential(4).padStart(14)].join(' '));
  }
  return 0;
}
