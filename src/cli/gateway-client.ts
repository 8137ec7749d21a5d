// What the commands that talk to a gateway share (hearth invoke, publish,
// alias, versions): where the gateway is (--url or HEARTH_URL), the caller's
// key (--api-key or HEARTH_API_KEY), one request, and how a Lambda error
// answer is shown. The same commands serve hearth up and a cluster.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { request } from 'undici';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';

/** parseArgs options of every gateway command; read at parse time so HEARTH_URL and HEARTH_API_KEY apply. */
export function gatewayOptions() {
  return {
    url: { type: 'string', default: process.env.HEARTH_URL ?? DEFAULT_GATEWAY_URL },
    'api-key': { type: 'string', default: process.env.HEARTH_API_KEY },
  } as const;
}

type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a gateway command's arguments: its own options plus --url,
 * --api-key and --help. A number is what the command exits with: 0 once
 * the help is shown, 2 after a usage error printed with the help.
 */
export function parseGatewayCommand<O extends CommandOptions>(command: string, argv: string[], options: O, help: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { ...options, ...gatewayOptions(), help: { type: 'boolean', short: 'h' } } as const });
  } catch (err) {
    console.error(`hearth ${command}: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  // Inside this generic function the values' type is not yet known; at each caller it is.
  if ((parsed.values as { help?: boolean }).help === true) {
    console.log(help);
    return 0;
  }
  return parsed;
}

/** The one function a command names, or undefined after printing why not. */
export function oneFunction(command: string, positionals: readonly string[], help: string): string | undefined {
  const [name, ...extra] = positionals;
  if (name !== undefined && extra.length === 0) return name;
  console.error(name === undefined ? help : `hearth ${command}: one function at a time, not ${positionals.join(' ')}\n\n${help}`);
  return undefined;
}

export const GATEWAY_HELP = `  --url URL       the gateway (default: $HEARTH_URL or ${DEFAULT_GATEWAY_URL})
  --api-key KEY   the caller's API key (default: $HEARTH_API_KEY)`;

export interface GatewayTarget {
  url: string;
  'api-key'?: string | undefined;
}

export interface GatewayAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function callGateway(
  target: GatewayTarget,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<GatewayAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  if (target['api-key']) headers.authorization = `Bearer ${target['api-key']}`;
  let res;
  try {
    res = await request(`${target.url.replace(/\/$/, '')}${path}`, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${target.url} (${(err as Error).message}); set --url or HEARTH_URL`, { cause: err });
  }
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** A JSON answer's body, or an error naming what came instead. */
export function answerJson<T>(answer: GatewayAnswer): T {
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw new Error(`the gateway answered ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 200)}`);
  }
}

/** The message of a Lambda error answer (its JSON message), or the body as it came. */
export function errorMessage(answer: GatewayAnswer): string {
  try {
    const m = (JSON.parse(answer.text) as { message?: unknown }).message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON: shown as it came
  }
  return answer.text;
}

/** "ResourceNotFoundException (404): Function not found: ..." as the commands print an error answer. */
export function describeErrorAnswer(answer: GatewayAnswer): string {
  const retry = answer.headers['retry-after'];
  return `${String(answer.headers['x-amzn-errortype'] ?? 'Error')} (${answer.status}): ${errorMessage(answer)}${typeof retry === 'string' ? ` (retry after ${retry} s)` : ''}`;
}

/**
 * Every page of a Lambda list (ListFunctions, ListVersionsByFunction,
 * ListAliases): the items under `key`, following NextMarker until the
 * gateway gives none, or the error answer as the commands print it.
 */
export async function listPages<T>(target: GatewayTarget, path: string, key: string, maxItems: number): Promise<T[] | { error: string; status: number }> {
  const out: T[] = [];
  const sep = path.includes('?') ? '&' : '?';
  let marker: string | undefined;
  // Bounded: 10,000 pages is more than any list here has; a gateway repeating a marker ends it too.
  for (let page = 0; page < 10_000; page++) {
    const res = await callGateway(target, 'GET', `${path}${sep}MaxItems=${maxItems}${marker !== undefined ? `&Marker=${encodeURIComponent(marker)}` : ''}`);
    if (res.status >= 400) return { error: describeErrorAnswer(res), status: res.status };
    const body = answerJson<Record<string, unknown>>(res);
    const items = body[key];
    if (items !== undefined && !Array.isArray(items)) throw new Error(`the gateway answered a list without an array ${key}: ${res.text.slice(0, 200)}`);
    out.push(...((items as T[] | undefined) ?? []));
    const next = typeof body.NextMarker === 'string' && body.NextMarker !== '' ? body.NextMarker : undefined;
    if (next === undefined || next === marker) break;
    marker = next;
  }
  return out;
}

/** A table with a header row, columns padded to their widest cell. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}
