// `hearth get NAME[:QUALIFIER]`: one function as Lambda's GetFunction gives
// it (Configuration, Code, Concurrency, Tags), read through the gateway and
// shown readable; --json prints the answer as it came.
import { runtimeCell, type FunctionConfiguration } from './function-configuration.js';
import { answerJson, callGateway, describeErrorAnswer, GATEWAY_HELP, oneFunction, parseGatewayCommand } from './gateway-client.js';

const HELP = `usage: hearth get NAME[:QUALIFIER] [--json] [--url URL] [--api-key KEY]

Shows one function: its configuration (runtime, handler, memory, timeout,
state, the last update's status, the names of its environment variables,
role, revision), where its code is, its reserved concurrency and its tags.
QUALIFIER is a published version number, an alias or $LATEST (quoted in the
shell: 'NAME:$LATEST'); NAME may also be the function's ARN.

  --json          print the GetFunction answer as the gateway gives it
                  (environment variable values included)
${GATEWAY_HELP}`;

/** Lambda's GetFunction output (botocore's GetFunctionResponse), the members shown. */
export interface GetFunctionAnswer {
  Configuration?: FunctionConfiguration;
  Code?: { RepositoryType?: string; Location?: string; ImageUri?: string; ResolvedImageUri?: string };
  Tags?: Record<string, string>;
  TagsError?: { ErrorCode: string; Message: string };
  Concurrency?: { ReservedConcurrentExecutions?: number };
}

/** NAME[:QUALIFIER] as the path's name and the Qualifier query; an ARN goes to the gateway as it is. Pure. */
export function functionRef(arg: string): { name: string; qualifier?: string } | string {
  if (arg.startsWith('arn:')) return { name: arg };
  const at = arg.indexOf(':');
  if (at < 0) return { name: arg };
  const name = arg.slice(0, at);
  const qualifier = arg.slice(at + 1);
  if (name === '' || qualifier === '' || qualifier.includes(':')) return `expected NAME or NAME:QUALIFIER, not ${arg}`;
  return { name, qualifier };
}

const units = (n: number | undefined, unit: string) => (n === undefined ? undefined : `${n} ${unit}`);

/** Lambda's base64 CodeSha256 in hex, as Hearth writes digests elsewhere. */
const hexDigest = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

function withReason(status: string | undefined, code: string | undefined, reason: string | undefined): string | undefined {
  if (status === undefined) return undefined;
  const why = [code, reason].filter((x) => x !== undefined && x !== '').join(': ');
  return why === '' ? status : `${status} (${why})`;
}

type Lines = readonly (readonly [string, string | undefined])[];

/** Sections of `label  value` lines, the labels padded to one width; lines without a value and empty sections left out. */
function sections(parts: readonly (readonly [string, Lines])[]): string[] {
  const shown = parts.map(([title, lines]) => [title, lines.filter((l): l is readonly [string, string] => l[1] !== undefined && l[1] !== '')] as const).filter(([, lines]) => lines.length > 0);
  const width = Math.max(0, ...shown.flatMap(([, lines]) => lines.map(([k]) => k.length)));
  return shown.flatMap(([title, lines]) => [title, ...lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)]);
}

/** The readable form of a GetFunction answer. Environment variables by name only: values can be secrets. Pure. */
export function describeFunction(answer: GetFunctionAnswer): string {
  const c = answer.Configuration;
  const out: string[] = [];
  const parts: (readonly [string, Lines])[] = [];
  if (c !== undefined) {
    const envNames = Object.keys(c.Environment?.Variables ?? {}).sort();
    const pkg = [c.PackageType, units(c.CodeSize, 'bytes'), c.CodeSha256 !== undefined && c.CodeSha256 !== '' ? `sha256 ${hexDigest(c.CodeSha256)}` : undefined].filter((x) => x !== undefined).join(', ');
    out.push(`${c.FunctionName}${c.FunctionArn !== undefined ? `  ${c.FunctionArn}` : ''}`);
    parts.push([
      'Configuration',
      [
        ['Description', c.Description],
        ['Version', c.Version],
        ['Runtime', c.Runtime !== undefined || c.PackageType !== undefined ? runtimeCell(c) : undefined],
        ['Handler', c.Handler],
        ['Memory', units(c.MemorySize, 'MB')],
        ['Ephemeral storage', units(c.EphemeralStorage?.Size, 'MB')],
        ['Timeout', units(c.Timeout, 's')],
        ['State', withReason(c.State, c.StateReasonCode, c.StateReason)],
        ['Last update', withReason(c.LastUpdateStatus, c.LastUpdateStatusReasonCode, c.LastUpdateStatusReason)],
        ['Last modified', c.LastModified],
        ['Environment', envNames.length > 0 ? `${envNames.join(', ')} (values: --json)` : undefined],
        ['Environment error', c.Environment?.Error !== undefined ? [c.Environment.Error.ErrorCode, c.Environment.Error.Message].filter((x) => x !== undefined).join(': ') : undefined],
        ['Role', c.Role],
        ['Layers', (c.Layers ?? []).map((l) => l.Arn ?? '?').join(', ')],
        ['Architectures', (c.Architectures ?? []).join(', ')],
        ['Package', pkg],
        ['Revision', c.RevisionId],
      ],
    ]);
  }
  const code = answer.Code;
  if (code !== undefined) {
    parts.push([
      'Code',
      [
        ['Repository type', code.RepositoryType],
        ['Location', code.Location],
        ['Image', code.ImageUri],
        ['Resolved image', code.ResolvedImageUri],
      ],
    ]);
  }
  const reserved = answer.Concurrency?.ReservedConcurrentExecutions;
  parts.push(['Concurrency', [['Reserved', reserved === undefined ? 'none (draws on the unreserved pool)' : String(reserved)]]]);
  out.push(...sections(parts));
  // Tags have their own width: a key may be 128 characters long.
  const tags = Object.entries(answer.Tags ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (answer.TagsError !== undefined) out.push('Tags', `  ${answer.TagsError.ErrorCode}: ${answer.TagsError.Message}`);
  else out.push(...(tags.length > 0 ? sections([['Tags', tags]]) : ['Tags', '  none']));
  return out.join('\n');
}

export async function getCommand(argv: string[]): Promise<number> {
  const parsed = parseGatewayCommand('get', argv, { json: { type: 'boolean', default: false } }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const arg = oneFunction('get', positionals, HELP);
  if (arg === undefined) return 2;
  const ref = functionRef(arg);
  if (typeof ref === 'string') {
    console.error(`hearth get: ${ref}\n\n${HELP}`);
    return 2;
  }
  const res = await callGateway(values, 'GET', `/2015-03-31/functions/${encodeURIComponent(ref.name)}${ref.qualifier !== undefined ? `?Qualifier=${encodeURIComponent(ref.qualifier)}` : ''}`);
  if (res.status >= 400) {
    console.error(describeErrorAnswer(res));
    return 1;
  }
  const answer = answerJson<GetFunctionAnswer>(res);
  console.log(values.json ? JSON.stringify(answer, null, 2) : describeFunction(answer));
  return 0;
}
