// `hearth versions NAME`: the function's versions and its aliases, read
// through the gateway (Lambda's ListVersionsByFunction and ListAliases).
import { GATEWAY_HELP, listPages, oneFunction, parseGatewayCommand, table } from './gateway-client.js';
import { listProvisioned, provisionedLabel, type ProvisionedConcurrency } from './provisioned-concurrency.js';

const HELP = `usage: hearth versions NAME [--json] [--url URL] [--api-key KEY]

Lists $LATEST and the published versions of the function, with the share of
each alias's calls each version takes, then the aliases with their
provisioned concurrency (the alias's minInstances times the calls one
instance runs at once, and whether they are READY yet).

  --json          print {"Versions": [...], "Aliases": [...], "ProvisionedConcurrencyConfigs": [...]}
                  as the gateway gives them
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

/** The two tables `hearth versions` prints; `provisioned` by alias name, '?' for every alias when it could not be read. Pure. */
export function versionsReport(versions: readonly VersionConfiguration[], aliases: readonly AliasConfiguration[], provisioned: ReadonlyMap<string, ProvisionedConcurrency> | '?' = new Map()): string {
  const rows = versions.map((v) => [v.Version, v.LastModified ?? '', v.CodeSha256 !== undefined ? Buffer.from(v.CodeSha256, 'base64').toString('hex').slice(0, 12) : '', aliasesOf(v.Version, aliases), v.Description ?? '']);
  const out = [table(['VERSION', 'PUBLISHED', 'DIGEST', 'ALIASES', 'DESCRIPTION'], rows)];
  if (aliases.length > 0) {
    const aliasRows = aliases.map((a) => {
      const [extra, weight] = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {})[0] ?? [];
      const routing = extra !== undefined && weight !== undefined ? `${a.FunctionVersion} ${percent(1 - weight)}, ${extra} ${percent(weight)}` : `${a.FunctionVersion} 100 %`;
      return [a.Name, a.FunctionVersion, routing, provisioned === '?' ? '?' : provisionedLabel(provisioned.get(a.Name)), a.Description ?? ''];
    });
    out.push('', table(['ALIAS', 'VERSION', 'ROUTING', 'PROVISIONED', 'DESCRIPTION'], aliasRows));
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
  const versions = await listPages<VersionConfiguration>(values, `${base}/versions`, 'Versions', 1000);
  if ('error' in versions) {
    console.error(versions.error);
    return 1;
  }
  const aliases = await listPages<AliasConfiguration>(values, `${base}/aliases`, 'Aliases', 1000);
  if ('error' in aliases) {
    console.error(aliases.error);
    return 1;
  }
  // Aliases' minimums are Lambda's provisioned concurrency, a list of its own; a caller not allowed to read it still sees the rest.
  const provisioned = aliases.length > 0 ? await listProvisioned(values, name) : new Map<string, ProvisionedConcurrency>();
  if ('error' in provisioned) console.error(`hearth versions: provisioned concurrency could not be read: ${provisioned.error}`);
  const configs = 'error' in provisioned ? undefined : [...provisioned.values()];
  console.log(
    values.json
      ? JSON.stringify({ Versions: versions, Aliases: aliases, ...(configs !== undefined ? { ProvisionedConcurrencyConfigs: configs } : {}) }, null, 2)
      : versionsReport(versions, aliases, 'error' in provisioned ? '?' : provisioned),
  );
  return 0;
}
