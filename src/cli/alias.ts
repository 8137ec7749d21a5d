// `hearth alias NAME ALIAS VERSION [--weight VERSION=PERCENT]`: points an
// alias at a version, creating it or updating it, through the gateway
// (Lambda's UpdateAlias, else CreateAlias). Shift, promote and roll back are
// each one command:
//   hearth alias orders live 1 --weight 2=10   # 10 % of live's calls to v2
//   hearth alias orders live 2                 # promote v2
//   hearth alias orders live 1                 # roll back
import { LATEST, VERSION_NUMBER } from '../api/function.js';
import { answerJson, callGateway, describeErrorAnswer, errorMessage, GATEWAY_HELP, parseGatewayCommand, type GatewayTarget } from './gateway-client.js';
import { getProvisioned, provisionedLabel, type ProvisionedConcurrency } from './provisioned-concurrency.js';

const HELP = `usage: hearth alias NAME ALIAS VERSION [--weight VERSION=PERCENT] [--min-instances N] [--description TEXT]

Points the alias at VERSION (a version number, or '$LATEST'), creating it if
it does not exist. The alias is written into the Function (its YAML file
under hearth up, its object in a cluster), so the change is in one place for
GitOps. Calls through NAME:ALIAS follow within a second.

  --weight V=P        send P percent (0-100) of the alias's calls to version V,
                      the rest to VERSION (at most one --weight, as on Lambda);
                      without it every call goes to VERSION
  --min-instances N   instances kept warm for the alias, split between its
                      versions by weight (default: what the alias had, else 0);
                      shown as Lambda's provisioned concurrency: N times the
                      calls one instance runs at once, and whether they are
                      READY yet
  --description TEXT  what the alias is for (default: what it had)
${GATEWAY_HELP}`;

export interface AliasArgs {
  name: string;
  alias: string;
  version: string;
  /** The additional version and its weight (0 to 1). */
  weight?: { version: string; weight: number };
  minInstances?: number;
  description?: string;
}

/** The command's arguments checked, or what is wrong with them. Pure. */
export function parseAliasArgs(positionals: readonly string[], values: { weight?: readonly string[]; 'min-instances'?: string; description?: string }): AliasArgs | string {
  if (positionals.length !== 3) return `expected NAME ALIAS VERSION, got ${positionals.length === 0 ? 'nothing' : positionals.join(' ')}`;
  const [name, alias, version] = positionals as [string, string, string];
  if (version !== LATEST && !VERSION_NUMBER.test(version)) return `VERSION must be a version number or $LATEST (quoted in the shell: '$LATEST'), not ${version}`;
  if (alias === LATEST || /^[0-9]+$/.test(alias)) return `an alias may not be named like a version (${alias})`;
  const out: AliasArgs = { name, alias, version };
  const weights = values.weight ?? [];
  if (weights.length > 1) return 'at most one --weight: an alias sends calls to its version and at most one other, as on Lambda';
  const w = weights[0];
  if (w !== undefined) {
    const m = /^([1-9][0-9]{0,9})=([0-9]+(?:\.[0-9]+)?)%?$/.exec(w);
    if (!m) return `--weight must be VERSION=PERCENT, e.g. 2=10, not ${w}`;
    const [, extra, percent] = m as unknown as [string, string, string];
    const p = Number(percent);
    if (p > 100) return `--weight ${w}: the percentage must lie between 0 and 100`;
    if (extra === version) return `--weight ${w}: version ${extra} is the alias's own version; name the other one`;
    if (version === LATEST) return `--weight needs VERSION to be a published version, not $LATEST`;
    out.weight = { version: extra, weight: Number((p / 100).toFixed(6)) };
  }
  const min = values['min-instances'];
  if (min !== undefined) {
    if (!/^[0-9]+$/.test(min) || Number(min) > 1000) return `--min-instances must be a whole number from 0 to 1000, not ${min}`;
    out.minInstances = Number(min);
  }
  if (values.description !== undefined) {
    if (values.description.length > 256) return `--description may be at most 256 characters, not ${values.description.length}`;
    out.description = values.description;
  }
  return out;
}

interface AliasConfiguration {
  Name: string;
  FunctionVersion: string;
  RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
}

/** "live → 1 (90 %), 2 (10 %); provisioned concurrency 2 (READY)". Pure. */
export function describeAlias(a: AliasConfiguration, provisioned?: ProvisionedConcurrency): string {
  const [extra, weight] = Object.entries(a.RoutingConfig?.AdditionalVersionWeights ?? {})[0] ?? [];
  const pct = (w: number) => `${Math.round(w * 100_000) / 1000} %`;
  const route = extra !== undefined && weight !== undefined ? `${a.FunctionVersion} (${pct(1 - weight)}), ${extra} (${pct(weight)})` : a.FunctionVersion;
  const p = provisionedLabel(provisioned);
  return `${a.Name} → ${route}${p !== '—' ? `; provisioned concurrency ${p}` : ''}`;
}

async function putAlias(target: GatewayTarget, args: AliasArgs): Promise<{ ok: true; alias: AliasConfiguration } | { ok: false; error: string }> {
  const path = `/2015-03-31/functions/${encodeURIComponent(args.name)}/aliases`;
  const fields = {
    FunctionVersion: args.version,
    ...(args.description !== undefined ? { Description: args.description } : {}),
    ...(args.minInstances !== undefined ? { MinInstances: args.minInstances } : {}),
  };
  const weights = args.weight !== undefined ? { [args.weight.version]: args.weight.weight } : {};
  // Twice at most: an alias created by someone else between our update and our create is then updated.
  for (let attempt = 0; attempt < 2; attempt++) {
    const updated = await callGateway(target, 'PUT', `${path}/${encodeURIComponent(args.alias)}`, { body: JSON.stringify({ ...fields, RoutingConfig: { AdditionalVersionWeights: weights } }) });
    if (updated.status < 400) return { ok: true, alias: answerJson(updated) };
    if (updated.status !== 404 || !errorMessage(updated).startsWith('Alias not found')) return { ok: false, error: describeErrorAnswer(updated) };
    const created = await callGateway(target, 'POST', path, {
      body: JSON.stringify({ Name: args.alias, ...fields, ...(args.weight !== undefined ? { RoutingConfig: { AdditionalVersionWeights: weights } } : {}) }),
    });
    if (created.status < 400) return { ok: true, alias: answerJson(created) };
    if (created.status !== 409) return { ok: false, error: describeErrorAnswer(created) };
  }
  return { ok: false, error: `alias ${args.alias} of ${args.name} kept changing under this command; try again` };
}

export async function aliasCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('alias', argv, { weight: { type: 'string', multiple: true }, 'min-instances': { type: 'string' }, description: { type: 'string' } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const args = parseAliasArgs(positionals, values);
  if (typeof args === 'string') {
    console.error(`hearth alias: ${args}\n\n${HELP}`);
    return 2;
  }
  const result = await putAlias(values, args);
  if (!result.ok) {
    console.error(result.error);
    return 1;
  }
  // The alias answer is Lambda's AliasConfiguration, without the minimum: read it back as Lambda does.
  const provisioned = await getProvisioned(values, args.name, args.alias);
  if (provisioned !== undefined && 'error' in provisioned) {
    console.log(describeAlias(result.alias));
    console.error(`hearth alias: the alias is set, but its provisioned concurrency could not be read: ${provisioned.error}`);
    return 0;
  }
  console.log(describeAlias(result.alias, provisioned));
  return 0;
}
