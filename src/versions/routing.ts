// Which version runs a call: decided per call from the qualifier the caller
// gave (none, $LATEST, a version number or an alias) and, for an alias with
// an additional version, a uniform draw in [0, 1). Pure: the dispatcher
// draws, this decides.
import { LATEST, VERSION_NUMBER, type Alias, type HearthFunction } from '../api/function.js';

export type Target = { ok: true; version: string; alias?: string } | { ok: false; reason: 'unknown-qualifier' | 'missing-version'; message: string };

/**
 * The version an alias sends a call to. The additional version takes the
 * call when draw < its weight: over draws uniform in [0, 1) that is exactly
 * its share, a weight of 0 never takes one and a weight of 1 takes all.
 */
export function aliasVersion(alias: Pick<Alias, 'version' | 'additionalVersionWeights'>, draw: number): string {
  const [extra, weight] = Object.entries(alias.additionalVersionWeights ?? {})[0] ?? [];
  return extra !== undefined && weight !== undefined && draw < weight ? extra : alias.version;
}

/**
 * Resolves a qualifier against the function and its published version
 * numbers. An alias whose version no longer exists answers as Lambda does for
 * a missing qualifier; the controller and the files loader report such an
 * alias on the Function.
 */
export function resolveTarget(fn: HearthFunction, published: ReadonlySet<string>, qualifier: string | undefined, draw: number): Target {
  if (qualifier === undefined || qualifier === LATEST) return { ok: true, version: LATEST };
  if (VERSION_NUMBER.test(qualifier)) {
    return published.has(qualifier) ? { ok: true, version: qualifier } : { ok: false, reason: 'unknown-qualifier', message: `version ${qualifier} of ${fn.metadata.name} does not exist` };
  }
  const alias = fn.spec.aliases?.find((a) => a.name === qualifier);
  if (alias === undefined) return { ok: false, reason: 'unknown-qualifier', message: `${fn.metadata.name} has no alias ${qualifier}` };
  const version = aliasVersion(alias, draw);
  if (version !== LATEST && !published.has(version)) {
    return { ok: false, reason: 'missing-version', message: `alias ${qualifier} of ${fn.metadata.name} points to version ${version}, which does not exist` };
  }
  return { ok: true, version, alias: qualifier };
}
