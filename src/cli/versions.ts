// `hearth versions NAME`: the function's versions and its aliases, read
// through the gateway (Lambda's ListVersionsByFunction and ListAliases).
import { answerJson, callGateway, describeErrorAnswer, GATEWAY_HELP, oneFunction, parseGatewayCommand, table, type GatewayTarget } from './gateway-client.js';

const HELP = `usage: hearth versions NAME [--json] [--url URL] [--api-key KEY]

Lists $LATEST and the published versions of the function, with the share of
each alias's calls each version takes, then the aliases.

  --json          print {"Versions": [...], "Aliases": [...]} as the gateway gives them
${GATEWAY_HELP}`;

interface VersionConfiguration {
  Version: string;
  Description?: string;
  LastModified?: string;
  CodeSha256?: string;
}

interface AliasConfiguration {
  Name: string;
  FunctionVersion: string;
  Description?: string;
  RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
  MinInstances?: number;
}

/** Every page of a Lambda list. */
async function listAll<T>(target: GatewayTarget, path: string, key: 'Versions' | 'Aliases'): Promise<T[] | { error: string }> {
  const out: T[] = [];
  let marker: string | undefined;
  // Bounded: 10,000 pages of 50 is more than any function has.
  for (let page = 0; page < 10_000; page++) {
    const res = await callGateway(target, 'GET', `${path}?MaxItems=1000${marker !== undefined ? `&Marker=${encodeURIComponent(marker)}` : ''}`);
    if (res.status >= 400) return { error: describeErrorAnswer(res) };
    const body = answerJson<Record<string, unknown>>(res);
    out.push(...((body[key] as T[] | undefined) ?? []));
    marker = typeof body.NextMarker === 'string' ? body.NextMarker : undefined;
    if (marker === undefined) break;
  }
  return out;
}

const percent = (w: number) => `${Math.round(w * 100_000) / 1000} %`;

/** Which aliases send calls to a version, and what share of each. */
function aliasesOf(version: string, aliases: readonly AliasConfiguration[]): string {
  const parts: string[] = [];
  for (const a of aliases) {
    const [extra, weight] = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {})[0] ?? [];
    if (a.FunctionVersion === version) parts.push(extra !== undefined && weight !== undefined ? `${a.Name} (${percent(1 - weight)})` : a.Name);
    else if (extra === version && weight !== undefined) parts.push(`${a.Name} (${percent(weight)})`);
  }
  return parts.join(', ');
}

/** The two tables `hearth versions` prints. Pure. */
export function versionsReport(versions: readonly VersionConfiguration[], aliases: readonly AliasConfiguration[]): string {
  const rows = versions.map((v) => [v.Version, v.LastModified ?? '', v.CodeSha256 !== undefined ? Buffer.from(v.CodeSha256, 'base64').toString('hex').slice(0, 12) : '', aliasesOf(v.Version, aliases), v.Description ?? '']);
  const out = [table(['VERSION', 'PUBLISHED', 'DIGEST', 'ALIASES', 'DESCRIPTION'], rows)];
  if (aliases.length > 0) {
    const aliasRows = aliases.map((a) => {
      const [extra, weight] = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {})[0] ?? [];
      const routing = extra !== undefined && weight !== undefined ? `${a.FunctionVersion} ${percent(1 - weight)}, ${extra} ${percent(weight)}` : `${a.FunctionVersion} 100 %`;
      return [a.Name, a.FunctionVersion, routing, String(a.MinInstances ?? 0), a.Description ?? ''];
    });
    out.push('', table(['ALIAS', 'VERSION', 'ROUTING', 'MIN INSTANCES', 'DESCRIPTION'], aliasRows));
  }
  return out.join('\n');
}

export async function versionsCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('versions', argv, { json: { type: 'boolean', default: false } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const name = oneFunction('versions', positionals, HELP);
  if (name === undefined) return 2;
  const base = `/2015-03-31/functions/${encodeURIComponent(name)}`;
  const versions = await listAll<VersionConfiguration>(values, `${base}/versions`, 'Versions');
  if ('error' in versions) {
    console.error(versions.error);
    return 1;
  }
  const aliases = await listAll<AliasConfiguration>(values, `${base}/aliases`, 'Aliases');
  if ('error' in aliases) {
    console.error(aliases.error);
    return 1;
  }
  console.log(values.json ? JSON.stringify({ Versions: versions, Aliases: aliases }, null, 2) : versionsReport(versions, aliases));
  return 0;
}
