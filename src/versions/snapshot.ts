// What a published version holds: the function's spec minus what belongs to
// the function as a whole, and a digest of it. Publishing compares digests,
// so publishing an unchanged function returns the version it already has.
import { createHash } from 'node:crypto';
import type { FunctionSpec } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';

/** The spec a version keeps. Aliases, versioning, schedules, reserved concurrency, replicas and tags stay with the function. */
export function snapshotOf(spec: FunctionSpec): FunctionSpec {
  const { aliases: _a, versioning: _v, schedules: _s, reservedConcurrency: _r, replicas: _n, tags: _t, ...kept } = spec;
  return { ...kept, versioning: { publishOnChange: false } };
}

/** JSON with keys in order, so the same spec always gives the same digest (and the store's revisions). */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The digest of a snapshot. `extra` is what else the code depends on that
 * the spec only references (a package's or ConfigMap's bytes), so a changed
 * package behind the same path is a change too.
 */
export function snapshotDigest(snapshot: FunctionSpec, extra = ''): string {
  return createHash('sha256').update(canonical(snapshot)).update('\0').update(extra).digest('hex');
}

/**
 * The number the next version gets: one past the highest ever given, which
 * `counter` remembers even after that version was deleted (Lambda never
 * reuses a number).
 */
export function nextVersionNumber(counter: number, existing: readonly FunctionVersion[]): number {
  return Math.max(counter, ...existing.map((v) => Number(v.spec.version))) + 1;
}

/** The numbers of the published versions: what a qualifier or an alias may name. */
export function versionNumbers(versions: readonly FunctionVersion[]): Set<string> {
  return new Set(versions.map((v) => v.spec.version));
}

/** The newest version, if any. */
export function latestPublished(existing: readonly FunctionVersion[]): FunctionVersion | undefined {
  return [...existing].sort((a, b) => Number(b.spec.version) - Number(a.spec.version))[0];
}

/**
 * Versions past the retention count: the oldest beyond the newest `retain`,
 * except those an alias points to.
 */
export function versionsPastRetention(existing: readonly FunctionVersion[], retain: number | undefined, referenced: ReadonlySet<string>): FunctionVersion[] {
  if (retain === undefined) return [];
  const newestFirst = [...existing].sort((a, b) => Number(b.spec.version) - Number(a.spec.version));
  return newestFirst.slice(retain).filter((v) => !referenced.has(v.spec.version));
}
