// What runs: a serving unit is one version of one function, with its own
// instances, scaling and metrics. Everything that scales or dispatches (the
// backends, the autoscaler, the dispatcher's loads) keys on the unit's key,
// so a version is part of the key, never a branch beside it:
//   NAME       the function's $LATEST
//   NAME:N     its published version N
// Function names are DNS labels, so the colon cannot be part of a name. A
// unit is handed around as a HearthFunction whose metadata.name is its key
// and whose spec is what that version runs.
import { createHash } from 'node:crypto';
import { LATEST, type Alias, type HearthFunction } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';

export type ServingUnit = HearthFunction;

export function unitKey(name: string, version: string): string {
  return version === LATEST ? name : `${name}:${version}`;
}

export function splitUnitKey(key: string): { name: string; version: string } {
  const i = key.indexOf(':');
  return i < 0 ? { name: key, version: LATEST } : { name: key.slice(0, i), version: key.slice(i + 1) };
}

/** Metric labels of a unit: the function and the version, as separate labels. */
export function unitLabels(key: string): { function: string; version: string } {
  const { name, version } = splitUnitKey(key);
  return { function: name, version };
}

/**
 * Provisioned instances each version needs for the aliases that point to it.
 * An alias's minimum is split by its weights (rounded up, so a 10 % share of
 * 1 still gets one warm instance); aliases to the same version add up.
 */
export function aliasMinimums(aliases: readonly Alias[] | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const add = (v: string, n: number): void => {
    if (n > 0) out.set(v, (out.get(v) ?? 0) + n);
  };
  for (const a of aliases ?? []) {
    if (a.minInstances === 0) continue;
    const [extra, weight = 0] = Object.entries(a.additionalVersionWeights ?? {})[0] ?? [];
    add(a.version, Math.ceil(a.minInstances * (1 - weight)));
    if (extra !== undefined) add(extra, Math.ceil(a.minInstances * weight));
  }
  return out;
}

/**
 * The units of one function: its $LATEST (minimum: its own plus aliases to
 * $LATEST) and each published version (minimum: what aliases ask for only,
 * so a version no alias points to scales to zero).
 */
export function servingUnits(fn: HearthFunction, versions: readonly FunctionVersion[]): ServingUnit[] {
  const name = fn.metadata.name;
  const mins = aliasMinimums(fn.spec.aliases);
  const withMin = (spec: HearthFunction['spec'], min: number): HearthFunction['spec'] => {
    const minInstances = Math.min(min, spec.scaling.maxInstances);
    return minInstances === spec.scaling.minInstances ? spec : { ...spec, scaling: { ...spec.scaling, minInstances } };
  };
  // Aliases and versioning are the function's, not what $LATEST runs: changing them must not restart its instances.
  const { aliases: _aliases, versioning: _versioning, ...runs } = fn.spec;
  const latestSpec = { ...runs, versioning: { publishOnChange: false } };
  const latest: ServingUnit = { ...fn, metadata: { ...fn.metadata, name }, spec: withMin(latestSpec, fn.spec.scaling.minInstances + (mins.get(LATEST) ?? 0)) };
  const units = [latest];
  for (const v of versions) {
    if (v.spec.function !== name) continue;
    const snapshot = v.spec.snapshot;
    units.push({
      apiVersion: fn.apiVersion,
      kind: fn.kind,
      metadata: { name: unitKey(name, v.spec.version), ...(fn.metadata.namespace !== undefined ? { namespace: fn.metadata.namespace } : {}) },
      // Function-wide settings follow the function: reserved concurrency caps all versions together.
      spec: withMin({ ...snapshot, ...(fn.spec.reservedConcurrency !== undefined ? { reservedConcurrency: fn.spec.reservedConcurrency } : {}) }, mins.get(v.spec.version) ?? 0),
    });
  }
  return units;
}

/**
 * The Kubernetes name of a version's objects (FunctionVersion, Deployment,
 * Service): NAME-vN, shortened with a digest of the name when that would not
 * fit in a DNS label.
 */
export function versionObjectName(name: string, version: string): string {
  const suffix = `-v${version}`;
  if (name.length + suffix.length <= 63) return `${name}${suffix}`;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${name.slice(0, 63 - suffix.length - 7).replace(/-+$/, '')}-${digest}${suffix}`;
}
