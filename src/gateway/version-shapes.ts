// The JSON Lambda's control API answers with for aliases
// (AliasConfiguration), built from Hearth's objects, and the alias request
// bodies it takes, read into Hearth's. Pure. FunctionConfiguration and the
// shared formats (RevisionId, CodeSha256, times) live in src/control/.
import type { Alias, AliasInput } from '../api/function.js';
import { optionalString, type Body } from '../control/body-fields.js';
import { revisionId } from '../control/revision.js';
import { badParameter, type LambdaError } from './lambda-errors.js';

/**
 * Lambda's AliasConfiguration, exactly the members of Lambda's model (AWS's
 * clients and the conformance test reject others). The alias's minInstances
 * is read back as Lambda's provisioned concurrency (GetProvisionedConcurrencyConfig,
 * src/control/provisioned.ts); it still moves RevisionId (aliasRevision hashes it).
 */
export function aliasConfiguration(functionArn: string, alias: Alias): Record<string, unknown> {
  const weights = alias.additionalVersionWeights;
  return {
    AliasArn: `${functionArn}:${alias.name}`,
    Name: alias.name,
    FunctionVersion: alias.version,
    Description: alias.description ?? '',
    ...(weights !== undefined && Object.keys(weights).length > 0 ? { RoutingConfig: { AdditionalVersionWeights: weights } } : {}),
    RevisionId: aliasRevision(alias),
  };
}

export function aliasRevision(alias: Alias): string {
  return revisionId({ n: alias.name, v: alias.version, w: alias.additionalVersionWeights ?? {}, m: alias.minInstances, d: alias.description ?? '' });
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

/**
 * Hearth's extension of CreateAlias and UpdateAlias: `MinInstances`, the
 * alias's provisioned instances, set in the same call (`hearth alias
 * --min-instances`). A request may carry members Lambda's model lacks; the
 * answer never does.
 */
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
    // UpdateAlias says nothing of the alias's function URL: its settings stay.
    ...(current.url !== undefined ? { url: current.url } : {}),
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
