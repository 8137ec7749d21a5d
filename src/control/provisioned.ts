// Lambda's provisioned concurrency ↔ an alias's minInstances. Hearth keeps
// provisioned instances on aliases only (a version number or $LATEST is
// refused). Lambda counts concurrent executions, Hearth instances, each
// running `concurrency` calls at once: a request for R executions asks for
// ceil(R / concurrency) instances of the alias's version, and the alias's
// minimum is split between its versions by weight (aliasMinimums). Status is
// IN_PROGRESS until every unit the alias sends calls to has the instances all
// aliases ask of it ready, then READY. Pure.
import { LATEST, VERSION_NUMBER, type Alias, type FunctionSpec } from '../api/function.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { aliasMinimums, unitKey } from '../versions/units.js';
import { lambdaTime } from './revision.js';

/** The alias a provisioned-concurrency request names; refused for $LATEST and version numbers. */
export function provisionedQualifier(qualifier: string | undefined): string {
  if (qualifier === undefined || qualifier === '') throw badParameter('Qualifier is required: the alias whose provisioned concurrency this is');
  if (qualifier === LATEST) throw badParameter('Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
  if (VERSION_NUMBER.test(qualifier)) {
    throw badParameter(`Qualifier ${qualifier}: Hearth keeps provisioned concurrency on aliases (an alias's minInstances); create an alias for version ${qualifier} and name it instead`);
  }
  return qualifier;
}

/** Instances for R concurrent executions of a version running `concurrency` calls per instance. */
export function instancesFor(executions: number, concurrency: number): number {
  return Math.ceil(executions / Math.max(1, concurrency));
}

export interface UnitReadiness {
  /** Ready instances of a unit (NAME or NAME:N). */
  readyInstances(unitKey: string): number;
  /** Calls one instance of the version runs at once. */
  concurrency(version: string): number;
  /** The version's maxInstances (a unit never starts more). */
  maxInstances(version: string): number;
}

/** Lambda's ProvisionedConcurrencyConfig of an alias with minInstances > 0. */
export function provisionedConfig(fnName: string, spec: Pick<FunctionSpec, 'aliases'>, alias: Alias, units: UnitReadiness, lastModified: string | undefined): Record<string, unknown> {
  const mine = aliasMinimums([alias]);
  const all = aliasMinimums(spec.aliases);
  // What was asked: the alias's instances at its main version's concurrency (Put stored ceil(R / concurrency)).
  const requested = alias.minInstances * units.concurrency(alias.version);
  let allocated = 0;
  let ready = true;
  for (const [version, share] of mine) {
    const c = units.concurrency(version);
    const need = Math.min(all.get(version) ?? share, units.maxInstances(version));
    const have = units.readyInstances(unitKey(fnName, version));
    allocated += Math.min(have, share) * c;
    if (have < need) ready = false;
  }
  const modified = lambdaTime(lastModified);
  const capped = Math.min(allocated, requested);
  return {
    RequestedProvisionedConcurrentExecutions: requested,
    AvailableProvisionedConcurrentExecutions: capped,
    AllocatedProvisionedConcurrentExecutions: capped,
    Status: ready ? 'READY' : 'IN_PROGRESS',
    ...(ready ? {} : { StatusReason: 'Waiting for the provisioned instances to become ready.' }),
    ...(modified !== undefined ? { LastModified: modified } : {}),
  };
}
