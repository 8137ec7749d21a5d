// `hearth ls`: the functions the caller may see, read through the gateway
// (Lambda's ListFunctions, every page), one line each. With --versions, each
// function's latest published version and its aliases too (one
// ListVersionsByFunction and one ListAliases per function).
import { aliasSummary } from '../versions/alias-problems.js';
import { runtimeCell, stateCell, type FunctionConfiguration } from './function-configuration.js';
import { GATEWAY_HELP, listPages, parseGatewayCommand, table, type GatewayTarget } from './gateway-client.js';

const HELP = `usage: hearth ls [--versions] [--json] [--url URL] [--api-key KEY]

Lists the functions, one line each: NAME RUNTIME STATE LAST-MODIFIED
DESCRIPTION. STATE is Lambda's State (Pending, Active, Failed), with
", updating" while a change is being rolled out and ", update failed" when
the last one could not be.

  --versions      add VERSION (the latest published version) and ALIASES
                  (live=2 canary=3+4@10%); one more pair of requests per function
  --json          print {"Functions": [...]} as the gateway gives them (with
                  --versions also "Versions" and "Aliases" by function name)
${GATEWAY_HELP}`;

interface VersionEntry {
  Version: string;
}

interface AliasEntry {
  Name: string;
  FunctionVersion: string;
  RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
}

/** A function's versions and aliases as the gateway lists them. */
export interface FunctionVersions {
  versions: VersionEntry[];
  aliases: AliasEntry[];
}

const DESCRIPTION_WIDTH = 50;

function shorten(text: string, width: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > width ? `${one.slice(0, width - 1)}…` : one;
}

/** The highest published version number, or '-' when only $LATEST exists. */
export function latestPublished(versions: readonly VersionEntry[]): string {
  const numbers = versions.map((v) => v.Version).filter((v) => /^[0-9]+$/.test(v)).map(Number);
  return numbers.length > 0 ? String(Math.max(...numbers)) : '-';
}

/** The table `hearth ls` prints, by name; with `versions`, VERSION and ALIASES columns too. Pure. */
export function functionsTable(functions: readonly FunctionConfiguration[], versions?: ReadonlyMap<string, FunctionVersions>): string {
  const sorted = [...functions].sort((a, b) => a.FunctionName.localeCompare(b.FunctionName));
  const head = versions === undefined ? ['NAME', 'RUNTIME', 'STATE', 'LAST-MODIFIED', 'DESCRIPTION'] : ['NAME', 'RUNTIME', 'STATE', 'VERSION', 'ALIASES', 'LAST-MODIFIED', 'DESCRIPTION'];
  const rows = sorted.map((f) => {
    const described = [f.LastModified ?? '-', shorten(f.Description ?? '', DESCRIPTION_WIDTH)];
    const start = [f.FunctionName, runtimeCell(f), stateCell(f)];
    if (versions === undefined) return [...start, ...described];
    const v = versions.get(f.FunctionName);
    const aliases = v === undefined ? undefined : aliasSummary({ spec: { aliases: v.aliases.map((a) => ({ name: a.Name, version: a.FunctionVersion, additionalVersionWeights: a.RoutingConfig?.AdditionalVersionWeights })) } });
    return [...start, v === undefined ? '?' : latestPublished(v.versions), aliases ?? '-', ...described];
  });
  return table(head, rows);
}

/** Runs `work` over the items, at most `limit` at once, keeping their order. */
async function inTurns<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Versions and aliases of each function; a function deleted since it was listed is left out. */
async function versionsOf(target: GatewayTarget, names: readonly string[]): Promise<Map<string, FunctionVersions> | { error: string }> {
  const found = await inTurns(names, 4, async (name) => {
    const base = `/2015-03-31/functions/${encodeURIComponent(name)}`;
    const versions = await listPages<VersionEntry>(target, `${base}/versions`, 'Versions', 1000);
    if ('error' in versions) return versions;
    const aliases = await listPages<AliasEntry>(target, `${base}/aliases`, 'Aliases', 1000);
    if ('error' in aliases) return aliases;
    return { name, versions, aliases };
  });
  const out = new Map<string, FunctionVersions>();
  for (const f of found) {
    if ('error' in f) {
      if (f.status === 404) continue;
      return f;
    }
    out.set(f.name, { versions: f.versions, aliases: f.aliases });
  }
  return out;
}

export async function lsCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('ls', argv, { json: { type: 'boolean', default: false }, versions: { type: 'boolean', default: false } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    console.error(`hearth ls: takes no arguments, not ${positionals.join(' ')} (hearth get NAME shows one function)\n\n${HELP}`);
    return 2;
  }
  // Lambda's own page size limit for ListFunctions is 50.
  const functions = await listPages<FunctionConfiguration>(values, '/2015-03-31/functions/', 'Functions', 50);
  if ('error' in functions) {
    console.error(functions.error);
    return 1;
  }
  let versions: Map<string, FunctionVersions> | undefined;
  if (values.versions) {
    const read = await versionsOf(values, functions.map((f) => f.FunctionName));
    if ('error' in read) {
      console.error(read.error);
      return 1;
    }
    versions = read;
  }
  if (values.json) {
    const byName = (pick: (v: FunctionVersions) => unknown) => Object.fromEntries([...(versions ?? new Map<string, FunctionVersions>())].map(([name, v]) => [name, pick(v)]));
    console.log(JSON.stringify(versions === undefined ? { Functions: functions } : { Functions: functions, Versions: byName((v) => v.versions), Aliases: byName((v) => v.aliases) }, null, 2));
    return 0;
  }
  // A function deleted between the list and its versions is not shown as if it had none.
  const shown = versions === undefined ? functions : functions.filter((f) => versions.has(f.FunctionName));
  // As kubectl says "No resources found": on stderr, so stdout stays a table or nothing.
  if (shown.length === 0) console.error('No functions.');
  else console.log(functionsTable(shown, versions));
  return 0;
}
