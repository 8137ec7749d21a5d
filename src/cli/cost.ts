// `hearth cost`: the cost model C = k·t + p·n per function, from the metrics
// of every gateway replica, summed (t: GB-seconds of billed duration, n:
// requests). Each replica counts only the calls it served.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeRest } from '../kube/rest.js';
import { parseExposition, sumBy, type Sample } from '../metrics/exposition.js';
import { BYTES_PER_GB, cost, DEFAULT_PRICES } from '../metrics/invocations.js';
import { scrapeAll, serviceSources, urlSource, type MetricsSource } from './cost-sources.js';

const HELP = `usage: hearth cost [--url URL]... | --service NAME [--namespace NS] [--kubeconfig FILE]
                  [--api-key KEY] [--k PRICE] [--p PRICE]

Sums the metrics of every gateway named: each replica counts only the calls it
served, and its counters start at zero when it starts.

  --url URL          a gateway; repeat it for each replica (default: $HEARTH_URL
                     or http://127.0.0.1:8080)
  --service NAME     in a cluster: every gateway pod behind this Service (e.g.
                     hearth-gateway), found through its EndpointSlices and read
                     through the API server's pod proxy
  --namespace NS     the Service's namespace (default: the kubeconfig context's, or default)
  --kubeconfig FILE  (default: $KUBECONFIG, ~/.kube/config or in-cluster)
  --api-key KEY      when /metrics needs credentials (--open-routes; default: $HEARTH_API_KEY)
  --k PRICE          price per GB-second (default: ${DEFAULT_PRICES.pricePerGbSecond})
  --p PRICE          price per request (default: ${DEFAULT_PRICES.pricePerRequest})`;

// Requests that ran, as Lambda charges them; throttled or unknown ones are free.
const BILLED_OUTCOMES = new Set(['success', 'handled', 'unhandled']);

export interface CostRow {
  function: string;
  requests: number;
  billedMs: number;
  gbSeconds: number;
  cost: number;
}

/**
 * Billed time and memory-time as gateways expose them, and the factor that
 * brings each to billed milliseconds or GB-seconds. The names before the
 * renames (README "Metric renames") are read too, so a sum over replicas in
 * the middle of an upgrade leaves none of them out.
 */
const BILLED_MS_SERIES: ReadonlyArray<readonly [string, number]> = [
  ['hearth_billed_duration_seconds_total', 1000],
  ['hearth_billed_duration_milliseconds_total', 1],
];
const GB_SECONDS_SERIES: ReadonlyArray<readonly [string, number]> = [
  ['hearth_billed_byte_seconds_total', 1 / BYTES_PER_GB],
  ['hearth_gb_seconds_total', 1],
];

function sumScaled(samples: readonly Sample[], series: ReadonlyArray<readonly [string, number]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, factor] of series) {
    for (const [fn, v] of sumBy(samples, name, 'function')) out.set(fn, (out.get(fn) ?? 0) + v * factor);
  }
  return out;
}

/** Rows per function from the metrics of one or more gateways, summed. */
export function costRows(metricsTexts: readonly string[], prices: { pricePerGbSecond: number; pricePerRequest: number }): CostRow[] {
  const samples = metricsTexts.flatMap((t) => parseExposition(t));
  const requests = sumBy(samples, 'hearth_invocations_total', 'function', (s) => BILLED_OUTCOMES.has(s.labels.outcome ?? ''));
  const billed = sumScaled(samples, BILLED_MS_SERIES);
  const gbs = sumScaled(samples, GB_SECONDS_SERIES);
  return [...new Set([...requests.keys(), ...gbs.keys()])].sort().map((fn) => {
    const n = requests.get(fn) ?? 0;
    const t = gbs.get(fn) ?? 0;
    // Each invocation is billed in whole milliseconds: rounding takes off what seconds in binary floating point add.
    return { function: fn, requests: n, billedMs: Math.round(billed.get(fn) ?? 0), gbSeconds: t, cost: cost({ gbSeconds: t, requests: n, ...prices }) };
  });
}

export async function costCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', multiple: true },
      service: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      'api-key': { type: 'string', default: process.env.HEARTH_API_KEY },
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
  if (values.service !== undefined && values.url !== undefined) {
    console.error('hearth cost: --url and --service name different sources; pass one of them');
    return 2;
  }
  const apiKey = values['api-key'] || undefined;
  let sources: MetricsSource[];
  let rest: KubeRest | undefined;
  try {
    if (values.service !== undefined) {
      const kc = new KubeConfig();
      if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig);
      else kc.loadFromDefault();
      const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
      rest = new KubeRest(kc);
      sources = await serviceSources(rest, namespace, values.service, apiKey ? { apiKey } : {});
    } else {
      sources = (values.url ?? [process.env.HEARTH_URL ?? 'http://127.0.0.1:8080']).map((u) => urlSource(u, apiKey));
    }
    const scraped = await scrapeAll(sources);
    for (const f of scraped.failed) console.error(`hearth cost: could not read ${f.label}: ${f.error}`);
    if (scraped.read.length === 0) return 1;
    const rows = costRows(scraped.read.map((r) => r.text), prices);
    const partial = scraped.failed.length > 0 ? ` (${scraped.failed.length} of ${sources.length} could not be read and are left out)` : '';
    console.log(`Summed over ${scraped.read.length} gateway${scraped.read.length === 1 ? '' : 's'}${partial}: ${scraped.read.map((r) => r.label).join(', ')}`);
    console.log(`C = k·t + p·n   k = ${prices.pricePerGbSecond} per GB-s, p = ${prices.pricePerRequest} per request\n`);
    console.log(['function'.padEnd(24), 'requests'.padStart(10), 'billed ms'.padStart(12), 'GB-s'.padStart(12), 'cost'.padStart(14)].join(' '));
    for (const r of rows) {
      console.log([r.function.padEnd(24), String(r.requests).padStart(10), String(r.billedMs).padStart(12), r.gbSeconds.toFixed(4).padStart(12), r.cost.toExponential(4).padStart(14)].join(' '));
    }
    // A partial sum is printed (it is still useful) but is not a success.
    return scraped.failed.length > 0 ? 1 : 0;
  } catch (err) {
    console.error(`hearth cost: ${(err as Error).message}`);
    return 1;
  } finally {
    rest?.close();
  }
}
