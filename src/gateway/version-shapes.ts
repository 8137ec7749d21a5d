// The JSON Lambda's control API answers with for versions and aliases
// (FunctionConfiguration, AliasConfiguration), built from Hearth's objects,
// and the request bodies it takes, read into Hearth's. Pure.
import { createHash } from 'node:crypto';
import { effectiveHandler, LATEST, type Alias, type AliasInput, type FunctionSpec, type Runtime } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';
import type { Problem } from '../api/validate.js';
import { badParameter, type LambdaError } from './lambda-errors.js';

/** Lambda's runtime identifiers. Go functions run as a custom runtime on Lambda today. */
const LAMBDA_RUNTIME: Record<Runtime, string> = {
  nodejs20: 'nodejs20.x',
  nodejs22: 'nodejs22.x',
  'python3.11': 'python3.11',
  'python3.12': 'python3.12',
  'python3.13': 'python3.13',
  go: 'provided.al2023',
  provided: 'provided.al2023',
};

/** A revision id in Lambda's shape (a UUID), derived from the content, so it changes exactly when the content does. */
export function revisionId(content: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(content)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Lambda's CodeSha256 is base64 of the digest's bytes; Hearth keeps hex. */
export function codeSha256(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** A CodeSha256 as a caller sends it (Lambda's base64, or hex) as hex; undefined when it is neither. */
export function digestHex(value: string): string | undefined {
  if (/^[a-fA-F0-9]{64}$/.test(value)) return value.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(value)) return Buffer.from(value, 'base64').toString('hex');
  return undefined;
}

/** Lambda's time format: 2024-05-01T12:00:00.000+0000. */
export function lambdaTime(iso: string | undefined): string | undefined {
  if (iso === undefined) return undefined;
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString().replace('Z', '+0000');
}

function creationTimestamp(v: FunctionVersion): string | undefined {
  const ts = (v.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  return typeof ts === 'string' ? ts : undefined;
}

/** Lambda's FunctionConfiguration of one version ($LATEST when `version` is undefined). */
export function functionConfiguration(name: string, functionArn: string, spec: FunctionSpec, version?: FunctionVersion): Record<string, unknown> {
  const runs = version?.spec.snapshot ?? spec;
  const qualifier = version?.spec.version ?? LATEST;
  const body: Record<string, unknown> = {
    FunctionName: name,
    FunctionArn: `${functionArn}:${qualifier}`,
    Runtime: LAMBDA_RUNTIME[runs.runtime],
    Handler: effectiveHandler(runs),
    MemorySize: runs.memoryMB,
    Timeout: runs.timeoutSeconds,
    EphemeralStorage: { Size: runs.ephemeralStorageMB },
    PackageType: runs.code.image !== undefined ? 'Image' : 'Zip',
    Version: qualifier,
    Description: version?.spec.description ?? '',
    State: 'Active',
    LastUpdateStatus: 'Successful',
  };
  if (version !== undefined) {
    body.CodeSha256 = codeSha256(version.spec.codeSha256);
    const modified = lambdaTime(creationTimestamp(version));
    if (modified !== undefined) body.LastModified = modified;
    body.RevisionId = revisionId({ version: version.spec.version, digest: version.spec.codeSha256, description: version.spec.description });
  }
  return body;
}

/** Lambda's AliasConfiguration, with Hearth's MinInstances (provisioned instances of the alias) beside it. */
export function aliasConfiguration(functionArn: string, alias: Alias): Record<string, unknown> {
  const weights = alias.additionalVersionWeights;
  return {
    AliasArn: `${functionArn}:${alias.name}`,
    Name: alias.name,
    FunctionVersion: alias.version,
    Description: alias.description ?? '',
    ...(weights !== undefined && Object.keys(weights).length > 0 ? { RoutingConfig: { AdditionalVersionWeights: weights } } : {}),
    MinInstances: alias.minInstances,
    RevisionId: aliasRevision(alias),
  };
}

export function aliasRevision(alias: Alias): string {
  return revisionId({ n: alias.name, v: alias.version, w: alias.additionalVersionWeights ?? {}, m: alias.minInstances, d: alias.description ?? '' });
}

/** Lambda's field names for the alias fields of the Function, so an error names what the caller sent. */
const LAMBDA_FIELD: Record<string, string> = {
  name: 'Name',
  version: 'FunctionVersion',
  additionalVersionWeights: 'RoutingConfig.AdditionalVersionWeights',
  minInstances: 'MinInstances',
  description: 'Description',
};

/** "RoutingConfig.AdditionalVersionWeights["2"] (spec.aliases[0].additionalVersionWeights["2"]): must be at most 1". */
export function describeProblem(p: Problem): string {
  const m = /^spec\.aliases\[\d+\]\.([A-Za-z]+)(.*)$/.exec(p.path);
  const field = m?.[1] !== undefined ? LAMBDA_FIELD[m[1]] : undefined;
  return field !== undefined ? `${field}${m?.[2] ?? ''} (${p.path}): ${p.message}` : `${p.path || '(request)'}: ${p.message}`;
}

type Body = Record<string, unknown>;

function optionalString(body: Body, field: string, max: number): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badParameter(`${field} must be a string`);
  if (v.length > max) throw badParameter(`${field} must be at most ${max} characters long`);
  return v;
}

function weightsOf(body: Body): Record<string, number> | undefined {
  const rc = body.RoutingConfig;
  if (rc === undefined || rc === null) return undefined;
  if (typeof rc !== 'object' || Array.isArray(rc)) throw badParameter('RoutingConfig must be an object');
  const w = (rc as Body).AdditionalVersionWeights;
  if (w === undefined || w === null) return {};
  if (typeof w !== 'object' || Array.isArray(w)) throw badParameter('RoutingConfig.AdditionalVersionWeights must map version numbers to weights');
  for (const [k, n] of Object.entries(w as Body)) {
    if (typeof n !== 'number') throw badParameter(`RoutingConfig.AdditionalVersionWeights["${k}"] must be a number between 0 and 1`);
  }
  return w as Record<string, number>;
}

function minInstancesOf(body: Body): number | undefined {
  const v = body.MinInstances;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw badParameter('MinInstances must be an integer');
  return v;
}

/** The body of CreateAlias as an alias; the store checks the values. */
export function createAliasInput(body: Body): AliasInput {
  const name = body.Name;
  const version = body.FunctionVersion;
  if (typeof name !== 'string' || name === '') throw badParameter('Name is required');
  if (typeof version !== 'string' || version === '') throw badParameter('FunctionVersion is required');
  const description = optionalString(body, 'Description', 256);
  const weights = weightsOf(body);
  const min = minInstancesOf(body);
  return {
    name,
    version,
    ...(weights !== undefined && Object.keys(weights).length > 0 ? { additionalVersionWeights: weights } : {}),
    ...(min !== undefined ? { minInstances: min } : {}),
    ...(description !== undefined && description !== '' ? { description } : {}),
  };
}

/**
 * UpdateAlias over the alias as it is: what the body leaves out stays (as on
 * Lambda), a RoutingConfig without weights removes the additional version,
 * an empty Description removes the description.
 */
export function updatedAliasInput(current: Alias, body: Body): AliasInput {
  const version = body.FunctionVersion;
  if (version !== undefined && version !== null && (typeof version !== 'string' || version === '')) throw badParameter('FunctionVersion must be a version number or $LATEST');
  const description = optionalString(body, 'Description', 256);
  const weights = weightsOf(body);
  const min = minInstancesOf(body);
  const nextWeights = weights ?? current.additionalVersionWeights;
  const nextDescription = description ?? current.description;
  return {
    name: current.name,
    version: typeof version === 'string' ? version : current.version,
    ...(nextWeights !== undefined && Object.keys(nextWeights).length > 0 ? { additionalVersionWeights: nextWeights } : {}),
    minInstances: min ?? current.minInstances,
    ...(nextDescription !== undefined && nextDescription !== '' ? { description: nextDescription } : {}),
  };
}

/** A JSON object body (an empty body is an empty object); Lambda's 400 otherwise. */
export function jsonObjectBody(raw: unknown, invalid: (detail: string) => LambdaError): Body {
  const buf = Buffer.isBuffer(raw) ? raw : undefined;
  if (buf === undefined || buf.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('the body must be a JSON object');
  return parsed as Body;
}
